"""Lake transformer Lambda: the analytics lake's Firehose data transformation. Lifecycle events
(as the EventBridge rule put them on the stream) become lake rows; reminders are ``Dropped``;
a record it cannot map is ``ProcessingFailed`` (Firehose writes it to the error prefix) and
counted as ``LakeRecordsFailed`` (alarmed), never a crashed batch.

A clean batch writes no log line: Firehose counts what comes in, is transformed and is
delivered (its own metrics, on the dashboard), and every line is billed log bytes. A batch with
failures writes one WARNING with counts and reasons only (the events hold personal data)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync.analytics.firehose import transform
from calsync.observability import MetricUnit, flush_metrics, logger, metrics


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    response, tally = transform(event)
    if tally.failed:
        metrics.add_metric(name="LakeRecordsFailed", unit=MetricUnit.Count, value=tally.failed)
        flush_metrics()
        logger.warning(
            "lake records failed",
            extra={"ok": tally.ok, "dropped": tally.dropped, "failed": tally.failed, "reasons": tally.reasons},
        )
    return response
