"""The scheduled jobs' loop: one step over every connection, each on its own, within the run's time.

The token refresher, the subscription watchdog and the scheduled reconciler each do one thing
per connection. This is their one loop:

- **failure isolation**: a connection whose step raises is handed to ``failed`` with a reason
  that is safe to store and log (an exception calsync does not know is named by its type only,
  never by its message), and the loop goes on: one broken connection among thousands never
  stops the rest;
- **time**: before each connection the run's ``time_left()`` is compared with what a step
  needs (``start_within``); once it is shorter, no further connection is started and the ones
  not started are ``left`` for the next run (the caller says so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from calsync.calendly.errors import CalendlyError
from calsync.connections.records import Connection, TokenNotFound, TokenUnreadable
from calsync.errors import DependencyUnavailable

type RemainingMs = Callable[[], int]  # e.g. a Lambda context's get_remaining_time_in_millis


def unbounded() -> float:
    """A run with no time limit (tests, the CLI)."""
    return float("inf")


def seconds_left(remaining_ms: RemainingMs) -> Callable[[], float]:
    """A run's ``time_left`` in seconds, from its remaining milliseconds."""
    return lambda: remaining_ms() / 1000


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a connection's step failed: a stable ``reason`` and a ``detail`` safe to store and log."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def failure_of(exc: Exception) -> Failure:
    """The failure as calsync may say it (never a secret)."""
    if isinstance(exc, TokenNotFound):
        return Failure("token_missing", "the connection has no token secret")
    if isinstance(exc, TokenUnreadable):
        return Failure("token_unreadable", str(exc))
    if isinstance(exc, DependencyUnavailable):
        return Failure("aws_unavailable", str(exc))
    if isinstance(exc, CalendlyError):
        return Failure("calendly_error", f"{type(exc).__name__} {exc.status}")
    return Failure("unexpected_error", type(exc).__name__)


def failure_reason(exc: Exception) -> tuple[str, str]:
    """``failure_of`` as a (reason, detail) pair."""
    failure = failure_of(exc)
    return failure.reason, failure.detail


@dataclass(frozen=True, slots=True)
class Pass[R]:
    """What one loop did: every connection it started, by id, with its result (a failed one's
    is what ``failed`` made of it), the failures among them, and the connections not started."""

    results: dict[str, R] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    left: list[Connection] = field(default_factory=list)
    stopped_with: float | None = None  # seconds the run had left when it stopped starting connections

    @property
    def left_ids(self) -> list[str]:
        return [c.connection_id for c in self.left]


def each_connection[R](
    connections: Iterable[Connection],
    step: Callable[[Connection], R],
    *,
    failed: Callable[[Connection, Failure], R],
    time_left: Callable[[], float] = unbounded,
    start_within: float = 0.0,
) -> Pass[R]:
    """``step`` on every connection in turn; ``failed`` for one whose step raised (its result
    stands for the step's). No connection starts with less than ``start_within`` seconds of
    ``time_left()``: from there on, the connections are left for the next run."""
    results: dict[str, R] = {}
    failures: dict[str, Failure] = {}
    remaining = iter(connections)
    for connection in remaining:
        seconds = time_left()
        if seconds < start_within:
            return Pass(results, failures, [connection, *remaining], stopped_with=seconds)
        cid = connection.connection_id
        try:
            results[cid] = step(connection)
        except Exception as exc:  # isolated: ``failed`` records it on the connection, the loop goes on
            failures[cid] = failure_of(exc)
            results[cid] = failed(connection, failures[cid])
    return Pass(results, failures)
