"""A scheduled job's run as deployed, in moto: the schedule's invocation dispatches, then the job's
work queue is consumed as Lambda's event source would (a unit per invocation; a failed unit becomes
visible again at once here, so it is retried until the queue dead-letters it)."""

from __future__ import annotations

import os
import sys
from typing import Any

import boto3

from calsync.fanout.work import WorkUnit
from calsync_dev.provision import Stack
from calsync_dev.pump import SqsEventSource


def run_scheduled(stack: Stack, function: str, handler: Any, context: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(the dispatch's summary, each connection's last outcome: ``error`` for a unit that raised).

    The tests share one process environment: the function's own ``WORK_QUEUE_URL`` is put there
    while it runs (a handler reads its settings once, on its first invocation)."""
    before = os.environ.get("WORK_QUEUE_URL")
    os.environ["WORK_QUEUE_URL"] = stack.functions[function].environment["WORK_QUEUE_URL"]
    try:
        summary = handler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)
        return summary, drain(stack, function, handler, context)
    finally:
        if before is None:
            del os.environ["WORK_QUEUE_URL"]
        else:
            os.environ["WORK_QUEUE_URL"] = before


def drain(stack: Stack, function: str, handler: Any, context: Any) -> dict[str, str]:
    module = sys.modules[handler.__module__]
    original = module.run_unit
    outcomes: dict[str, str] = {}

    def recording(body: str, ctx: Any) -> str:
        cid = WorkUnit.from_body(body).connection_id
        try:
            outcomes[cid] = original(body, ctx)
        except Exception:
            outcomes[cid] = "error"
            raise
        return outcomes[cid]

    url = stack.functions[function].environment["WORK_QUEUE_URL"]
    arn = next(a for logical, a in stack.queue_arns.items() if stack.queue_urls[logical] == url)
    module.run_unit = recording
    try:
        SqsEventSource(boto3.client("sqs"), url, arn, handler, context, batch_size=1).drain(max_polls=1000)
    finally:
        module.run_unit = original
    return outcomes
