"""``calsync``: the commands a person runs by hand.

    calsync local                      run the whole stack on this machine (= make run)
    calsync send FILE...               sign webhook bodies and POST them (local stack by default)
    calsync load --count 1000          concurrent signed deliveries; prints deliveries/s
    calsync bookings [--email ...]     list stored bookings
    calsync dlq [list|redrive]         show or redrive dead-lettered deliveries
    calsync events render FILE         a freshly signed API Gateway event for sam local invoke
    calsync events tail [--follow]     the local stack's lifecycle events
    calsync events fire-due [--at T]   fire the local stack's reminders due by T
    calsync replay --since T           re-enqueue archived deliveries (version-aware)
    calsync reconcile --connection-id  compare with Calendly's API now, repair what differs (--since/--until: a range)
    calsync backfill --connection-id   the same over a range (an alias of reconcile)
    calsync report                     the latest completeness reports
    calsync erase --email ADDRESS      remove a person from every store (--dry-run, --calendly, --list)
    calsync disconnect ID              revoke, unsubscribe, delete its secrets; keep it removed (--erase-data)
    calsync migrate                    after an upgrade: run the pending data migrations (--dry-run, --step, --list)
    calsync deploy-check               before a deploy: adopt the secrets a deleted stack of the stage kept
    calsync book --connection-id ID    book in Calendly through calsync (--event-type, --start, --name, --email, --timezone)
    calsync cancel --connection-id ID  cancel a booking (INVITEE_UUID, --reason)
    calsync no-show --connection-id ID mark a booking's no-show (INVITEE_UUID; --clear to clear it)
    calsync mcp                        an MCP server over stdio for assistants (read-only, signed /v1 API; --allow-actions)
    calsync stats                      booking metrics from the local analytics lake (--json, --plot DIR)
    calsync lake backfill              lake records for the bookings stored before the lake existed

Against the local stack by default; ``--stack NAME`` targets a deployed stack instead
(AWS credentials from the usual places; queue and table names from its Outputs).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from calsync_dev.cli import (
    actions,
    assistant,
    bookings,
    connections,
    deploy_check,
    dlq,
    erase,
    events,
    lake,
    local,
    migrate,
    reconcile,
    replay,
    send,
    stats,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calsync",
        description="calsync developer and operator commands",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's command list, as written
    )
    commands = parser.add_subparsers(dest="command", required=True)
    # the order `calsync --help` lists them in
    for group in (
        local,
        send,
        bookings,
        dlq,
        replay,
        erase,
        connections,
        actions,
        reconcile,
        events,
        migrate,
        deploy_check,
        assistant,
        stats,
        lake,
    ):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
