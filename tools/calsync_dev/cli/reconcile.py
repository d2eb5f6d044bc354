"""``calsync reconcile`` (one reconcile now, with a progress bar, then its report; the use case:
``calsync.reconcile.manual``), its alias ``calsync backfill`` (a range: without ``--since``,
from ``ReconcileRecentDays`` ago) and ``calsync report`` (the latest completeness reports)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.reconcile.manual import MANUAL, Range, reconcile
from calsync_dev.cli.bookings import parse_time
from calsync_dev.cli.progress import add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, add_stack_option, target_from

__all__ = ["MANUAL", "format_report", "register"]
BACKFILL = "backfill"  # the alias: what was once its own command is a reconcile over a range


def register(commands: Commands) -> None:
    run = commands.add_parser(
        "reconcile",
        aliases=[BACKFILL],
        help="compare a connection with Calendly's API now and repair what differs (alias: backfill, over a range)",
    )
    run.add_argument("--connection-id", required=True)
    run.add_argument(
        "--since",
        help="meeting starts (and routing-form submissions) from (ISO 8601; default: the scheduled windows, "
        "resumed; for backfill: ReconcileRecentDays ago)",
    )
    run.add_argument("--until", help="meeting starts up to (ISO 8601; default with --since: now + the upcoming window)")
    run.add_argument("--calls", type=int, help="API call budget (default: the function's, 250)")
    run.add_argument("--seconds", type=float, default=900.0, help="time budget (default: 900)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    add_stack_option(run)
    add_quiet_option(run)
    run.set_defaults(func=_reconcile)

    report = commands.add_parser("report", help="the latest completeness reports (one per connection)")
    report.add_argument("--connection-id", help="only this connection")
    report.add_argument("--limit", type=int, default=1, help="reports per connection (newest first)")
    report.add_argument("--json", action="store_true")
    add_stack_option(report)
    report.set_defaults(func=_report)


def clock() -> datetime:
    """Now (the range's defaults and the submissions window's end; tests set their own)."""
    return datetime.now(UTC)


def span(args: argparse.Namespace, now: datetime, recent_days: int) -> Range | None:
    """The range asked for (``None``: the scheduled windows); ``backfill`` always reconciles a
    range, from ``recent_days`` ago unless ``--since`` says otherwise."""
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    if since is None and getattr(args, "command", None) == BACKFILL:
        since = now - timedelta(days=recent_days)
    return Range(since, until) if since is not None or until is not None else None


def _reconcile(args: argparse.Namespace) -> int:
    from calsync.calendly.errors import CalendlyError
    from calsync.reconcile.budget import Budget
    from calsync.reconcile.report import Report

    reconciling = target_from(args).reconciling()
    settings = reconciling.settings
    connection = reconciling.connections.registry.get(args.connection_id)
    if connection is None:
        print(f"no connection '{args.connection_id}' (see `calsync connections`)", file=sys.stderr)
        return 2
    now = clock()
    budget = Budget.for_run(args.calls or settings.reconcile_api_calls, args.seconds)
    progress = progress_for(args, None, "reconcile")

    def advance(report: Report) -> None:
        progress.set_done(report.counts["events_seen"])
        progress.note(calls=budget.calls, repaired=report.counts["repaired"])

    reconciler, client = reconciling.reconciler_for(connection, budget, on_event=advance)
    try:
        with client:
            report = reconcile(
                reconciler,
                reconciling.state,
                connection_id=connection.connection_id,
                organization=connection.organization,
                now=now,
                upcoming_days=settings.reconcile_upcoming_days,
                recent_days=settings.reconcile_recent_days,
                span=span(args, now, settings.reconcile_recent_days),
            )
    except CalendlyError as exc:  # e.g. the token itself was refused
        print(f"Calendly refused: {exc.title} ({exc.status})", file=sys.stderr)
        return 1
    finally:
        progress.close()
    summary = report.as_dict()
    print(json.dumps(summary, indent=2) if args.json else format_report(summary))
    return 0 if report.complete else 3


def _report(args: argparse.Namespace) -> int:
    reconciling = target_from(args).reconciling()
    ids = (
        [args.connection_id]
        if args.connection_id
        else sorted(c.connection_id for c in reconciling.connections.registry.all())
    )
    reports = [r for cid in ids for r in reconciling.state.reports(cid, limit=args.limit)]
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
    elif not reports:
        print("no reconcile reports yet")
    else:
        print("\n\n".join(format_report(r) for r in reports))
    return 0


def format_report(report: dict[str, Any]) -> str:
    """A report as an operator reads it."""
    status = "complete" if report["complete"] else f"INCOMPLETE ({report.get('stopped')})"
    lines = [
        f"{report['connection_id']}  {report['started_at']}  {report['reason']}  {status}",
        f"  events {report['events_seen']}, invitees {report['invitees_seen']}, "
        f"submissions {report.get('submissions_seen', 0)}: "
        f"missing {report['missing']}, stale {report['stale']}, repaired {report['repaired']}, "
        f"newer stored {report['newer']}, erased {report['erased']}, unordered {report['unordered']}, "
        f"unreadable {report.get('unreadable', 0)}",
        f"  {report['api_calls']} API calls in {float(report['duration_seconds']):.1f} s",
    ]
    for window in report["windows"]:
        resumed = f", resumed from {window['resumed_from']}" if window.get("resumed_from") else ""
        resumes = f", next run from {window['next_from']}" if window.get("next_from") else ""
        lines.append(
            f"  {window['name']:<11} {window['start']} – {window['end']}: {window['coverage']}{resumed}{resumes}"
        )
    cursor = report.get("cursor")
    if cursor and not any("next_from" in w for w in report["windows"]):  # stored before each window had its own
        lines.append(f"  next run resumes {cursor['window']} from {cursor['after']}")
    return "\n".join(lines)
