"""The dispatcher: a scheduled run lists the connections a page at a time and sends one unit of work
per connection that needs one to the job's queue, ten to a ``SendMessageBatch``.

Which connections get a unit, and after what delay, is the job's ``Selection``:

- refresh: only OAuth connections whose token expires within the refresh threshold (or whose expiry
  the registry does not know), each delayed by a stable per-connection offset within ``spread``
  seconds (never past its expiry's safety margin): 10,000 tokens issued in the same minute are
  refreshed over the next quarter of an hour, not in one burst;
- watchdog and reconcile: every active connection, at once (the queue's bounded concurrency paces
  them).

Entries SQS refuses (or a batch call that fails) are sent again, ``send_attempts`` times in all;
what still failed is in ``Dispatched.unsent`` (the handler raises for it: the job's Errors alarm).
The dispatch also counts every listed connection by health (``health_of``): the watchdog's run
publishes them for the dashboard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from calsync.connections.budget import spread_seconds
from calsync.connections.records import Connection
from calsync.errors import DependencyUnavailable
from calsync.fanout.ports import BATCH_LIMIT, ConnectionPages, WorkQueue
from calsync.fanout.work import MAX_DELAY_SECONDS, Job, Message, WorkUnit

PAGE_SIZE = 100
SEND_ATTEMPTS = 3
REFRESH_THRESHOLD_SECONDS = 45 * 60  # connections.refresh.REFRESH_WHEN_UNDER_SECONDS
REFRESH_SPREAD_SECONDS = 840  # under the refresher's 15-minute schedule
REFRESH_SAFETY_SECONDS = 10 * 60  # a delayed unit still runs this long before the token expires

# What the dashboard shows (metric ConnectionsByHealth, dimension Health)
HEALTHS = ("active", "reauth_required", "failing_subscription", "removed")

type Selection = Callable[[Connection, float], int | None]  # delay seconds, or None: no unit


def health_of(connection: Connection) -> str:
    """``active``, ``reauth_required``, ``failing_subscription`` (active, but the watchdog's last
    check failed or a gap it noticed has not been followed by a healthy check) or ``removed``."""
    if connection.status != "active":
        return connection.status
    if connection.last_check_error is not None:
        return "failing_subscription"
    gap = connection.gap_reconcile or {}
    noticed, healthy = gap.get("noticed_at"), connection.subscription_healthy_at
    if isinstance(noticed, str) and (healthy is None or _later(noticed, healthy)):
        return "failing_subscription"
    return "active"


def _later(a: str, b: str) -> bool:
    try:
        return datetime.fromisoformat(a) > datetime.fromisoformat(b)
    except ValueError:
        return False


def refresh_selection(
    threshold: int = REFRESH_THRESHOLD_SECONDS,
    spread: int = REFRESH_SPREAD_SECONDS,
    safety: int = REFRESH_SAFETY_SECONDS,
) -> Selection:
    def select(connection: Connection, now: float) -> int | None:
        if connection.kind != "oauth" or connection.status != "active":
            return None
        offset = spread_seconds(connection.connection_id, min(spread, MAX_DELAY_SECONDS))
        expires = connection.token_expires_at
        if expires is None:
            return offset
        left = expires - now
        if left >= threshold:
            return None  # the next run sends it
        return max(0, min(offset, int(left - safety)))

    return select


def active_selection(connection: Connection, now: float) -> int | None:
    return 0 if connection.status == "active" else None


def selection_for(job: Job) -> Selection:
    return refresh_selection() if job is Job.REFRESH else active_selection


@dataclass
class Dispatched:
    """What one dispatch did (every figure a report or the simulation needs)."""

    job: Job
    run: str
    listed: int = 0
    sent: int = 0
    pages: int = 0
    batches: int = 0  # SendMessageBatch calls, retries included
    unsent: list[str] = field(default_factory=list)
    health: Counter[str] = field(default_factory=Counter)
    delays: list[int] = field(default_factory=list)  # each sent unit's delay, in order

    def summary(self) -> dict[str, object]:
        return {
            "job": str(self.job),
            "run": self.run,
            "listed": self.listed,
            "sent": self.sent,
            "pages": self.pages,
            "batches": self.batches,
            "unsent": len(self.unsent),
            "health": {h: self.health.get(h, 0) for h in HEALTHS},
        }


class DispatchIncomplete(Exception):
    """Some units could not be sent (after every attempt): raised once every other was sent."""


@dataclass
class Dispatcher:
    pages: ConnectionPages
    queue: WorkQueue
    job: Job
    clock: Callable[[], float]
    select: Selection | None = None  # default: ``selection_for(job)``
    page_size: int = PAGE_SIZE
    send_attempts: int = SEND_ATTEMPTS

    def dispatch(self, run: str) -> Dispatched:
        select = self.select or selection_for(self.job)
        done = Dispatched(self.job, run)
        pending: list[tuple[str, Message]] = []
        after: str | None = None
        while True:
            connections, after = self.pages.page(limit=self.page_size, after=after)
            done.pages += 1
            for connection in connections:
                done.listed += 1
                done.health[health_of(connection)] += 1
                now = self.clock()
                delay = select(connection, now)
                if delay is None:
                    continue
                unit = WorkUnit(job=self.job, connection_id=connection.connection_id, run=run, dispatched_at=now)
                pending.append(
                    (connection.connection_id, Message(id=str(len(pending)), body=unit.to_body(), delay=delay))
                )
                done.delays.append(delay)
                if len(pending) == BATCH_LIMIT:
                    self._send(pending, done)
                    pending = []
            if after is None:
                break
        if pending:
            self._send(pending, done)
        return done

    def _send(self, batch: list[tuple[str, Message]], done: Dispatched) -> None:
        waiting = {message.id: (cid, message) for cid, message in batch}
        for _ in range(self.send_attempts):
            done.batches += 1
            try:
                refused = set(self.queue.send_batch([message for _, message in waiting.values()]))
            except DependencyUnavailable:
                continue
            done.sent += len(waiting) - len(refused & waiting.keys())
            waiting = {mid: entry for mid, entry in waiting.items() if mid in refused}
            if not waiting:
                return
        done.unsent.extend(cid for cid, _ in waiting.values())

    @staticmethod
    def raise_for_unsent(done: Dispatched) -> None:
        if done.unsent:
            raise DispatchIncomplete(f"{done.job}: {len(done.unsent)} unit(s) not sent")
