"""``calsync replay``: re-enqueue archived (or quarantined) deliveries through the queues."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from calsync_dev.cli.bookings import parse_time
from calsync_dev.cli.progress import add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, add_stack_option, target_from
from calsync_dev.replay import Selection, replay, select


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


def _replay(args: argparse.Namespace) -> int:
    target = target_from(args)
    repo = target.bookings()
    until = parse_time(args.until) if args.until else datetime.now(UTC) + timedelta(seconds=1)
    selection = Selection(parse_time(args.since), until, args.connection_id, args.event, args.quarantined)
    items = select(repo, selection)
    kinds = dict(sorted(Counter(item.event or "?" for item in items).items()))
    what = "quarantined" if args.quarantined else "archived"
    print(f"found {len(items)} {what} deliveries {kinds}")
    if args.dry_run or not items:
        return 0
    progress = progress_for(args, len(items), "enqueue")
    replay_id, enqueued = replay(items, target.delivery_queue(), advance=progress.advance, bodies=target.bodies())
    print(f"enqueued {enqueued} (replay {replay_id})")
    counts = repo.replay_counts(replay_id)
    deadline = time.monotonic() + args.wait
    while sum(counts.values()) < enqueued and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = repo.replay_counts(replay_id)
    print(
        f"found {len(items)}, enqueued {enqueued}, applied {counts['applied']}, unchanged {counts['unchanged']}, "
        f"quarantined {counts['quarantined']}"
        + (f", refused (erased person) {counts['erased']}" if counts["erased"] else "")
        + ("" if sum(counts.values()) >= enqueued else f", still processing {enqueued - sum(counts.values())}")
    )
    return 0 if sum(counts.values()) >= enqueued or not args.wait else 1
