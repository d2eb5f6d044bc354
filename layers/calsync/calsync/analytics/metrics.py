"""The metrics: one SQL file each (``sql/<name>.sql``), run as Athena named queries in AWS and by
DuckDB locally, unchanged. Each reads the table ``lifecycle_events`` (the lake's records, see
``calsync.analytics.record``) and takes the same four positional parameters (``?``): ``since``,
``until``, ``connection_id``, ``as_of``. Definitions: docs/analytics.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

TABLE = "lifecycle_events"

NAMES = (
    "current_bookings",
    "bookings_per_week",
    "rates_by_event_type",
    "rates_by_host",
    "lead_time",
    "bookings_by_utm",
    "routing_forms",
)


def sql(name: str) -> str:
    """The SQL text of the metric ``name`` (one of ``NAMES``)."""
    if name not in NAMES:
        raise KeyError(name)
    return resources.files("calsync.analytics").joinpath("sql", f"{name}.sql").read_text()


@dataclass(frozen=True, slots=True)
class MetricWindow:
    """What the metrics are asked about: bookings starting in [since, until) (None: open), of one
    connection (None: every one), and ``as_of``, the time a booking's end has passed by."""

    as_of: datetime
    since: datetime | None = None
    until: datetime | None = None
    connection_id: str | None = None

    def parameters(self) -> list[str | None]:
        """The four ``?`` values, in order, as text (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
        return [_stamp(self.since), _stamp(self.until), self.connection_id, _stamp(self.as_of)]


def _stamp(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")
