"""The /v1 API on the local stack as an application calls it: SigV4-signed with the local
stack's credentials (one client for local and deployed), API Gateway's 403 otherwise, and every
served route's real answers checked against openapi/calsync-v1.yaml by schemathesis. Adding a
route is adding a row to CONTRACT_CASES."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.credentials import Credentials

from calsync_dev.api_contract import SigV4, check, contract, served_operations
from calsync_dev.cli.send import post_signed
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.signed_api import call
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import EVENTS

pytestmark = pytest.mark.e2e

BOOKINGS = "/v1/connections/{connection_id}/bookings"
CANCEL = f"{BOOKINGS}/{{invitee_uuid}}/cancel"
NO_SHOW = f"{BOOKINGS}/{{invitee_uuid}}/no-show"
BOOK = {
    "event_type": "ET-DEMO",
    "start_time": "2026-12-10T15:00:00Z",
    "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"},
}


@pytest.fixture(scope="module")
def api_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A local stack whose ready-made ``local`` connection has the sample bookings."""
    stack = new_stack(tmp_path_factory.mktemp("api")).start()
    try:
        for name in (
            "invitee_created.json",
            "invitee_rescheduled_canceled_old.json",
            "invitee_rescheduled_created_new.json",
        ):
            status, _ = post_signed(stack.webhook_url, (EVENTS / "webhooks" / name).read_bytes(), DEFAULT_LOCAL_KEY)
            assert status == 202
        url = f"http://127.0.0.1:{stack.api_port}/v1/connections/local/bookings"
        wait_for(lambda: len(call("GET", url).json().get("bookings", [])) >= 2, what="the sample bookings")
        yield stack
    finally:
        try:
            stack.stop()
        finally:
            stack.kill()


def base(stack: RunningStack) -> str:
    return f"http://127.0.0.1:{stack.api_port}"


def test_an_unsigned_call_gets_api_gateways_403(api_stack: RunningStack) -> None:
    # Given no signature, When the local bookings are asked for
    answer = call("GET", f"{base(api_stack)}/v1/connections/local/bookings", signed=False)
    # Then API Gateway's own 403 answers, and calsync never ran
    assert answer.status == 403
    assert answer.json() == {"message": "Missing Authentication Token"}


def test_a_signed_call_reads_the_local_connections_bookings(api_stack: RunningStack) -> None:
    # Given the local stack's credentials, When a signed GET asks for the local connection's bookings
    answer = call("GET", f"{base(api_stack)}/v1/connections/local/bookings?limit=10")
    # Then they come back, the sample booking among them
    assert answer.status == 200
    names = {b["event_name"] for b in answer.json()["bookings"]}
    assert "Product demo" in names


def test_the_ready_made_local_connection_is_registered_like_any_other(
    api_stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local stack's connections registry
    from calsync import compose

    target = api_stack.target(monkeypatch)
    registry = compose.connection_registry(target.table, dynamodb=api_stack.client("dynamodb"))
    # Then `local` is a registered connection (no Calendly token: the scheduled jobs skip it)
    connection = registry.get("local")
    assert connection is not None
    assert (connection.connection_id, connection.status) == ("local", "reauth_required")


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        (Credentials("local", "not-the-secret"), "The request signature we calculated does not match"),
        (Credentials("AKIAIOSFODNN7EXAMPLE", "local"), "The security token included in the request is invalid."),
    ],
)
def test_a_call_signed_with_other_credentials_is_refused(
    api_stack: RunningStack, credentials: Credentials, message: str
) -> None:
    answer = call("GET", f"{base(api_stack)}/v1/connections/local/bookings", credentials=credentials)
    assert answer.status == 403
    assert answer.json()["message"].startswith(message)


# ---------------------------------------------------------------- the contract, route by route


@dataclass(frozen=True)
class ContractCase:
    """One real call: the operation, its inputs, the status it must answer (and the contract decides the rest)."""

    name: str
    method: str
    path: str
    status: int
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    signed: bool = True


LOCAL = {"connection_id": "local"}

CONTRACT_CASES = [
    ContractCase("bookings", "GET", BOOKINGS, 200, LOCAL),
    ContractCase("bookings, a page of one", "GET", BOOKINGS, 200, LOCAL, {"limit": 1}),
    ContractCase(
        "bookings, every filter",
        "GET",
        BOOKINGS,
        200,
        LOCAL,
        {
            "status": "active",
            "email": "ada@example.com",
            "start_after": "2020-01-01T00:00:00Z",
            "start_before": "2040-01-01T00:00:00Z",
        },
    ),
    ContractCase("bookings, unknown connection", "GET", BOOKINGS, 404, {"connection_id": "nobody"}),
    ContractCase("bookings, limit 0", "GET", BOOKINGS, 400, LOCAL, {"limit": 0}),
    ContractCase("bookings, limit 101", "GET", BOOKINGS, 400, LOCAL, {"limit": 101}),
    ContractCase("bookings, bad status", "GET", BOOKINGS, 400, LOCAL, {"status": "maybe"}),
    ContractCase("bookings, bad time", "GET", BOOKINGS, 400, LOCAL, {"start_after": "yesterday"}),
    ContractCase("bookings, forged cursor", "GET", BOOKINGS, 400, LOCAL, {"cursor": "not-a-cursor"}),
    ContractCase("bookings, unsigned", "GET", BOOKINGS, 403, LOCAL, signed=False),
    # The actions (docs/actions.md): `local` has no Calendly token, so a valid request is a 409
    ContractCase("book, needs reauthorization", "POST", BOOKINGS, 409, LOCAL, body=BOOK),
    ContractCase("book, unknown connection", "POST", BOOKINGS, 404, {"connection_id": "nobody"}, body=BOOK),
    ContractCase("book, bad start", "POST", BOOKINGS, 400, LOCAL, body={**BOOK, "start_time": "soon"}),
    ContractCase("book, unsigned", "POST", BOOKINGS, 403, LOCAL, body=BOOK, signed=False),
    ContractCase("cancel, unknown connection", "POST", CANCEL, 404, {"connection_id": "nobody", "invitee_uuid": "X"}),
    ContractCase("no-show, unknown connection", "POST", NO_SHOW, 404, {"connection_id": "nobody", "invitee_uuid": "X"}),
    ContractCase("clear no-show, needs reauthorization", "DELETE", NO_SHOW, 409, {**LOCAL, "invitee_uuid": "X"}),
]


def test_every_served_route_has_rows_in_the_contract_table() -> None:
    assert served_operations() <= {(c.method, c.path) for c in CONTRACT_CASES}


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda c: c.name)
def test_real_answers_match_the_openapi_contract(api_stack: RunningStack, case: ContractCase) -> None:
    # Given the operation as openapi/calsync-v1.yaml describes it
    operation = contract()[case.path][case.method]
    built = operation.Case(path_parameters=case.path_parameters, query=case.query or None)
    if case.body is not None:
        built = operation.Case(path_parameters=case.path_parameters, body=case.body, media_type="application/json")
    # When it is called on the local stack (signed unless the row says otherwise)
    response = built.call(base_url=base(api_stack), auth=SigV4() if case.signed else None)
    # Then the status is the row's, and schemathesis finds the answer true to the contract
    assert response.status_code == case.status, response.text
    assert check(built, response) is None


def test_a_next_cursor_passed_back_reads_the_next_page_within_the_contract(api_stack: RunningStack) -> None:
    operation = contract()[BOOKINGS]["GET"]
    first = operation.Case(path_parameters=LOCAL, query={"limit": 1})
    page = first.call(base_url=base(api_stack), auth=SigV4())
    cursor = page.json()["next_cursor"]
    assert cursor, "several sample bookings, one per page: a second page"
    second = operation.Case(path_parameters=LOCAL, query={"limit": 1, "cursor": cursor})
    response = second.call(base_url=base(api_stack), auth=SigV4())
    assert response.status_code == 200
    assert check(second, response) is None
    assert response.json()["bookings"] != page.json()["bookings"]
