"""$ per connection per month for the scheduled jobs' fan-out (docs/scale.md), from the request
counts the scale simulation measures (``calsync_dev.scale``), not from constants: ``make cost``
runs it for a few hundred connections over a simulated day (per-connection figures do not depend on
N: every unit is one connection's), and totals it for 10,000 and 100,000 connections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calsync_dev.cost import prices as p

SECRETS_PER_CONNECTION = 2  # its OAuth token and its signing keys (cost.report)
TOTALS_FOR = (10_000, 100_000)
SIMULATED_CONNECTIONS = 500


def measured(connections: int = SIMULATED_CONNECTIONS) -> dict[str, float]:
    """The simulation's ``per_connection_month`` for ``connections`` over a day (a few seconds)."""
    from calsync_dev.scale.sim import Config, Simulation

    result = Simulation(Config(connections=connections)).run()
    per = result["per_connection_month"]
    assert isinstance(per, dict)
    return {str(k): float(v) for k, v in per.items()}


def per_connection(per_month: Mapping[str, float]) -> dict[str, float]:
    """$ per connection per month by item, from the simulation's requests per connection per month
    (every DynamoDB request ≤ 1 KB: a read 1 RRU (strongly consistent), a write 1 WRU)."""
    dynamodb = per_month["dynamodb_requests"]
    reads = per_month.get("dynamodb_reads", 0.0)
    writes = dynamodb - reads
    dollars = {
        "secrets": SECRETS_PER_CONNECTION * p.SECRET_PER_MONTH,
        "secrets_manager_calls": per_month["secretsmanager_requests"] * p.SECRETS_PER_10K_CALLS / 10_000,
        "dispatch_sqs": per_month.get("sqs_requests", 0.0) * p.SQS_PER_MILLION_REQUESTS / 1e6,
        "lambda": per_month["lambda_gb_s"] * p.LAMBDA_ARM64_PER_GB_SECOND
        + per_month.get("lambda_requests", 0.0) * p.LAMBDA_PER_MILLION_REQUESTS / 1e6,
        "dynamodb": (writes * p.DYNAMODB_PER_MILLION_WRITE_UNITS + reads * p.DYNAMODB_PER_MILLION_READ_UNITS) / 1e6,
    }
    dollars["total"] = sum(dollars.values())
    return dollars


def connection_figures(per_month: Mapping[str, float]) -> dict[str, Any]:
    dollars = per_connection(per_month)
    return {  # totals from the unrounded figures
        "requests_per_connection_month": dict(per_month),
        "usd_per_connection_month": {k: round(v, 6) for k, v in dollars.items()},
        "usd_per_month": {str(n): round(dollars["total"] * n, 2) for n in TOTALS_FOR},
        "usd_per_month_without_secrets": {
            str(n): round((dollars["total"] - dollars["secrets"]) * n, 2) for n in TOTALS_FOR
        },
    }


def connection_table(figures: Mapping[str, Any]) -> str:
    dollars = figures["usd_per_connection_month"]
    lines = ["Scheduled jobs per connection per month (make scale's counts):"]
    lines += [f"  {name:<24} ${value:.4f}" for name, value in dollars.items()]
    for n, total in figures["usd_per_month"].items():
        lines.append(f"  {int(n):,} connections: ${total:,.2f}/month")
    return "\n".join(lines)
