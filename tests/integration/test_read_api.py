"""The read API's function on the stack provisioned from template.yaml: webhooks delivered
through the pipeline come back from ``GET /v1/connections/acme/bookings`` in start order, page
by page, and every AWS request it makes is one its own role allows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import event_json
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import Pipeline

HOURS = [5, 1, 3, 0, 4]  # delivered out of start order


def booking_at(hour: int) -> bytes:
    """Ada's booking, its own event and invitee, the meeting at ``hour``:00 on Dec 3."""
    text = json.dumps(event_json("invitee_created.json"))
    text = text.replace("DEMOEVENT0000001", f"EVENT{hour:011d}").replace("INVITEE00000001", f"INVITEE{hour:08d}")
    text = text.replace("2026-12-01T15:", f"2026-12-03T{hour:02d}:")
    return text.encode()


def bookings_request(connection_id: str, **query: str) -> dict[str, Any]:
    """``GET /v1/connections/{connection_id}/bookings`` as API Gateway's REST proxy hands it over."""
    return {
        "resource": "/v1/connections/{connection_id}/bookings",
        "path": f"/v1/connections/{connection_id}/bookings",
        "httpMethod": "GET",
        "headers": {"Host": "api.example"},
        "pathParameters": {"connection_id": connection_id},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "requestContext": {"requestId": "req-read-1", "identity": {"userArn": "arn:aws:iam::123456789012:user/app"}},
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def read_api(pipeline: Pipeline) -> Any:
    return load_handler(pipeline.stack.functions["ReadApiFunction"], apply_environment=False)


def test_delivered_bookings_come_back_in_start_order_page_by_page(pipeline: Pipeline, read_api: Any) -> None:
    # Given five bookings of acme delivered through the receiver and processed, out of start order
    for hour in HOURS:
        assert pipeline.post(booking_at(hour))["statusCode"] == 202
    pipeline.drain()
    # When an application reads them two at a time, following next_cursor
    starts, cursor, pages = [], None, 0
    with recorded_calls() as calls:
        while True:
            query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
            response = read_api(bookings_request("acme", **query), LambdaContext("read-api"))
            assert response["statusCode"] == 200, response["body"]
            page = json.loads(response["body"])
            starts += [b["start_time"] for b in page["bookings"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    # Then every booking comes once, by start time, in three pages
    assert starts == [f"2026-12-03T{h:02d}:00:00Z" for h in sorted(HOURS)]
    assert pages == 3
    # And each request it made is one its own role allows
    assert all(a in calls for a in ("dynamodb:Query", "dynamodb:GetItem", "secretsmanager:GetSecretValue"))
    assert not_granted("ReadApiFunction", calls) == []


def test_an_unknown_connection_is_a_404_and_a_bad_limit_a_400(pipeline: Pipeline, read_api: Any) -> None:
    with recorded_calls() as calls:
        missing = read_api(bookings_request("nobody"), LambdaContext("read-api"))
        too_many = read_api(bookings_request("acme", limit="101"), LambdaContext("read-api"))
    assert (missing["statusCode"], json.loads(missing["body"])["error"]) == (404, "not_found")
    assert (too_many["statusCode"], json.loads(too_many["body"])["parameter"]) == (400, "limit")
    assert not_granted("ReadApiFunction", calls) == []
