"""make api-fuzz's verdict: a failure of a served operation fails the run, by kind; an operation
the target does not serve is listed as not served, never counted as passing."""

from __future__ import annotations

from collections import Counter

import pytest

from calsync_dev.api_fuzz import OperationResult, exit_code, in_fuzz_order, kind_of, refused_parameter, report


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Server error", "server_error"),
        ("Response violates schema", "schema_violation"),
        ("Undocumented Content-Type", "schema_violation"),
        ("Missing Content-Type header", "schema_violation"),
        ("Undocumented status code", "status_violation"),
        ('signed call refused: {"message": "..."}', "other"),
    ],
)
def test_failures_are_counted_by_kind(title: str, kind: str) -> None:
    assert kind_of(title) == kind


def test_an_operation_not_served_is_reported_and_fails_only_when_every_one_is_required(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given one served operation without failures and one the target does not serve
    served = OperationResult("GET", "/v1/connections/{connection_id}/bookings", cases=10, statuses=Counter({200: 10}))
    missing = OperationResult("GET", "/v1/connections", served=False)
    # When the run is reported
    figures = report([served, missing], "http://127.0.0.1:3000", 5)
    # Then the missing one is named as not served, its cases not counted
    assert figures["not_served"] == ["GET /v1/connections"]
    assert figures["cases"] == 10
    assert "NOT SERVED" in capsys.readouterr().out
    # And the run passes unless every operation is required
    assert exit_code(figures, require_all=False) == 0
    assert exit_code(figures, require_all=True) == 1


def test_a_server_error_or_schema_violation_fails_the_run() -> None:
    broken = OperationResult("GET", "/v1/connections/{connection_id}/bookings", cases=3)
    broken.failures.update({"server_error": 1, "schema_violation": 2})
    figures = report([broken], "http://127.0.0.1:3000", 1)
    assert (figures["server_errors"], figures["schema_violations"]) == (1, 2)
    assert exit_code(figures, require_all=False) == 1


def test_the_per_status_totals_of_served_operations_are_in_the_figures() -> None:
    reads = OperationResult("GET", "/v1/connections", cases=3, statuses=Counter({200: 2, 400: 1}))
    bookings = OperationResult("GET", "/v1/connections/{connection_id}/bookings", cases=2, statuses=Counter({400: 2}))
    assert report([reads, bookings], "http://127.0.0.1:3000", 1)["statuses"] == {"200": 2, "400": 3}


def test_a_delete_is_fuzzed_after_every_other_operation() -> None:
    # Given the contract's operations in document order, a DELETE among them
    order = [("GET", "/a"), ("DELETE", "/a"), ("POST", "/a"), ("GET", "/b")]
    operations = [OperationResult(method.lower(), path) for method, path in order]
    # When they are put in the order the fuzzer runs them
    ran = in_fuzz_order(operations)
    # Then the DELETE runs last (it may remove the ready-made `local` connection), the rest keep their order
    assert [(o.method, o.path) for o in ran] == [("get", "/a"), ("post", "/a"), ("get", "/b"), ("delete", "/a")]


def test_valid_inputs_refused_are_counted_by_the_parameter_the_400_names() -> None:
    # Given two operations whose valid-mode inputs got 400s naming their parameters
    bookings = OperationResult("GET", "/v1/connections/{connection_id}/bookings", cases=4, valid_refused=3)
    bookings.refused_by.update({"cursor": 2, "start_before": 1})
    connections = OperationResult("GET", "/v1/connections", cases=2, valid_refused=1)
    connections.refused_by.update({"cursor": 1})
    # When the run is reported
    figures = report([bookings, connections], "http://127.0.0.1:3000", 1)
    # Then the figures say which parameters the contract allows more of than the code
    assert figures["valid_inputs_refused"] == 4
    assert figures["valid_inputs_refused_by_parameter"] == {"cursor": 3, "start_before": 1}
    assert exit_code(figures, require_all=False) == 0


class Answer:
    def __init__(self, body: object) -> None:
        self.body = body

    def json(self) -> object:
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"error": "bad_request", "message": "m", "parameter": "cursor"}, "cursor"),
        ({"message": "m"}, "?"),
        ([], "?"),
        (ValueError("not JSON"), "?"),
    ],
)
def test_the_parameter_of_a_400_is_read_from_its_body(body: object, parameter: str) -> None:
    assert refused_parameter(Answer(body)) == parameter
