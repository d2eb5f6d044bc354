"""``calsync stats``: the booking metrics over the local analytics lake (``.calsync/lake``), run
by DuckDB with the same SQL Athena runs (calsync.analytics.metrics; definitions in docs/analytics.md);
``--stack NAME`` runs the deployed stack's named queries on Athena instead (calsync_dev.analytics.athena).

Tables on the terminal (rich when installed, else plain), ``--json`` for machines, ``--plot DIR``
for PNG charts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calsync.analytics.metrics import NAMES, MetricWindow
from calsync_dev.cli.target import Commands

if TYPE_CHECKING:
    from calsync_dev.analytics.lake import Result

TITLES = {
    "current_bookings": "Bookings (current state)",
    "bookings_per_week": "Bookings per ISO week by event type",
    "rates_by_event_type": "Cancellation, reschedule and no-show rates by event type",
    "rates_by_host": "Cancellation, reschedule and no-show rates by host",
    "lead_time": "Booking lead time (hours, created → start) by event type",
    "bookings_by_utm": "Bookings by UTM source and campaign",
    "routing_forms": "Routing-form submissions and the share that became bookings",
}


def register(commands: Commands) -> None:
    stats = commands.add_parser("stats", help="booking metrics from the local analytics lake (DuckDB)")
    stats.add_argument(
        "--lake",
        type=Path,
        default=local_lake(),
        help="the lake's directory (default: the local stack's, .calsync/lake)",
    )
    stats.add_argument("--since", type=_when, help="bookings starting at or after (ISO date or time, UTC)")
    stats.add_argument("--until", type=_when, help="bookings starting before (ISO date or time, UTC)")
    stats.add_argument("--connection-id", help="one connection (default: every one)")
    stats.add_argument("--as-of", type=_when, help='the "now" a no-show needs the end passed by (default: now)')
    stats.add_argument("--metric", action="append", choices=NAMES, help="only this metric (repeatable)")
    stats.add_argument("--limit", type=int, default=20, help="current_bookings rows shown (0: all)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.add_argument("--plot", type=Path, metavar="DIR", help="also write PNG charts into DIR")
    stats.add_argument("--stack", help="run the named queries on Athena in this deployed stack instead")
    stats.set_defaults(func=_stats)


def local_lake() -> Path:
    """Where the local stack writes its lake (beside its saved state; CALSYNC_LOCAL_STATE moves both),
    read when the parser is built, as a default."""
    from calsync_dev.local.config import LocalConfig, state_file

    return LocalConfig(state_file=state_file()).lake_dir


def _when(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _stats(args: argparse.Namespace) -> int:
    from calsync_dev.analytics.lake import connect, run

    window = MetricWindow(
        as_of=args.as_of or datetime.now(UTC),
        since=args.since,
        until=args.until,
        connection_id=args.connection_id,
    )
    if args.stack:
        from calsync_dev.analytics.athena import AthenaError, from_stack

        try:
            lake = from_stack(args.stack)
            results = [lake.run(name, window, limit=args.limit or None) for name in args.metric or NAMES]
        except AthenaError as exc:
            print(f"calsync stats: {exc}", file=sys.stderr)
            return 1
    else:
        connection = connect(args.lake)
        results = [run(connection, name, window, limit=args.limit or None) for name in args.metric or NAMES]
    if args.json:
        print(json.dumps(as_json(results, window), indent=2, default=_json_value))
    else:
        print_tables(results)
    if args.plot:
        from calsync_dev.analytics.plots import write_plots

        for path in write_plots(results, args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _json_value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# The current state's columns a terminal table shows (--json has them all)
CURRENT_COLUMNS = (
    "invitee_uuid",
    "event_type",
    "host_user",
    "status",
    "start_time",
    "no_show",
    "canceled_by",
    "rescheduled",
)


def _narrow(result: Result) -> Result:
    from calsync_dev.analytics.lake import Result

    if result.name != "current_bookings":
        return result
    keep = [result.columns.index(column) for column in CURRENT_COLUMNS]
    rows = [tuple(row[i] for i in keep) for row in result.rows]
    return Result(result.name, list(CURRENT_COLUMNS), rows, result.total)


def as_json(results: Sequence[Result], window: MetricWindow) -> dict[str, Any]:
    return {
        "window": {
            "since": window.since,
            "until": window.until,
            "connection_id": window.connection_id,
            "as_of": window.as_of,
        },
        "metrics": {
            r.name: {
                "total_rows": r.total,
                "rows": r.as_dicts(),
            }
            for r in results
        },
    }


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith("https://"):
        return value.rstrip("/").rsplit("/", 1)[-1]  # a host's user URI: its uuid
    return str(value)


def print_tables(results: Sequence[Result]) -> None:
    results = [_narrow(result) for result in results]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is optional: plain columns then
        for result in results:
            print(plain_table(result))
        return
    console = Console() if sys.stdout.isatty() else Console(width=160)
    for result in results:
        rows = result.rows
        table = Table(title=_title(result))
        for column in result.columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(value) for value in row))
        console.print(table)


def _title(result: Result) -> str:
    title = TITLES[result.name]
    return f"{title} (first {len(result.rows)} of {result.total})" if len(result.rows) < result.total else title


def plain_table(result: Result) -> str:
    rows = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(result.columns)]
    lines = [_title(result), "  ".join(c.ljust(w) for c, w in zip(result.columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([*lines, ""])
