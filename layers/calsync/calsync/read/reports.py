"""A connection's latest completeness reports (the OpenAPI ``ReportList``): the query, the view
of one report (its summary as the connection shows it, plus its duration and windows), the port
a store implements and the use case a route (or ``calsync mcp``) calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from calsync import timefmt
from calsync.read.bookings import DEFAULT_LIMIT, MAX_LIMIT, PageQuery
from calsync.read.connections import ReportSummaryView, summary


class ReportsQuery(PageQuery):
    """``GET /v1/connections/{connection_id}/reports``'s query parameters, validated."""


class WindowView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    start: str
    end: str
    coverage: Literal["covered", "partial", "not reached", "unavailable"]


class ReportView(ReportSummaryView):
    """One report: its summary, how long it ran and what each window covered."""

    duration_seconds: float
    windows: list[WindowView]

    @classmethod
    def build(cls, report: Mapping[str, Any]) -> ReportView:
        """From a stored report (``reconcile.report.Report.as_dict``'s fields)."""
        duration = report.get("duration_seconds")
        windows = []
        for window in report.get("windows") or []:
            try:
                start, end = (timefmt.iso_z(timefmt.parse(str(window[n]))) for n in ("start", "end"))
                windows.append(WindowView(name=str(window["name"]), start=start, end=end, coverage=window["coverage"]))
            except (KeyError, TypeError, ValueError):
                continue  # a window this version cannot read is left out, never a 500
        return cls(
            **summary(report).model_dump(),
            duration_seconds=max(0.0, float(duration)) if isinstance(duration, int | float) else 0.0,
            windows=windows,
        )


class ReportsReader(Protocol):
    def reports(self, connection_id: str, *, limit: int) -> Sequence[Mapping[str, Any]]:
        """The connection's latest ``limit`` reports (``Report.as_dict``), newest first."""
        ...


def latest_reports(port: ReportsReader, connection_id: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """``{"reports": [...]}``: the connection's latest ``limit`` (1–100) completeness reports,
    newest first."""
    limit = max(1, min(limit, MAX_LIMIT))
    return {"reports": [ReportView.build(r).model_dump(mode="json") for r in port.reports(connection_id, limit=limit)]}
