"""The one place that builds the logger and the metrics sink.

Logs are structured JSON with a correlation id; no secrets ever, and no payloads
(invitee personal data) at INFO. Metrics are CloudWatch EMF, namespace ``calsync``.
"""

from __future__ import annotations

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

logger = Logger(service="calsync")
metrics = Metrics(namespace="calsync", service="calsync")

__all__ = ["MetricUnit", "logger", "metrics"]
