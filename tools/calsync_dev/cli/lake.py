"""``calsync lake backfill``: write lake records for what the table stored before the lake existed
(docs/analytics.md, "Backfill"). The local stack's lake by default (``.calsync/lake``); with
``--stack NAME`` the deployed stack's lake bucket (its ``LakeBucketName`` output). Idempotent:
each scan segment's files have fixed names, so running it again replaces them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calsync.errors import DependencyUnavailable
from calsync_dev.cli.progress import add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, Target, add_stack_option, target_from

MAX_SEGMENTS = 1000
BUCKET_OUTPUT = "LakeBucketName"


def register(commands: Commands) -> None:
    lake = commands.add_parser("lake", help="the analytics lake: backfill it from the table")
    actions = lake.add_subparsers(dest="lake_command", required=True)
    backfill = actions.add_parser(
        "backfill",
        help="write lake records for the bookings stored before the lake existed (idempotent)",
        description=__doc__,
    )
    backfill.add_argument(
        "--segments",
        type=int,
        help="scan segments: one file per segment and date, fixed names; keep the same number on re-runs (default 8)",
    )
    backfill.add_argument("--lake", type=Path, help="the local lake's directory (default: the local stack's)")
    backfill.add_argument("--prefix", help="the key prefix in the lake bucket (default lifecycle_events/)")
    backfill.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_stack_option(backfill)
    add_quiet_option(backfill)
    backfill.set_defaults(func=_backfill)


def lake_bucket(target: Target, stack_name: str) -> str | None:
    """The deployed stack's lake bucket (its ``LakeBucketName`` output; none with Analytics off)."""
    stacks = target.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return outputs.get(BUCKET_OUTPUT)


def _backfill(args: argparse.Namespace) -> int:
    from calsync import compose
    from calsync_dev.analytics.backfill import DEFAULT_SEGMENTS, LAKE_PREFIX, BucketLake, LocalLake, Sink, backfill
    from calsync_dev.cli.stats import local_lake

    segments = args.segments or DEFAULT_SEGMENTS
    if not 1 <= segments <= MAX_SEGMENTS:
        print(f"--segments must be between 1 and {MAX_SEGMENTS}", file=sys.stderr)
        return 2
    target = target_from(args)
    sink: Sink
    if args.stack:
        bucket = lake_bucket(target, args.stack)
        if bucket is None:
            print(f"stack {args.stack} has no {BUCKET_OUTPUT} output (deployed with Analytics=off?)", file=sys.stderr)
            return 2
        sink, where = BucketLake(target.client("s3"), bucket, args.prefix or LAKE_PREFIX), f"s3://{bucket}/"
    else:
        directory = args.lake or local_lake()
        sink, where = LocalLake(directory), str(directory)
    scan = compose.stored_items(target.table, dynamodb=target.client("dynamodb"))
    try:
        progress = progress_for(args, scan.approximate_count() or None, "lake backfill")
        summary = backfill(scan, sink, progress, segments=segments)
        progress.close()
    except DependencyUnavailable as exc:
        print(f"lake backfill stopped: {exc} (run it again: it rewrites the same files)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**vars(summary), "lake": where}))
    else:
        print(
            f"lake backfill: {summary.scanned} items scanned, {summary.records} records in {summary.files} files"
            f" ({summary.segments} segments) → {where}"
        )
    return 0
