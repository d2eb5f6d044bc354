"""``calsync replay``: re-enqueue archived (or quarantined) deliveries through the queues
(the use case: ``calsync.replay.replay``)."""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from calsync.replay.replay import Selection, outcome, replay, select
from calsync_dev.cli.bookings import parse_time
from calsync_dev.cli.progress import add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, Target, add_stack_option, target_from

if TYPE_CHECKING:
    from calsync.replay.replay import Replaying


def register(commands: Commands) -> None:
    command = commands.add_parser("replay", help="re-enqueue archived deliveries (version-aware: only changes apply)")
    command.add_argument("--since", required=True, help="received from (ISO 8601)")
    command.add_argument("--until", help="received up to (ISO 8601; default: now)")
    command.add_argument("--connection-id")
    command.add_argument("--event", help="only this webhook event, e.g. invitee.created")
    command.add_argument("--quarantined", action="store_true", help="the quarantined deliveries (after a fix)")
    command.add_argument("--dry-run", action="store_true", help="say what would be replayed, enqueue nothing")
    command.add_argument("--wait", type=float, default=120.0, help="seconds to wait for processing (0: don't)")
    add_stack_option(command)
    add_quiet_option(command)
    command.set_defaults(func=_replay)


def services(target: Target) -> Replaying:
    """The target's archive and intake queues, built by the composition root."""
    from calsync import compose

    return compose.replaying(
        target.table,
        target.queues,
        bodies_bucket=target.bodies_bucket,
        dynamodb=target.client("dynamodb"),
        sqs=target.client("sqs"),
        s3=target.bodies_client(),
    )


def _replay(args: argparse.Namespace) -> int:
    replaying = services(target_from(args))
    until = parse_time(args.until) if args.until else datetime.now(UTC) + timedelta(seconds=1)
    selection = Selection(parse_time(args.since), until, args.connection_id, args.event, args.quarantined)
    items = select(replaying.archive, selection)
    kinds = dict(sorted(Counter(item.event or "?" for item in items).items()))
    what = "quarantined" if args.quarantined else "archived"
    print(f"found {len(items)} {what} deliveries {kinds}")
    if args.dry_run or not items:
        return 0
    progress = progress_for(args, len(items), "enqueue")
    replay_id, enqueued = replay(items, replaying.queue, advance=progress.advance, bodies=replaying.bodies)
    print(f"enqueued {enqueued} (replay {replay_id})")
    counts = outcome(replaying.archive, replay_id, enqueued, wait_seconds=args.wait)
    done = counts.total()
    print(
        f"found {len(items)}, enqueued {enqueued}, applied {counts['applied']}, unchanged {counts['unchanged']}, "
        f"quarantined {counts['quarantined']}"
        + (f", refused (erased person) {counts['erased']}" if counts["erased"] else "")
        + ("" if done >= enqueued else f", still processing {enqueued - done}")
    )
    return 0 if done >= enqueued or not args.wait else 1
