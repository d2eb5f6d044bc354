"""``calsync events render``: sample events for ``sam local invoke``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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


def _render(args: argparse.Namespace) -> int:
    body = Path(args.file).read_bytes()
    event = signed_api_gateway_event(body, args.key, connection_id=args.connection_id, base64_encoded=args.base64)
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
