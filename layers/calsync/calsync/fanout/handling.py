"""What the three scheduled functions share as dispatchers and workers (their handlers stay thin):
the dispatch's report and metrics, and one SQS record as a unit of work."""

from __future__ import annotations

from collections.abc import Callable

from calsync.fanout.dispatch import HEALTHS, Dispatched, Dispatcher
from calsync.fanout.work import WorkUnit
from calsync.fanout.worker import DEFERRED, GONE, Worker
from calsync.observability import MetricUnit, logger, metrics, single_metric


def dispatched(done: Dispatched, *, health: bool = False) -> dict[str, object]:
    """Log and count one dispatch (``health``: also the connections by health, for the dashboard);
    raise ``DispatchIncomplete`` when units could not be sent (the job's Errors alarm)."""
    metrics.add_metric(name="UnitsDispatched", unit=MetricUnit.Count, value=done.sent)
    metrics.add_metric(name="ConnectionsListed", unit=MetricUnit.Count, value=done.listed)
    if health:
        for state in HEALTHS:
            with single_metric(
                name="ConnectionsByHealth",
                unit=MetricUnit.Count,
                value=done.health.get(state, 0),
                namespace=metrics.namespace,
            ) as metric:
                metric.add_dimension(name="Health", value=state)
    summary = done.summary()
    (logger.error if done.unsent else logger.info)("dispatched", extra=summary)
    Dispatcher.raise_for_unsent(done)
    return summary


def handle_unit(body: str, worker: Worker, on_outcome: Callable[[WorkUnit, str], None] | None = None) -> str:
    """One queue record: the unit's outcome (``GONE``, ``DEFERRED`` or the job's own)."""
    unit = WorkUnit.from_body(body)
    outcome = worker.handle(unit)
    if outcome == DEFERRED:
        metrics.add_metric(name="UnitsDeferred", unit=MetricUnit.Count, value=1)
        logger.info(
            "unit put off: rate budget spent", extra={"connection_id": unit.connection_id, "job": str(unit.job)}
        )
    elif outcome == GONE:
        logger.info("unit for a removed connection", extra={"connection_id": unit.connection_id, "job": str(unit.job)})
    if on_outcome is not None:
        on_outcome(unit, outcome)
    return outcome
