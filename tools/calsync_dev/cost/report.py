"""From a measured run to $ per 1M deliveries by service and $ per idle month."""

from __future__ import annotations

from collections import Counter
from typing import Any

from calsync_dev.cost import prices as p
from calsync_dev.cost.lake import LAKE_FUNCTION, billed_bytes
from calsync_dev.cost.meter import Usage
from calsync_dev.cost.mix import Run, resources
from calsync_dev.template import deployed

MILLION = 1_000_000
SECRETS_PER_CONNECTION = 2  # its signing keys, its OAuth tokens


def _sum(usage: dict[str, Usage], attribute: str) -> float:
    return float(sum(getattr(u, attribute) for u in usage.values()))


def _requests(usage: dict[str, Usage], service: str) -> int:
    return sum(n for u in usage.values() for op, n in u.requests.items() if op.startswith(f"{service}:"))


def _gb_seconds(usage: dict[str, Usage], memory: dict[str, int]) -> float:
    return sum(u.billed_ms / 1000 * memory[name] / 1024 for name, u in usage.items())


def figures(run: Run) -> dict[str, Any]:
    """Every figure, per delivery and in $ per 1M deliveries / per month (JSON-ready)."""
    n, usage = run.deliveries, run.usage
    per = MILLION / n
    write_units = _sum(usage, "write_units")
    by_index: Counter[str] = Counter()
    for u in usage.values():
        by_index.update(u.write_units_by_index)
    # A function's first read of each secret fills its cache; within the mix (seconds, shorter
    # than any cache) a further read of the same secret is one a delivery made.
    fills = {name: len(u.secret_reads) for name, u in usage.items() if u.secret_reads}
    counts = {
        "api_requests": run.api_requests,
        "lambda_invocations": int(_sum(usage, "invocations")),
        "lambda_gb_seconds": _gb_seconds(usage, run.memory_mb),
        "sqs_requests": int(_sum(usage, "sqs_billed")) + run.sqs_event_source_requests,
        "dynamodb_write_units": write_units,
        "dynamodb_read_units": _sum(usage, "read_units"),
        "secrets_manager_calls": _requests(usage, "secretsmanager") - sum(fills.values()),
        "eventbridge_events": int(_sum(usage, "events_billed")),
        "eventbridge_archived_bytes": int(_sum(usage, "events_bytes")),
        "scheduler_invocations": run.schedules_fired,
        "log_bytes": int(_sum(usage, "log_bytes")),
        "xray_traces": run.traces if run.tracing == "Active" else 0,
        "stored_bytes": run.stored_bytes,
        "lake_records": len(run.lake_record_sizes),
        "lake_bytes": sum(run.lake_record_sizes),
        "lake_billed_bytes": billed_bytes(run.lake_record_sizes),
    }
    archived = resources(run.template, "AWS::Events::Archive")
    secrets = _secrets(run, fills)
    dollars = {
        "api_gateway": counts["api_requests"] * per * p.APIGW_REST_PER_MILLION / MILLION,
        "lambda": counts["lambda_invocations"] * per * p.LAMBDA_PER_MILLION_REQUESTS / MILLION
        + counts["lambda_gb_seconds"] * per * p.LAMBDA_ARM64_PER_GB_SECOND,
        "sqs": counts["sqs_requests"] * per * p.SQS_PER_MILLION_REQUESTS / MILLION,
        "dynamodb": (
            write_units * p.DYNAMODB_PER_MILLION_WRITE_UNITS
            + counts["dynamodb_read_units"] * p.DYNAMODB_PER_MILLION_READ_UNITS
        )
        * per
        / MILLION,
        "secrets_manager": (
            counts["secrets_manager_calls"] * per + secrets["steady_calls_per_month"] * MILLION / p.DELIVERIES_PER_MONTH
        )
        * p.SECRETS_PER_10K_CALLS
        / 10_000,
        "eventbridge": counts["eventbridge_events"] * per * p.EVENTBRIDGE_PER_MILLION_EVENTS / MILLION
        + (counts["eventbridge_archived_bytes"] * per / p.GB * p.EVENTBRIDGE_ARCHIVE_PER_GB if archived else 0.0),
        "scheduler": counts["scheduler_invocations"] * per * p.SCHEDULER_PER_MILLION_INVOCATIONS / MILLION,
        "cloudwatch_logs": counts["log_bytes"] * per / p.GB * p.LOGS_INGESTION_PER_GB,
        "xray": counts["xray_traces"] * per * p.XRAY_PER_MILLION_TRACES / MILLION,
        "firehose": counts["lake_billed_bytes"]
        * per
        / p.GB
        * (p.FIREHOSE_INGESTION_PER_GB + p.FIREHOSE_FORMAT_CONVERSION_PER_GB),
        "s3_lake": _lake_puts_per_million(int(counts["lake_records"]), n) * p.S3_PUT_PER_1000 / 1000,
    }
    lake_lambda = _lambda_dollars(usage.get(LAKE_FUNCTION), run.memory_mb.get(LAKE_FUNCTION, 0)) * per
    storage_month = (
        counts["stored_bytes"] * per / p.GB * (p.DYNAMODB_STORAGE_PER_GB_MONTH + p.DYNAMODB_PITR_PER_GB_MONTH)
    )
    lake_rows = run.lake_rows
    lake_storage_month = lake_rows * per * p.LAKE_PARQUET_BYTES_PER_ROW / p.GB * p.S3_STORAGE_PER_GB_MONTH
    metrics = set().union(*(u.metrics for u in usage.values())) if usage else set()
    return {
        "region": p.REGION,
        "prices_checked": p.PRICES_CHECKED,
        "deliveries": n,
        "per_delivery": {k: v / n for k, v in counts.items()},
        "write_units_per_delivery_by_index": {k: v / n for k, v in sorted(by_index.items())},
        "usd_per_million_deliveries": {
            **{k: round(v, 4) for k, v in dollars.items()},
            "total": round(sum(dollars.values()), 4),
        },
        "usd_per_million_deliveries_without_xray": round(sum(dollars.values()) - dollars["xray"], 4),
        "usd_storage_per_million_deliveries_month": round(storage_month, 4),
        "lake": {
            "records_per_delivery": counts["lake_records"] / n,
            "rows_per_delivery": lake_rows / n,
            "mean_record_bytes": counts["lake_bytes"] / max(1, counts["lake_records"]),
            "billed_bytes_per_record": counts["lake_billed_bytes"] / max(1, counts["lake_records"]),
            "transformer_usd_per_million_deliveries": round(lake_lambda, 4),
            "usd_per_million_deliveries": round(dollars["firehose"] + dollars["s3_lake"] + lake_lambda, 4),
            "storage_usd_per_million_deliveries_month": round(lake_storage_month, 6),
        },
        "tracing": run.tracing,
        "secrets_manager": secrets,
        "custom_metrics": len(metrics),
        "idle_usd_per_month": idle(run, len(metrics)),
        "writes_by_kind": _writes(run),
    }


def _lambda_dollars(usage: Usage | None, memory_mb: int) -> float:
    """One function's Lambda bill over the run (requests and GB-seconds)."""
    if usage is None:
        return 0.0
    return (
        usage.invocations * p.LAMBDA_PER_MILLION_REQUESTS / MILLION
        + usage.billed_ms / 1000 * memory_mb / 1024 * p.LAMBDA_ARM64_PER_GB_SECOND
    )


def _lake_puts_per_million(records: int, deliveries: int) -> float:
    """S3 objects Firehose writes for 1M deliveries arriving over a month: one per buffer interval
    while events arrive (at most one per record), never more than the month has intervals."""
    if not records:
        return 0.0
    records_per_month = records / deliveries * p.DELIVERIES_PER_MONTH
    return min(records_per_month, p.SECONDS_PER_MONTH / p.LAKE_BUFFER_SECONDS) * MILLION / p.DELIVERIES_PER_MONTH


def _secrets(run: Run, fills: dict[str, int]) -> dict[str, Any]:
    """Secret reads at the steady state: each warm environment re-reads a cached secret once
    per its cache lifetime, or once per cold start when it keeps it for its life."""
    per_fill = {
        name: p.SECONDS_PER_MONTH / ttl if ttl else p.COLD_STARTS_PER_MONTH
        for name, ttl in run.secret_cache_seconds.items()
    }
    steady = p.WARM_ENVIRONMENTS * sum(n * per_fill[name] for name, n in fills.items())
    return {
        "measured_calls": _requests(run.usage, "secretsmanager"),
        "cache_fills": sum(fills.values()),
        "cache_fills_by_function": fills,
        "cache_seconds": dict(run.secret_cache_seconds),
        "warm_environments": p.WARM_ENVIRONMENTS,
        "cold_starts_per_month": p.COLD_STARTS_PER_MONTH,
        "deliveries_per_month": p.DELIVERIES_PER_MONTH,
        "steady_calls_per_month": steady,
    }


def _writes(run: Run) -> dict[str, float]:
    by_kind: Counter[str] = Counter()
    for _, what, units in run.writes:
        by_kind[what] += units
    return {k: v / run.deliveries for k, v in sorted(by_kind.items())}


# Every optional consumer on: the idle month's other figure.
ALL_CONSUMERS_ON = {"SlackNotifications": "on", "HttpForwarding": "on"}


def idle(run: Run, metric_count: int) -> dict[str, Any]:
    """The idle month of the stack as deployed for the run's parameters (defaults unless
    overridden: the optional consumers off), and its total with every consumer on."""
    result = _idle(run, metric_count, deployed(run.template, run.parameters))
    result["total_all_consumers_on"] = _idle(
        run, metric_count, deployed(run.template, {**run.parameters, **ALL_CONSUMERS_ON})
    )["total"]
    return result


def _idle(run: Run, metric_count: int, template: dict[str, Any]) -> dict[str, Any]:
    alarm_specs = resources(template, "AWS::CloudWatch::Alarm").values()
    alarms = len(alarm_specs)
    alarm_metrics = sum(_metrics_read(spec) for spec in alarm_specs)
    dashboards = len(resources(template, "AWS::CloudWatch::Dashboard"))
    secrets = len(resources(template, "AWS::SecretsManager::Secret"))
    sqs_sources = sum(
        1
        for spec in resources(template, "AWS::Serverless::Function").values()
        for source in spec.get("Properties", {}).get("Events", {}).values()
        if source.get("Type") == "SQS"
    )
    scheduled = 0.0
    for name, per_month in run.rates_per_month.items():
        if name not in template["Resources"]:
            continue
        u = run.idle.get(name, Usage())
        scheduled += per_month * (
            p.LAMBDA_PER_MILLION_REQUESTS / MILLION
            + u.billed_ms / 1000 * run.memory_mb[name] / 1024 * p.LAMBDA_ARM64_PER_GB_SECOND
            + u.log_bytes / p.GB * p.LOGS_INGESTION_PER_GB
            + u.write_units * p.DYNAMODB_PER_MILLION_WRITE_UNITS / MILLION
            + u.read_units * p.DYNAMODB_PER_MILLION_READ_UNITS / MILLION
            + _requests({name: u}, "secretsmanager") * p.SECRETS_PER_10K_CALLS / 10_000
            + (p.XRAY_PER_MILLION_TRACES / MILLION if run.tracing == "Active" else 0.0)
        )
    lines = {
        "alarms": alarm_metrics * p.ALARM_PER_MONTH,
        "dashboards": dashboards * p.DASHBOARD_PER_MONTH,
        "stack_secrets": secrets * p.SECRET_PER_MONTH,
        "scheduled_functions": scheduled,
        "sqs_idle_polling": sqs_sources
        * p.SQS_IDLE_POLLS_PER_QUEUE_MINUTE
        * p.MINUTES_PER_MONTH
        * p.SQS_PER_MILLION_REQUESTS
        / MILLION,
        "custom_metrics": metric_count * p.METRIC_PER_MONTH,
    }
    return {
        **{k: round(v, 4) for k, v in lines.items()},
        "total": round(sum(lines.values()), 4),
        "per_connection": SECRETS_PER_CONNECTION * p.SECRET_PER_MONTH,
        "counts": {
            "alarms": alarms,
            "alarm_metrics": alarm_metrics,
            "dashboards": dashboards,
            "secrets": secrets,
            "sqs_event_sources": sqs_sources,
        },
        "scheduled_per_month": {k: round(v) for k, v in run.rates_per_month.items()},
    }


def _metrics_read(alarm: dict[str, Any]) -> int:
    """How many metrics an alarm reads: CloudWatch bills a standard alarm per metric, so a
    metric-math alarm (``SUM([errors, throttles])``) is billed for each metric in it."""
    queries = alarm.get("Properties", {}).get("Metrics") or []
    return sum(1 for query in queries if "MetricStat" in query) or 1


_LABELS = {
    "api_gateway": ("API Gateway (REST)", "api_requests", "requests"),
    "lambda": ("Lambda (arm64)", "lambda_invocations", "invocations"),
    "sqs": ("SQS", "sqs_requests", "requests"),
    "dynamodb": ("DynamoDB", "dynamodb_write_units", "write units"),
    "secrets_manager": ("Secrets Manager (steady state)", "secrets_manager_calls", "calls"),
    "eventbridge": ("EventBridge", "eventbridge_events", "events"),
    "scheduler": ("EventBridge Scheduler", "scheduler_invocations", "invocations"),
    "cloudwatch_logs": ("CloudWatch Logs", "log_bytes", "bytes"),
    "xray": ("X-Ray", "xray_traces", "traces"),
    "firehose": ("Firehose (lake, 5 KB rounding)", "lake_billed_bytes", "bytes"),
    "s3_lake": ("S3 (lake objects)", "lake_records", "records"),
}


def table(result: dict[str, Any]) -> str:
    per, usd = result["per_delivery"], result["usd_per_million_deliveries"]
    rows = [
        f"calsync cost — {result['deliveries']} deliveries (the fixture mix), {result['region']} list prices "
        f"checked {result['prices_checked']}",
        "",
        f"{'service':<30}{'per delivery':>26}{'$ per 1M deliveries':>22}",
    ]
    for key, (label, count, unit) in _LABELS.items():
        if key == "xray":
            label = f"X-Ray (Tracing: {result['tracing']})"
        rows.append(f"{label:<30}{per[count]:>14.3f} {unit:<11}{usd[key]:>22.2f}")
    rows.append(f"{'total':<30}{'':>26}{usd['total']:>22.2f}")
    rows.append(f"{'  without X-Ray':<30}{'':>26}{result['usd_per_million_deliveries_without_xray']:>22.2f}")
    rows += [
        "",
        f"DynamoDB: {per['dynamodb_write_units']:.2f} write units and {per['dynamodb_read_units']:.2f} read units "
        f"per delivery; by table/index: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["write_units_per_delivery_by_index"].items()),
        _secrets_line(result),
        _lake_line(result),
        f"Lambda: {per['lambda_gb_seconds'] * 1000:.2f} GB-ms per delivery; "
        f"storage kept a month: ${result['usd_storage_per_million_deliveries_month']:.2f} per 1M deliveries",
        "",
        "idle, per month:",
    ]
    idle_ = result["idle_usd_per_month"]
    for key in ("alarms", "dashboards", "stack_secrets", "scheduled_functions", "sqs_idle_polling", "custom_metrics"):
        rows.append(f"  {key.replace('_', ' '):<26}{idle_[key]:>10.2f}")
        if key == "alarms":
            counts = idle_["counts"]
            rows[-1] += f"   {counts['alarms']} alarms reading {counts['alarm_metrics']} metrics"
    rows.append(
        f"  {'total':<26}{idle_['total']:>10.2f}   + ${idle_['per_connection']:.2f} per connection (its secrets)"
    )
    rows.append(f"  {'with Slack and forwarding on':<26}{idle_['total_all_consumers_on']:>10.2f}")
    return "\n".join(rows)


def _lake_line(result: dict[str, Any]) -> str:
    lake = result["lake"]
    return (
        f"Analytics lake: ${lake['usd_per_million_deliveries']:.2f} per 1M deliveries (Firehose, S3 objects and "
        f"the transformer's ${lake['transformer_usd_per_million_deliveries']:.2f} in the Lambda line); "
        f"{lake['records_per_delivery']:.3f} events per delivery of {lake['mean_record_bytes']:.0f} bytes, "
        f"billed as {lake['billed_bytes_per_record']:.0f}; storage ${lake['storage_usd_per_million_deliveries_month']:.4f} "
        f"a month per 1M deliveries"
    )


def _secrets_line(result: dict[str, Any]) -> str:
    s = result["secrets_manager"]
    caches = ", ".join(
        f"{name} {f'{ttl:.0f} s' if ttl else 'per cold start'}" for name, ttl in sorted(s["cache_seconds"].items())
    )
    return (
        f"Secrets Manager: {s['measured_calls']} reads measured in the mix, {s['cache_fills']} of them cache fills "
        f"({caches}); priced at the steady state: {s['warm_environments']} warm environment per function, "
        f"a cold start every {730 / s['cold_starts_per_month']:.0f} h, {s['deliveries_per_month']:,} deliveries a "
        f"month = {s['steady_calls_per_month']:,.0f} reads a month"
    )
