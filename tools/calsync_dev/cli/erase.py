"""``calsync erase``: remove one person from every calsync store (docs/erasure.md)."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from calsync.erasure.erase import ErasureReport, ErasureStores, erase, one_per_organization
from calsync.errors import DependencyUnavailable
from calsync_dev.cli.target import Commands, Target, add_stack_option, target_from
from calsync_dev.template import queue_logical_id

if TYPE_CHECKING:
    from calsync.calendly.client import CalendlyClient


def register(commands: Commands) -> None:
    command = commands.add_parser(
        "erase", help="remove a person (by email address) from every calsync store; leaves a tombstone"
    )
    command.add_argument("--email", help="the person's address (matched case-insensitively)")
    command.add_argument(
        "--connection-id",
        help="erase from this connection's data only (a tenant's request); other connections keep theirs",
    )
    command.add_argument("--calendly", action="store_true", help="also ask Calendly to delete the invitee's data")
    command.add_argument("--dry-run", action="store_true", help="count what would be removed; change nothing")
    command.add_argument("--list", action="store_true", help="list the audit records of past erasures")
    add_stack_option(command)
    command.set_defaults(func=_erase)


def queues(target: Target) -> dict[str, str]:
    """Every queue whose messages may carry an address: intake queues, their DLQs, the consumers'."""
    found = {queue_logical_id(kind): url for kind, url in target.queues.items()}
    found |= {f"{queue_logical_id(kind).removesuffix('Queue')}DLQ": url for kind, url in target.dlqs.items()}
    return found | target.lifecycle_queues


def principal(target: Target) -> str:
    """Who is erasing: the caller's ARN (STS), or ``local`` on the local stack."""
    if target.endpoint_url:
        return "local"
    arn: str = target.client("sts").get_caller_identity()["Arn"]
    return arn


def services(target: Target, *, wait_seconds: int | None = None) -> ErasureStores:
    """The target's stores, built by the composition root (``wait_seconds``: the queues' long
    poll; default 0 on an emulator, 1 on AWS)."""
    from calsync import compose

    return compose.erasure(
        target.table,
        target.erasure_key_secret,
        queues(target),
        bodies_bucket=target.bodies_bucket,
        dynamodb=target.client("dynamodb"),
        sqs=target.client("sqs"),
        secretsmanager=target.client("secretsmanager"),
        s3=target.bodies_client(),
        wait_seconds=(0 if target.endpoint_url else 1) if wait_seconds is None else wait_seconds,
    )


def calendly_clients(
    target: Target, stack: ExitStack, connection_id: str | None = None
) -> list[tuple[str, CalendlyClient]]:
    """One client per connected organization (its stored token); with ``connection_id``, that
    connection's only."""
    connections = target.connections()
    every = [c for c in connections.registry.all() if connection_id in (None, c.connection_id)]
    return [
        (connection.connection_id, stack.enter_context(connections.calendly_for(connection)))
        for connection in one_per_organization(every)
    ]


def print_report(report: ErasureReport, email: str) -> None:
    verb = "would remove" if report.dry_run else "removed"
    where = f" from connection {report.connection_id}'s data" if report.connection_id else ""
    print(f"{'dry run: ' if report.dry_run else ''}{email}: {verb} {sum(report.counts.values())} in all{where}")
    for store, count in sorted(report.counts.items()):
        print(f"  {store:<28} {count}")
    for connection_id, outcome in sorted(report.calendly.items()):
        print(f"  calendly ({connection_id}): {outcome}")
    if not report.dry_run:
        print(
            f"tombstone {report.address_hash[:16]}… at {report.erased_at.isoformat()}; audit record {report.erasure_id}"
        )
        print(
            "reminder: the EventBridge archive keeps lifecycle events about this person for "
            f"EventArchiveRetentionDays (default 30): do not replay archived events from before {report.erased_at.isoformat()}"
        )


def print_audit(target: Target) -> None:
    records = services(target).audit.records()
    for record in records:
        counts = ", ".join(f"{k} {v}" for k, v in sorted((record.get("counts") or {}).items())) or "nothing"
        calendly = "; ".join(f"{k}: {v}" for k, v in sorted((record.get("calendly") or {}).items()))
        print(
            f"{record['erased_at']}  {record['erasure_id']}  {record.get('scope') or 'global'}  by {record.get('principal')}  "
            f"hash {str(record.get('address_hash'))[:16]}…  {counts}" + (f"  calendly: {calendly}" if calendly else "")
        )
    print(f"{len(records)} erasure(s)")


def _erase(args: argparse.Namespace) -> int:
    target = target_from(args)
    if args.list:
        print_audit(target)
        return 0
    email = (args.email or "").strip()
    if "@" not in email:
        print("erase needs --email ADDRESS (or --list)", file=sys.stderr)
        return 2
    if not target.erasure_key_secret:
        print("this stack has no erasure key (ErasureKeySecretName): deploy this version first", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        scope = args.connection_id or None
        calendly = calendly_clients(target, stack, scope) if args.calendly and not args.dry_run else []
        if args.calendly and not calendly and not args.dry_run:
            print("--calendly: no connection to ask Calendly through", file=sys.stderr)
        try:
            report = erase(
                email,
                services(target),
                principal=principal(target),
                dry_run=args.dry_run,
                calendly=calendly,
                connection_id=scope,
            )
        except DependencyUnavailable as exc:
            # The message names the AWS operation only; the tombstone is already in place.
            print(f"erase stopped: {exc}; run the same command again to finish", file=sys.stderr)
            return 1
    print_report(report, email)
    return 0
