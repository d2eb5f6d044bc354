"""``calsync connect``, ``calsync disconnect`` and ``calsync connections``: Calendly organizations connected to calsync
(re-delivering one's bookings after a gap is ``calsync reconcile``, alias ``backfill``)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime

from calsync.connections.records import Connection
from calsync_dev.cli.target import Commands, add_stack_option, target_from


def register(commands: Commands) -> None:
    connect = commands.add_parser("connect", help="connect a Calendly organization (OAuth link, or a PAT)")
    connect.add_argument("kind", choices=["oauth", "pat"])
    connect.add_argument("--connection-id", required=True, help="your name for it: letters, digits, - and _")
    connect.add_argument("--redirect-uri", help="OAuth redirect (default: this stack's /oauth/callback)")
    connect.add_argument(
        "--return-to",
        help="oauth: after connecting, send the browser to this https URL with ?connection_id=…&status=…&reason=…",
    )
    add_stack_option(connect)
    connect.set_defaults(func=_connect)

    disconnect = commands.add_parser(
        "disconnect",
        help="disconnect a connection (revoke its token, delete its subscription and secrets; keep it as removed)",
    )
    disconnect.add_argument("connection_id")
    disconnect.add_argument("--erase-data", action="store_true", help="also delete its stored bookings and reports")
    add_stack_option(disconnect)
    disconnect.set_defaults(func=_disconnect)

    connections = commands.add_parser("connections", help="list connections and their token / subscription state")
    connections.add_argument("--json", action="store_true")
    add_stack_option(connections)
    connections.set_defaults(func=_connections)


def _connect(args: argparse.Namespace) -> int:
    from calsync.connections.connect import ConnectError, begin_oauth

    target = target_from(args)
    services = target.connections()
    try:
        if args.kind == "oauth":
            redirect = args.redirect_uri or f"{target.api_base}/oauth/callback"
            # the operator's own link: return_to may be any https URL (the API's callers are held
            # to the stack's ConnectReturnOrigins), and re-connecting an active connection is allowed
            started = begin_oauth(
                services.registry,
                services.oauth_app,
                connection_id=args.connection_id,
                redirect_uri=redirect,
                now=time.time(),
                authorize_url=target.authorize_url,
                return_to=args.return_to,
            )
            print("Open this link (valid 10 minutes, once) and approve calsync in Calendly:")
            print(started.authorize_url)
            return 0
        pat = os.environ.get("CALENDLY_PAT") or getpass.getpass("Calendly personal access token: ")
        connection = services.connector().connect_pat(
            connection_id=args.connection_id,
            personal_access_token=pat.strip(),
            calendly_for=services.calendly_with_token,
            api_base=target.api_base,
        )
    except ConnectError as exc:
        print(f"not connected: {exc} ({exc.reason})", file=sys.stderr)
        return 1
    print(f"connected '{connection.connection_id}' ({connection.organization}); webhooks → {connection.callback_url}")
    return 0


def _disconnect(args: argparse.Namespace) -> int:
    """The same use case as ``DELETE /v1/connections/{id}``: 0 done, 1 refused, 2 steps left."""
    from calsync.connections.disconnect import DisconnectError

    try:
        done = target_from(args).disconnector().disconnect(args.connection_id, erase_data=args.erase_data)
    except DisconnectError as exc:
        print(f"not disconnected: {exc} ({exc.reason})", file=sys.stderr)
        return 1
    for step, outcome in done.steps.items():
        print(f"{step:<20} {outcome['outcome']:<15} {outcome['detail']}")
    if done.remaining:
        print(
            f"'{done.connection_id}' is removed, but {', '.join(done.remaining)} could not be finished: "
            "run the same command again later",
            file=sys.stderr,
        )
        return 2
    print(f"disconnected '{done.connection_id}' (removed at {done.removed_at}); its webhooks now get 410 Gone")
    return 0


def _connections(args: argparse.Namespace) -> int:
    rows = list(target_from(args).connections().registry.all())
    if args.json:
        json.dump([asdict(c) for c in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'connection':<16} {'kind':<6} {'status':<16} {'token expires (UTC)':<21} subscription")
    for c in rows:
        expires = (
            datetime.fromtimestamp(c.token_expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%S") if c.token_expires_at else "-"
        )
        status = c.status + (f" ({c.status_reason})" if c.status_reason else "")
        print(f"{c.connection_id:<16} {c.kind:<6} {status:<16} {expires:<21} {c.subscription_uri or '-'}")
        for note in _notes(c):
            print(f"{'':<16} ! {note}")
    print(f"{len(rows)} connection(s)")
    return 0


def _notes(connection: Connection) -> list[str]:
    """What an operator should know beyond the status: the scheduled jobs' last failures."""
    notes = []
    if connection.refresh_unconfirmed:
        notes.append(
            f"refresh unconfirmed since {connection.refresh_unconfirmed.get('at')}: the answer was lost; "
            "the next run re-sends once (reauth_required/refresh_response_lost if Calendly had used it)"
        )
    for job, error in (("refresh", connection.last_refresh_error), ("check", connection.last_check_error)):
        if error:
            notes.append(f"last {job} failed {error.get('at')}: {error.get('reason')} ({error.get('detail')})")
    gap = connection.gap_reconcile
    if gap:
        when = (
            f"requested {gap.get('requested_at')}"
            if gap.get("requested_at")
            else "not sent yet (the next run sends it)"
        )
        notes.append(f"gap reconcile from {gap.get('since')} {when}: {gap.get('reason')}")
    events = connection.subscription_events or {}
    if events.get("refused_events"):
        notes.append(f"Calendly refused (plan): {', '.join(events['refused_events'])}; asked again daily")
    if events.get("missing_scopes"):
        notes.append(f"token lacks {', '.join(events['missing_scopes'])}: their events are not subscribed")
    return notes
