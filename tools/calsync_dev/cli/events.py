"""``calsync events``: sample events for ``sam local invoke`` (``render``), and the local
stack's lifecycle events (``tail``, ``fire-due``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from calsync_dev.cli.target import Commands, local_signing_key
from calsync_dev.events import signed_api_gateway_event


def register(commands: Commands) -> None:
    events_cmd = commands.add_parser("events", help="sample events for sam local invoke")
    events_sub = events_cmd.add_subparsers(dest="events_command", required=True)
    render = events_sub.add_parser("render", help="print a freshly signed API Gateway event for a webhook body")
    render.add_argument("file", help="webhook body, e.g. events/webhooks/invitee_created.json")
    render.add_argument("--key", default=local_signing_key(), help="signing key (default: the local stack's)")
    render.add_argument("--connection-id", default="local")
    render.add_argument("--base64", action="store_true", help="base64-encode the body as API Gateway may")
    render.set_defaults(func=_render)
    tail = events_sub.add_parser("tail", help="print the local stack's lifecycle events (events.jsonl)")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    tail.add_argument("--json", action="store_true", help="one JSON object per line, as stored")
    tail.set_defaults(func=_tail)
    fire = events_sub.add_parser("fire-due", help="fire the local stack's reminders due by a time")
    fire.add_argument("--at", help="ISO 8601 time (default: now), e.g. 2026-12-01T09:00:00Z")
    fire.set_defaults(func=_fire_due)


def _render(args: argparse.Namespace) -> int:
    body = Path(args.file).read_bytes()
    event = signed_api_gateway_event(body, args.key, connection_id=args.connection_id, base64_encoded=args.base64)
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def line(event: dict[str, Any]) -> str:
    """One readable line for a lifecycle event."""
    detail = event.get("detail") or {}
    booking = detail.get("booking") or {}
    what = booking.get("event_name") or (detail.get("submission") or {}).get("uri") or "-"
    return (
        f"{event.get('time', '-'):<21} {event.get('detail-type', '-'):<24} {str(what)[:28]:<28} "
        f"{booking.get('start_time') or '-':<28} {booking.get('email') or '-'}  {detail.get('event_id', '')}"
    )


def _lines(path: Path, follow: bool) -> Iterator[str]:
    position = 0
    while True:
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                handle.seek(position)
                while text := handle.readline():
                    if not text.endswith("\n"):
                        break
                    position = handle.tell()
                    yield text.rstrip("\n")
        if not follow:
            return
        time.sleep(0.5)


def _tail(args: argparse.Namespace) -> int:
    from calsync_dev.local.config import LocalConfig

    path = LocalConfig.from_env().events_file
    if not path.exists() and not args.follow:
        print(f"no events yet ({path}); run `make run` and send a webhook", file=sys.stderr)
        return 0
    try:
        for text in _lines(path, args.follow):
            print(text if args.json else line(json.loads(text)), flush=True)
    except KeyboardInterrupt:
        return 0
    return 0


def _fire_due(args: argparse.Namespace) -> int:
    from calsync_dev.local.config import LocalConfig

    query = f"?at={urllib.parse.quote(args.at)}" if args.at else ""
    url = f"{LocalConfig.from_env().api_url}/_local/reminders/fire-due{query}"
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - the local stack
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        answer = json.loads(response.read())
    print(f"fired {answer['fired']} reminder(s) due by {answer['at']}")
    return 0
