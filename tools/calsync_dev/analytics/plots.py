"""``calsync stats --plot DIR``: PNG charts of bookings per week by event type and of the three
rates by event type (matplotlib, no display needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from calsync_dev.analytics.lake import Result


def write_plots(results: Sequence[Result], directory: Path) -> list[Path]:
    """The charts the results allow (a metric left out makes no chart); the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    directory.mkdir(parents=True, exist_ok=True)
    by_name = {result.name: result for result in results}
    written = []
    if "bookings_per_week" in by_name:
        written.append(_weekly(by_name["bookings_per_week"], directory / "bookings_per_week.png"))
    if "rates_by_event_type" in by_name:
        written.append(_rates(by_name["rates_by_event_type"], directory / "rates_by_event_type.png"))
    return written


def _weekly(result: Result, path: Path) -> Path:
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for row in result.as_dicts():
        series[str(row["event_type"])].append((row["week"], int(row["bookings"])))
    figure, axes = plt.subplots(figsize=(9, 5))
    for event_type, points in sorted(series.items()):
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=event_type)
    axes.set_title("Bookings per ISO week by event type")
    axes.set_xlabel("week (Monday)")
    axes.set_ylabel("bookings")
    if series:
        axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _rates(result: Result, path: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = result.as_dicts()
    names = [str(row["event_type"]) for row in rows]
    rates = ("cancellation_rate", "reschedule_rate", "no_show_rate")
    figure, axes = plt.subplots(figsize=(9, 5))
    width = 0.8 / len(rates)
    for offset, rate in enumerate(rates):
        xs = [i + offset * width for i in range(len(rows))]
        axes.bar(xs, [float(row[rate] or 0.0) for row in rows], width, label=rate.replace("_", " "))
    axes.set_xticks([i + width for i in range(len(rows))], names)
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of bookings")
    axes.set_title("Cancellation, reschedule and no-show rates by event type")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
