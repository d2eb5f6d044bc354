"""Windows, the resume cursor and the completeness report of one run (plain data)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from calsync import timefmt
from calsync.reconcile.compare import Verdict

UPCOMING, RECENT, REQUESTED = "upcoming", "recent", "requested"
SUBMISSIONS = "submissions"  # routing-form submissions, by the time they were made
COUNTS = (
    "events_seen",
    "invitees_seen",
    "submissions_seen",
    "missing",
    "stale",
    "newer",
    "erased",
    "unordered",
    "repaired",
    "unreadable",
)


@dataclass(frozen=True, slots=True)
class Window:
    """Meeting start times ``[start, end]`` to cover (for ``SUBMISSIONS``: the times the
    routing-form submissions were made)."""

    name: str
    start: datetime
    end: datetime


def scheduled_windows(now: datetime, *, upcoming_days: int, recent_days: int) -> list[Window]:
    """Recent bookings (no-shows) first, the small window every run covers, and the routing-form
    submissions made over the same days; then upcoming bookings (missed creations,
    cancellations, reschedules), which may take several runs."""
    return [
        Window(RECENT, now - timedelta(days=recent_days), now),
        Window(SUBMISSIONS, now - timedelta(days=recent_days), now),
        Window(UPCOMING, now, now + timedelta(days=upcoming_days)),
    ]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a run stopped: in ``window``, every event starting before ``after`` is done, and
    so are those starting exactly at ``after`` listed in ``done``."""

    window: str
    after: datetime
    done: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"window": self.window, "after": timefmt.sortable(self.after), "done": list(self.done)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cursor:
        return cls(str(data["window"]), datetime.fromisoformat(str(data["after"])), tuple(data.get("done") or ()))


def cursors_as_dict(cursors: Iterable[Cursor]) -> dict[str, Any] | None:
    """The cursors as stored on the connection (``None``: every window starts from its start)."""
    found = [cursor.as_dict() for cursor in cursors]
    return {"cursors": found} if found else None


def cursors_from_dict(data: Mapping[str, Any] | None) -> list[Cursor]:
    """The stored cursors, one per window at most. A cursor stored before each window had its
    own (``{window, after, done}``) reads as that window's; one that cannot be read as none
    (its windows are covered from their start: repeated work, nothing skipped)."""
    if not data:
        return []
    entries = data.get("cursors") if "cursors" in data else [data]
    try:
        if not isinstance(entries, list):
            raise TypeError("cursors is not a list")
        return [Cursor.from_dict(entry) for entry in entries]
    except (KeyError, TypeError, ValueError):
        return []


@dataclass(slots=True)
class WindowReport:
    name: str
    start: datetime
    end: datetime
    coverage: str = "not reached"  # covered | partial | not reached
    resumed_from: datetime | None = None
    cursor: Cursor | None = None  # where the next run resumes this window (None: from its start)

    @property
    def covered(self) -> bool:
        return self.coverage == "covered"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start": timefmt.sortable(self.start),
            "end": timefmt.sortable(self.end),
            "coverage": self.coverage,
            "covered": self.covered,
            "resumed_from": timefmt.sortable(self.resumed_from) if self.resumed_from else None,
            "next_from": timefmt.sortable(self.cursor.after) if self.cursor else None,
        }


@dataclass(slots=True)
class Report:
    """One run on one connection. ``repaired`` counts invitees and submissions something was
    enqueued for; ``missing`` both too."""

    connection_id: str
    reason: str
    started_at: datetime
    windows: list[WindowReport]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    api_calls: int = 0
    duration_seconds: float = 0.0
    cursor: Cursor | None = None  # where this run stopped
    stopped: str | None = None  # why the run ended early (budget, time, Calendly error)

    @property
    def cursors(self) -> list[Cursor]:
        """Where the next run resumes each window (the one it stopped in, and those not reached)."""
        return [w.cursor for w in self.windows if w.cursor is not None]

    @property
    def complete(self) -> bool:
        """Every window covered (or, for submissions, unavailable): nothing stopped or paused."""
        done = all(w.coverage in ("covered", "unavailable") for w in self.windows)
        return done and self.cursor is None and self.stopped is None

    @property
    def quiet(self) -> bool:
        """Nothing for an operator to look at: complete, nothing repaired, nothing unreadable."""
        return self.complete and not self.counts["repaired"] and not self.counts["unreadable"]

    def totals(self) -> dict[str, int]:
        """Every count, the calls spent and whether the run stopped short (one metric each)."""
        return {**self.counts, "api_calls": self.api_calls, "incomplete": int(not self.complete)}

    def count(self, verdict: Verdict, repaired: bool) -> None:
        self.counts["invitees_seen"] += 1
        if verdict is not Verdict.SAME:
            self.counts[str(verdict)] += 1
        self.counts["repaired"] += repaired

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "reason": self.reason,
            "started_at": timefmt.sortable(self.started_at),
            "duration_seconds": round(self.duration_seconds, 3),
            "api_calls": self.api_calls,
            **self.counts,
            "complete": self.complete,
            "stopped": self.stopped,
            "windows": [w.as_dict() for w in self.windows],
            "cursor": self.cursor.as_dict() if self.cursor else None,
        }
