"""``calsync migrate``: run the data migrations an upgrade needs (docs/operate.md, "Migrations").

Without ``--step`` it runs the pending steps (those not recorded as completed) in order;
``--step NAME`` runs that one whether recorded or not; ``--list`` shows each step and when it
completed. Every step is idempotent: after a crash or a failure, run the same command again (it
only writes what is still to do; there is no position to resume from).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from calsync.errors import DependencyUnavailable
from calsync.migrate.steps import STEPS, MigrationStores, Options, StepReport, chosen, migrate
from calsync_dev.cli.progress import Progress, add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, Target, add_stack_option, target_from

MAX_SEGMENTS = 64


def register(commands: Commands) -> None:
    command = commands.add_parser(
        "migrate", help="run the pending data migrations after an upgrade (idempotent; --dry-run counts)"
    )
    command.add_argument(
        "--step",
        action="append",
        choices=[step.name for step in STEPS],
        help="run this step (even if completed before); repeatable. Default: every pending step",
    )
    command.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    command.add_argument(
        "--segments", type=int, default=1, help=f"parallel scan segments (1–{MAX_SEGMENTS}, default 1)"
    )
    command.add_argument("--list", action="store_true", help="list the steps and when each completed")
    command.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_stack_option(command)
    add_quiet_option(command)
    command.set_defaults(func=_migrate)


def clock() -> datetime:
    """When a step completed (tests set their own)."""
    return datetime.now(UTC)


def services(target: Target) -> MigrationStores:
    from calsync import compose

    return compose.migrations(target.table, dynamodb=target.client("dynamodb"))


def format_report(report: StepReport) -> str:
    counts = report.counts
    verb = "would update" if report.dry_run else "updated"
    figures = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items() if name != "updated")
    done = "dry run" if report.dry_run else f"completed {report.completed_at}"
    return f"{report.step}: {verb} {counts.get('updated', 0)}; {figures} ({done})"


def _list(stores: MigrationStores, as_json: bool) -> int:
    completed = stores.log.completed()
    rows = [{"step": s.name, "completed_at": completed.get(s.name), "summary": s.summary} for s in STEPS]
    if as_json:
        print(json.dumps(rows, indent=2))
    for row in [] if as_json else rows:
        print(f"{row['step']:<22} {row['completed_at'] or 'pending':<28} {row['summary']}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    if not 1 <= args.segments <= MAX_SEGMENTS:
        print(f"--segments must be between 1 and {MAX_SEGMENTS}", file=sys.stderr)
        return 2
    stores = services(target_from(args))
    if args.list:
        return _list(stores, args.json)
    steps = chosen(stores.log, args.step or ())  # argparse's choices refused an unknown name already
    bars: dict[str, Progress] = {}

    def progress(step: str, counts: Mapping[str, int]) -> None:
        bar = bars.get(step) or bars.setdefault(step, progress_for(args, None, step))
        bar.set_done(counts.get("scanned", 0))
        bar.note(**{k: v for k, v in counts.items() if k != "scanned" and v})

    try:
        reports = migrate(
            stores,
            steps,
            options=Options(segments=args.segments, dry_run=args.dry_run, on_progress=progress),
            now=clock,
        )
    except DependencyUnavailable as exc:  # the message names the AWS operation only
        print(
            f"migrate stopped: {exc}; run the same command again to finish (it only writes what is left)",
            file=sys.stderr,
        )
        return 1
    finally:
        for bar in bars.values():
            bar.close()
    summary = {"dry_run": args.dry_run, "steps": [r.as_dict() for r in reports]}
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not reports:
        print("nothing to migrate: every step has completed (see --list; --step NAME runs one again)")
    else:
        print("\n".join(format_report(r) for r in reports))
    return 0
