"""The worker side: one unit of work, one connection, on its own.

``Worker.handle`` reads the connection afresh (a unit for a connection removed meanwhile is done:
nothing to do) and runs the job's step on it. The step is idempotent (the refresher takes the
connection's lease and re-reads the token under it; the watchdog checks under the lease; a
reconcile's writes are version-aware), so a duplicate message or two dispatches at once do no harm.
A step that raises fails this unit alone: the queue retries it after its visibility timeout and,
after ``maxReceiveCount`` receives, dead-letters it (the DLQ's alarm). A step stopped by the
connection's rate budget (``RateLimited``) is put off instead: sent again with a delay until the
budget has room, up to ``max_deferrals`` times, without spending a receive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from calsync.connections.budget import RateLimited
from calsync.connections.records import Connection
from calsync.fanout.work import MAX_DELAY_SECONDS, Job, WorkUnit

MAX_DEFERRALS = 30

GONE = "gone"
DEFERRED = "deferred"

type Step = Callable[[Connection], str]  # the job's outcome for one connection


@dataclass
class Worker:
    get: Callable[[str], Connection | None]  # the registry's read
    steps: Mapping[Job, Step]
    requeue: Callable[[WorkUnit, int], None]  # send the unit again, visible after the delay
    max_deferrals: int = MAX_DEFERRALS

    def handle(self, unit: WorkUnit) -> str:
        connection = self.get(unit.connection_id)
        if connection is None or connection.status == "removed":
            return GONE
        step = self.steps[unit.job]
        try:
            return step(connection)
        except RateLimited as exc:
            if unit.deferrals >= self.max_deferrals:
                raise
            delay = min(MAX_DELAY_SECONDS, max(1, math.ceil(exc.wait)))
            self.requeue(unit.model_copy(update={"deferrals": unit.deferrals + 1}), delay)
            return DEFERRED
