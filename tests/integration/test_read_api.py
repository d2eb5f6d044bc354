"""The read API's function on the stack provisioned from template.yaml: webhooks delivered
through the pipeline come back from ``GET /v1/connections/acme/bookings`` in start order, page
by page, and from every other read route (connections, one booking, one event, reports), each
body matching the OpenAPI contract, another tenant's ids a 404, every AWS request one its own
role allows, and a booking or an event read for at most one read unit per item returned."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from calsync import compose
from calsync.reconcile.report import Report, WindowReport
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import register_webhook_connection
from tests.factories import event_json
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import KEY, Pipeline
from tests.openapi_contract import check

HOURS = [5, 1, 3, 0, 4]  # delivered out of start order


def booking_at(hour: int) -> bytes:
    """Ada's booking, its own event (``EVENT<hour, 11 digits>``) and invitee
    (``INVITEE<hour, 8 digits>``), the meeting at ``hour``:00 on Dec 3."""
    text = json.dumps(event_json("invitee_created.json"))
    text = text.replace("DEMOEVENT0000001", f"EVENT{hour:011d}").replace("INVITEE00000001", f"INVITEE{hour:08d}")
    text = text.replace("2026-12-01T15:", f"2026-12-03T{hour:02d}:")
    return text.encode()


def bookings_request(connection_id: str, **query: str) -> dict[str, Any]:
    """``GET /v1/connections/{connection_id}/bookings`` as API Gateway's REST proxy hands it over."""
    return get_request("/v1/connections/{connection_id}/bookings", connection_id=connection_id, **query)


def get_request(resource: str, **params: str) -> dict[str, Any]:
    """``GET resource`` (a route template) as API Gateway's REST proxy hands it over: the path's
    ids from ``params`` (those the template names), the rest as the query string."""
    path = {k: params.pop(k) for k in list(params) if f"{{{k}}}" in resource}
    query = params
    return {
        "resource": resource,
        "path": resource.format(**path),
        "httpMethod": "GET",
        "headers": {"Host": "api.example"},
        "pathParameters": path or None,
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


BASE = "/v1/connections/{connection_id}"
BOOKING = f"{BASE}/bookings/{{invitee_uuid}}"
EVENT = f"{BASE}/events/{{event_uuid}}"


def _report(connection_id: str) -> dict[str, Any]:
    started = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    window = WindowReport("upcoming", started, started + timedelta(days=30), "covered")
    report = Report(connection_id, "scheduled", started, [window])
    report.api_calls, report.duration_seconds = 4, 2.5
    return report.as_dict()


@pytest.fixture
def two_tenants(pipeline: Pipeline) -> Pipeline:
    """acme holds the bookings at 1:00 and 3:00 and a completeness report; beta the one at 2:00."""
    register_webhook_connection(pipeline.stack.functions["ReceiverFunction"].environment, "beta", KEY)
    for hour in (1, 3):
        assert pipeline.post(booking_at(hour))["statusCode"] == 202
    assert pipeline.post(booking_at(2), connection_id="beta")["statusCode"] == 202
    pipeline.drain()
    compose.reports_reader(pipeline.repo.table_name).put_report(_report("acme"))
    return pipeline


def test_every_read_route_answers_as_the_contract_says(two_tenants: Pipeline, read_api: Any) -> None:
    def get(resource: str, **params: str) -> dict[str, Any]:
        response: dict[str, Any] = read_api(get_request(resource, **params), LambdaContext("read-api"))
        return response

    with recorded_calls() as calls:
        # The connections, one a page, following next_cursor
        ids, cursor = [], None
        while True:
            page = check(
                "GET", "/v1/connections", get("/v1/connections", limit="1", **({"cursor": cursor} if cursor else {}))
            )
            ids += [c["connection_id"] for c in page["connections"]]
            if (cursor := page["next_cursor"]) is None:
                break
        acme = check("GET", BASE, get(BASE, connection_id="acme"))
        bookings = check("GET", f"{BASE}/bookings", get(f"{BASE}/bookings", connection_id="acme"))
        booking = check("GET", BOOKING, get(BOOKING, connection_id="acme", invitee_uuid="INVITEE00000003"))
        event = check("GET", EVENT, get(EVENT, connection_id="acme", event_uuid="EVENT00000000001"))
        reports = check("GET", f"{BASE}/reports", get(f"{BASE}/reports", connection_id="acme", limit="5"))
        # another tenant's booking and event, an unknown connection, a bad limit
        foreign = [
            get(BOOKING, connection_id="acme", invitee_uuid="INVITEE00000002"),
            get(EVENT, connection_id="acme", event_uuid="EVENT00000000002"),
            get(BASE, connection_id="nobody"),
        ]
        refused = get(f"{BASE}/reports", connection_id="acme", limit="0")
    # Then each answer is what acme holds, in the contract's shape
    assert ids == ["acme", "beta"]
    assert acme["latest_report"]["api_calls"] == 4
    assert [b["invitee_uuid"] for b in bookings["bookings"]] == ["INVITEE00000001", "INVITEE00000003"]
    assert (booking["event_uuid"], booking["start_time"]) == ("EVENT00000000003", "2026-12-03T03:00:00Z")
    assert booking == next(b for b in bookings["bookings"] if b["invitee_uuid"] == "INVITEE00000003")
    assert [i["invitee_uuid"] for i in event["invitees"]] == ["INVITEE00000001"]
    assert event["start_time"] == "2026-12-03T01:00:00Z"
    assert [(r["reason"], r["duration_seconds"]) for r in reports["reports"]] == [("scheduled", 2.5)]
    # And beta's booking and event are 404s under acme, as an unknown connection is
    for response in foreign:
        assert response["statusCode"] == 404
        check("GET", BOOKING, response)
    assert check("GET", f"{BASE}/reports", refused)["parameter"] == "limit"
    # And every request it made is one its own role allows
    assert not_granted("ReadApiFunction", calls) == []


class Metered:
    """A DynamoDB client pricing each Query as DynamoDB bills an eventually consistent read:
    half a unit per 4 KB of the items read, rounded up per request, from their wire size (a
    little over DynamoDB's item size, so it errs high). moto reports a flat 1.0 a request."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.units = 0.0
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> Any:
        response = self.client.query(**request)
        assert request["ConsistentRead"] is False
        self.requests.append(request)
        self.units += 0.5 * max(1, math.ceil(len(json.dumps(response.get("Items", []))) / 4096))
        return response


def test_a_booking_or_an_event_costs_at_most_one_read_unit_per_item(two_tenants: Pipeline) -> None:
    # Given the adapter the function uses, on the provisioned table, its reads priced
    metered = Metered(boto3.client("dynamodb"))
    items = compose.tenant_items(two_tenants.repo.table_name, dynamodb=metered)  # type: ignore[arg-type]
    # When one booking is read / Then it costs one read unit (the index's key, its event and it)
    assert items.booking("acme", "INVITEE00000001") is not None
    assert (metered.units, len(metered.requests)) == (1.0, 2)
    # When one event with its invitee is read / Then half a unit: one Query of its partition
    metered.units = 0.0
    found = items.event("acme", "EVENT00000000001")
    assert found is not None
    assert metered.units == 0.5 <= len(found[1])
    # And another tenant's booking is refused for the index's half unit alone
    metered.units = 0.0
    assert items.booking("beta", "INVITEE00000001") is None
    assert metered.units == 0.5
