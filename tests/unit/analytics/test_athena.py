"""``calsync stats --stack``: the deployed named queries run on Athena (stubbed: botocore's Stubber,
no AWS), with the window as execution parameters, and print the same tables as the local path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from calsync.analytics.metrics import NAMES, MetricWindow, sql
from calsync_dev import cli
from calsync_dev.analytics import athena
from calsync_dev.analytics.athena import AthenaError, AthenaLake, literal

WINDOW = MetricWindow(
    as_of=datetime(2026, 12, 10, tzinfo=UTC), since=datetime(2026, 11, 1, tzinfo=UTC), connection_id="o'hara"
)
PARAMETERS = ["'2026-11-01 00:00:00.000000'", "NULL", "'o''hara'", "'2026-12-10 00:00:00.000000'"]


def _client() -> Any:
    return boto3.client("athena", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def _cells(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def _named(stub: Stubber) -> None:
    ids = [f"q-{name}" for name in NAMES]
    stub.add_response("list_named_queries", {"NamedQueryIds": ids[:4], "NextToken": "t"}, {"WorkGroup": "calsync-prod"})
    stub.add_response("list_named_queries", {"NamedQueryIds": ids[4:]}, {"WorkGroup": "calsync-prod", "NextToken": "t"})
    queries = [
        {"Name": name, "Database": "calsync_prod", "QueryString": sql(name), "NamedQueryId": f"q-{name}"}
        for name in NAMES
    ]
    stub.add_response(
        "batch_get_named_query", {"NamedQueries": queries, "UnprocessedNamedQueryIds": []}, {"NamedQueryIds": ids}
    )


def _execution(stub: Stubber, text: Any, *states: str) -> None:
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "e1"},
        {
            "QueryString": text,
            "QueryExecutionContext": {"Database": "calsync_prod"},
            "WorkGroup": "calsync-prod",
            "ExecutionParameters": PARAMETERS,
        },
    )
    for state in states:
        status: dict[str, Any] = {"State": state}
        if state == "FAILED":
            status["StateChangeReason"] = "Query exhausted resources: bytes scanned limit"
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": status}}, {"QueryExecutionId": "e1"})


RATES_COLUMNS = [
    ("event_type", "varchar"),
    ("bookings", "bigint"),
    ("canceled", "bigint"),
    ("rescheduled", "bigint"),
    ("ended", "bigint"),
    ("no_shows", "bigint"),
    ("cancellation_rate", "double"),
    ("reschedule_rate", "double"),
    ("no_show_rate", "double"),
]


def _rates_results(stub: Stubber) -> None:
    info = [{"Name": n, "Type": t} for n, t in RATES_COLUMNS]
    header = _cells(*(n for n, _ in RATES_COLUMNS))
    first = {"ResultSet": {"Rows": [header, _cells("Demo", "4", "1", "1", "2", "1", "0.25", "0.25", "0.5")],
                           "ResultSetMetadata": {"ColumnInfo": info}}, "NextToken": "p2"}  # fmt: skip
    second = {"ResultSet": {"Rows": [_cells("Intro", "1", "0", "0", "0", "0", "0.0", "0.0", None)],
                            "ResultSetMetadata": {"ColumnInfo": info}}}  # fmt: skip
    stub.add_response("get_query_results", first, {"QueryExecutionId": "e1"})
    stub.add_response("get_query_results", second, {"QueryExecutionId": "e1", "NextToken": "p2"})


def test_a_metric_runs_its_deployed_named_query_with_the_window_as_execution_parameters() -> None:
    # Given a workgroup holding the metrics' named queries, and Athena running one (after a wait)
    client = _client()
    slept: list[float] = []
    lake = AthenaLake(client, "calsync-prod", "calsync_prod", sleep=slept.append)
    with Stubber(client) as stub:
        _named(stub)
        _execution(stub, sql("rates_by_event_type").rstrip(), "QUEUED", "RUNNING", "SUCCEEDED")
        _rates_results(stub)
        # When the metric is run for a window
        result = lake.run("rates_by_event_type", WINDOW)
        stub.assert_no_pending_responses()
    # Then the deployed text ran with since, until, connection id and as-of as SQL literals, and the
    # rows of every page came back typed as DuckDB would type them
    assert result.columns == [n for n, _ in RATES_COLUMNS]
    assert result.rows == [("Demo", 4, 1, 1, 2, 1, 0.25, 0.25, 0.5), ("Intro", 1, 0, 0, 0, 0, 0.0, 0.0, None)]
    assert result.total == 2
    assert len(slept) == 2


def test_a_listing_shows_its_first_rows_and_counts_them_all_in_one_query() -> None:
    client = _client()
    lake = AthenaLake(client, "calsync-prod", "calsync_prod", sleep=lambda _: None)
    with Stubber(client) as stub:
        _named(stub)
        _execution(stub, ANY, "SUCCEEDED")
        info = [{"Name": "invitee_uuid", "Type": "varchar"}, {"Name": "start_time", "Type": "timestamp(3)"},
                {"Name": "no_show", "Type": "boolean"}, {"Name": "total_rows", "Type": "bigint"}]  # fmt: skip
        rows = [_cells("invitee_uuid", "start_time", "no_show", "total_rows"),
                _cells("I1", "2026-12-01 15:00:00.000", "false", "1234")]  # fmt: skip
        stub.add_response(
            "get_query_results",
            {"ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": info}}},
            {"QueryExecutionId": "e1"},
        )
        result = lake.run("current_bookings", WINDOW, limit=1)
    assert result.columns == ["invitee_uuid", "start_time", "no_show"]
    assert result.rows == [("I1", datetime(2026, 12, 1, 15), False)]
    assert result.total == 1234


def test_a_failed_query_says_why_and_a_missing_named_query_says_to_deploy() -> None:
    client = _client()
    lake = AthenaLake(client, "calsync-prod", "calsync_prod", sleep=lambda _: None)
    with Stubber(client) as stub:
        _named(stub)
        _execution(stub, ANY, "FAILED")
        with pytest.raises(AthenaError, match="bytes scanned limit"):
            lake.run("lead_time", WINDOW)
    lake._texts = {"lead_time": "SELECT 1"}
    with pytest.raises(AthenaError, match="deploy"):
        lake.run("routing_forms", WINDOW)


def test_literals_are_quoted_and_null_is_null() -> None:
    assert literal(None) == "NULL"
    assert literal("o'hara") == "'o''hara'"


def test_calsync_stats_stack_prints_the_same_tables_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack's lake on a stubbed Athena
    client = _client()
    lake = AthenaLake(client, "calsync-prod", "calsync_prod", sleep=lambda _: None)
    monkeypatch.setattr(athena, "from_stack", lambda name: lake if name == "prod" else None)
    args = ["stats", "--stack", "prod", "--metric", "rates_by_event_type", "--since", "2026-11-01"]
    args += ["--as-of", "2026-12-10", "--connection-id", "o'hara"]
    with Stubber(client) as stub:
        _named(stub)
        _execution(stub, ANY, "SUCCEEDED")
        _rates_results(stub)
        # When `calsync stats --stack prod --json` runs
        assert cli.main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Then the JSON has the metric's rows as the local path writes them
    assert out["metrics"]["rates_by_event_type"]["rows"][0]["event_type"] == "Demo"
    assert out["metrics"]["rates_by_event_type"]["total_rows"] == 2
    # And without --json it prints the table
    lake._texts = {}
    with Stubber(client) as stub:
        _named(stub)
        _execution(stub, ANY, "SUCCEEDED")
        _rates_results(stub)
        assert cli.main(args) == 0
    assert "Cancellation, reschedule and no-show rates by event type" in capsys.readouterr().out


def test_a_stack_without_the_lake_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_lake(name: str) -> AthenaLake:
        raise AthenaError(f"stack {name} has no analytics lake (deploy it with Analytics=on)")

    monkeypatch.setattr(athena, "from_stack", no_lake)
    assert cli.main(["stats", "--stack", "prod"]) == 1
    assert "Analytics=on" in capsys.readouterr().err
