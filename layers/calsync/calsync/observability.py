"""The one place that builds the logger and the metrics sink.

Logs are structured JSON with a correlation id; no secrets ever, and no payloads
(invitee personal data) at INFO. Metrics are CloudWatch EMF, namespace ``calsync``.

Log lines are kept small (CloudWatch Logs bills every byte; issue 12: ≤ 600 bytes per delivery
across all functions): no ``location``, no ``timestamp`` (CloudWatch stamps every event), no
X-Ray trace id (the correlation id links the lines). The delivery path (receiver, processors,
lifecycle publisher) writes one line per invocation and counts its routine outcomes through
metric filters on those lines (template.yaml), not EMF: EMF lines are log bytes too, so they are
written only for what is rare (rejections, quarantines, failures).
"""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

logger = Logger(
    service="calsync", log_record_order=["level", "message"], location=None, timestamp=None, xray_trace_id=None
)
metrics = Metrics(namespace="calsync", service="calsync")


def flush_metrics() -> None:
    """Write the EMF line if anything was counted (``log_metrics`` would warn on an empty set)."""
    if metrics.metric_set:
        metrics.flush_metrics()


__all__ = ["MetricUnit", "flush_metrics", "logger", "metrics", "single_metric"]
