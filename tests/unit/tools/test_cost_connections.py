"""`make cost`'s connection figures: $ per connection per month from the scale simulation's request
counts, and the totals for 10,000 and 100,000 connections."""

from __future__ import annotations

import pytest

from calsync_dev.cost import prices as p
from calsync_dev.cost.connections import connection_figures, connection_table, measured, per_connection

COUNTS = {
    "lambda_gb_s": 300.0,
    "lambda_requests": 1_000.0,
    "secretsmanager_requests": 2_000.0,
    "dynamodb_requests": 10_000.0,
    "dynamodb_reads": 4_000.0,
    "sqs_requests": 3_000.0,
}


def test_each_item_is_its_requests_times_its_price() -> None:
    dollars = per_connection(COUNTS)
    assert dollars["secrets"] == pytest.approx(2 * p.SECRET_PER_MONTH)
    assert dollars["secrets_manager_calls"] == pytest.approx(2_000 * p.SECRETS_PER_10K_CALLS / 10_000)
    assert dollars["dispatch_sqs"] == pytest.approx(3_000 * p.SQS_PER_MILLION_REQUESTS / 1e6)
    assert dollars["lambda"] == pytest.approx(
        300 * p.LAMBDA_ARM64_PER_GB_SECOND + 1_000 * p.LAMBDA_PER_MILLION_REQUESTS / 1e6
    )
    assert dollars["dynamodb"] == pytest.approx(
        (6_000 * p.DYNAMODB_PER_MILLION_WRITE_UNITS + 4_000 * p.DYNAMODB_PER_MILLION_READ_UNITS) / 1e6
    )
    items = sum(v for k, v in dollars.items() if k != "total")
    assert dollars["total"] == pytest.approx(items)


def test_the_totals_are_the_per_connection_cost_times_10000_and_100000() -> None:
    figures = connection_figures(COUNTS)
    total = per_connection(COUNTS)["total"]
    assert figures["usd_per_month"] == {"10000": round(total * 10_000, 2), "100000": round(total * 100_000, 2)}
    assert "100,000 connections" in connection_table(figures)


def test_the_counts_come_from_the_simulation() -> None:
    # When make cost measures the scheduled jobs on a few simulated connections
    counts = measured(connections=20)
    # Then every count the arithmetic needs is there, and each connection makes some of each
    for key in COUNTS:
        assert counts[key] > 0
    assert counts["dynamodb_reads"] < counts["dynamodb_requests"]
