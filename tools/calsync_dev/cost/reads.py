"""`make cost`'s read API figure: $ per 1M API reads (``GET /v1/connections/{id}/bookings``).

One page of ``READ_PAGE_BOOKINGS`` bookings is read by the real handler against moto (the table
seeded through the processors): its DynamoDB requests are priced the way DynamoDB bills them
(``units``), its log line counted; the handler's own CPU time is measured with DynamoDB's answers
replayed (as ``make bench`` does), and the Lambda duration is that plus ``DYNAMODB_REQUEST_MS`` for
each of its requests (they run one after another). The cursor key is read from Secrets Manager
once per cold start.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from typing import Any

from calsync_dev.cost import prices as p
from calsync_dev.cost.mix import memory_sizes

MILLION = 1_000_000
FUNCTION = "ReadApiFunction"


class _CountingCursorKey:
    def __init__(self) -> None:
        self.calls = 0

    def get_secret_value(self, **_: Any) -> dict[str, Any]:
        from calsync_dev.bench_read import CURSOR_KEY

        self.calls += 1
        return {"SecretString": json.dumps({"key": CURSOR_KEY}), "VersionId": "v1", "Name": "cursor"}


def measure_reads(page_bookings: int = p.READ_PAGE_BOOKINGS, iterations: int = 300) -> dict[str, Any]:
    """What one read costs: its DynamoDB requests and units, log bytes, handler CPU, secret reads."""
    import boto3
    from moto import mock_aws

    from calsync import compose
    from calsync.config import ReadApiSettings
    from calsync_dev import bench_read
    from calsync_dev.lambda_runtime import LambdaContext

    app: Any = bench_read.handler_module()
    settings = ReadApiSettings.model_validate(
        {"bookings_table_name": bench_read.TABLE, "cursor_key_secret_name": "calsync/cost/cursor-key"}
    )
    event, context = bench_read.bookings_event(limit=str(page_bookings)), LambdaContext("read-api")
    secret = _CountingCursorKey()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=p.REGION)
        bench_read.seeded(client, page_bookings + 1)
        recorder = bench_read.Recorder(client)
        api = compose.read_api(settings, dynamodb=recorder, secretsmanager=secret)  # type: ignore[arg-type]
        app.services = lambda: api
        with bench_read.quiet_logger() as log:
            first = app.lambda_handler(event, context)
            app.lambda_handler(event, context)  # a warm call: the key is kept
            log_bytes = len(log.getvalue().encode()) / 2
    returned = len(json.loads(first["body"])["bookings"])
    if first["statusCode"] != 200 or returned != page_bookings:
        raise RuntimeError("the cost run's page did not come back full")
    units, requests, secret_reads = recorder.read_units / 2, recorder.requests / 2, secret.calls
    replay = compose.read_api(settings, dynamodb=bench_read.Replay(recorder.recorded), secretsmanager=secret)  # type: ignore[arg-type]
    app.services = lambda: replay
    samples = []
    with bench_read.quiet_logger():
        for attempt in range(iterations + 20):
            start = time.thread_time_ns()
            app.lambda_handler(event, context)
            if attempt >= 20:
                samples.append(time.thread_time_ns() - start)
    return {
        "page_bookings": returned,
        "dynamodb_requests": requests,
        "dynamodb_read_units": units,
        "read_units_per_booking": units / returned,
        "handler_cpu_ms": statistics.median(samples) / 1e6,
        "log_bytes": log_bytes,
        "secret_reads_first_call": secret_reads,
    }


def read_figures(template: dict[str, Any] | None = None, measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """$ per 1M API reads by service, from :func:`measure_reads` and the template's memory."""
    from calsync_dev.template import load

    m = measured if measured is not None else measure_reads()
    memory_mb = memory_sizes(template if template is not None else load())[FUNCTION]
    duration_ms = m["handler_cpu_ms"] + m["dynamodb_requests"] * p.DYNAMODB_REQUEST_MS
    billed_ms = math.ceil(duration_ms)
    gb_seconds = billed_ms / 1000 * memory_mb / 1024
    cold_starts = p.WARM_ENVIRONMENTS * p.COLD_STARTS_PER_MONTH * MILLION / p.READS_PER_MONTH
    usd = {
        "api_gateway": p.APIGW_REST_PER_MILLION,
        "lambda": p.LAMBDA_PER_MILLION_REQUESTS + MILLION * gb_seconds * p.LAMBDA_ARM64_PER_GB_SECOND,
        "dynamodb": MILLION * m["dynamodb_read_units"] * p.DYNAMODB_PER_MILLION_READ_UNITS / MILLION,
        "secrets_manager": cold_starts * m["secret_reads_first_call"] * p.SECRETS_PER_10K_CALLS / 10_000,
        "cloudwatch_logs": MILLION * m["log_bytes"] / p.GB * p.LOGS_INGESTION_PER_GB,
    }
    return {
        "measured": {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()},
        "assumptions": {
            "page_bookings": m["page_bookings"],
            "dynamodb_request_ms": p.DYNAMODB_REQUEST_MS,
            "reads_per_month": p.READS_PER_MONTH,
            "cold_starts_per_month": p.WARM_ENVIRONMENTS * p.COLD_STARTS_PER_MONTH,
        },
        "memory_mb": memory_mb,
        "billed_ms": billed_ms,
        "usd_per_million_reads": {
            **{k: round(v, 4) for k, v in usd.items()},
            "total": round(sum(usd.values()), 4),
        },
    }


def read_table(r: dict[str, Any]) -> str:
    m, a, usd = r["measured"], r["assumptions"], r["usd_per_million_reads"]

    def row(label: str, what: str, key: str, note: str = "") -> str:
        return f"  {label:<28}{what:<30}{usd[key]:>8.2f}" + (f"   {note}" if note else "")

    return "\n".join(
        [
            "",
            f"1M API reads (GET …/bookings, pages of {a['page_bookings']} bookings, {a['reads_per_month']:,} a month)"
            f"{'$ per 1M reads':>20}",
            row("API Gateway (REST)", "1 request", "api_gateway"),
            row(
                "Lambda (arm64)",
                f"{r['billed_ms']} ms at {r['memory_mb']} MB",
                "lambda",
                f"(handler {m['handler_cpu_ms']:.1f} ms + {m['dynamodb_requests']:.0f} DynamoDB requests"
                f" × {a['dynamodb_request_ms']:.0f} ms)",
            ),
            row(
                "DynamoDB",
                f"{m['dynamodb_read_units']:.1f} read units",
                "dynamodb",
                f"({m['read_units_per_booking']:.2f} per booking returned)",
            ),
            row(
                "Secrets Manager",
                f"{m['secret_reads_first_call']} read per cold start",
                "secrets_manager",
                f"({a['cold_starts_per_month']:.0f} cold starts a month)",
            ),
            row("CloudWatch Logs", f"{m['log_bytes']:.0f} bytes", "cloudwatch_logs"),
            row("total", "", "total"),
        ]
    )
