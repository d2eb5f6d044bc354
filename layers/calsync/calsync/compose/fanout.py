"""The fan-out's services: a job's dispatcher (connection pages → its work queue), its worker's
queue (re-sends), the connections' shared rate budgets (docs/scale.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.fanout.work import Job

if TYPE_CHECKING:
    from calsync.connections.aws_budget import DynamoBudgets
    from calsync.connections.budget import RateBudget
    from calsync.fanout.aws_queue import SqsWorkQueue
    from calsync.fanout.dispatch import Dispatcher


def work_queue(settings: config.ConnectionSettings, **aws: Unpack[Aws]) -> SqsWorkQueue:
    from calsync.fanout.aws_queue import SqsWorkQueue

    if not settings.work_queue_url:
        raise ValueError("WORK_QUEUE_URL is not set: this function does not fan out")
    return SqsWorkQueue(settings.work_queue_url, aws.get("sqs"))


def dispatcher(
    job: Job, settings: config.ConnectionSettings, *, clock: Callable[[], float] = time.time, **aws: Unpack[Aws]
) -> Dispatcher:
    from calsync.fanout.aws_pages import DynamoConnectionPages
    from calsync.fanout.dispatch import Dispatcher, refresh_selection, selection_for

    pages = DynamoConnectionPages(settings.bookings_table_name, aws.get("dynamodb"))
    select = refresh_selection(spread=settings.refresh_spread_seconds) if job is Job.REFRESH else selection_for(job)
    return Dispatcher(pages, work_queue(settings, **aws), job, clock=clock, select=select)


def rate_budgets(settings: config.ConnectionSettings, **aws: Unpack[Aws]) -> DynamoBudgets:
    from calsync.connections.aws_budget import DynamoBudgets

    return DynamoBudgets(settings.bookings_table_name, aws.get("dynamodb"))


def rate_budget_for(
    store: DynamoBudgets,
    settings: config.ConnectionSettings,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[str], RateBudget]:
    """A connection's shared Calendly budget, built per use (its state is the stored item)."""
    from calsync.connections.budget import RateBudget

    wait = float(settings.rate_budget_max_wait_seconds)
    return lambda connection_id: RateBudget(store, connection_id, clock=clock, sleep=sleep, max_wait=wait)
