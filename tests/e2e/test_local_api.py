"""The /v1 API on the local stack as an application calls it: SigV4-signed with the local
stack's credentials (one client for local and deployed), API Gateway's 403 otherwise, and every
served route's real answers checked against openapi/calsync-v1.yaml by schemathesis. Adding a
route is adding a row to CONTRACT_CASES."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.credentials import Credentials

from calsync_dev.api_contract import SigV4, check, contract, served_operations
from calsync_dev.cli.send import post_signed
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.provision import register_webhook_connection
from calsync_dev.signed_api import call
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import EVENTS

pytestmark = pytest.mark.e2e

CONNECTIONS = "/v1/connections"
CONNECTION = "/v1/connections/{connection_id}"
BOOKINGS = "/v1/connections/{connection_id}/bookings"
BOOKING = "/v1/connections/{connection_id}/bookings/{invitee_uuid}"
EVENT = "/v1/connections/{connection_id}/events/{event_uuid}"
REPORTS = "/v1/connections/{connection_id}/reports"
CONTACTS = "/v1/connections/{connection_id}/contacts"
CANCEL = f"{BOOKINGS}/{{invitee_uuid}}/cancel"
NO_SHOW = f"{BOOKINGS}/{{invitee_uuid}}/no-show"
BOOK = {
    "event_type": "ET-DEMO",
    "start_time": "2026-12-10T15:00:00Z",
    "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"},
}
# Connections of the contract's own, made through the fake Calendly as an app's button would
# (POST /v1/connections, then the customer approving): one stays connected (409 to a second
# connect, another tenant for foreign cursors), one is disconnected by the DELETE rows, one is
# held busy (its lease taken, as a token refresh would) for the DELETE's 409. The shared `local`
# connection is never disconnected here.
LIVE, BYE, BUSY = "contract-live", "contract-bye", "contract-busy"
HOOKS = "contract-hooks"  # webhooks only, no token (as `local`): its disconnect must complete too
# The erasure rows erase only people nobody else relies on: two bookings of their own, sent to a
# webhooks-only connection of their own (never `local`'s sample people, which other rows read).
ERASABLE = "contract-erase"
TENANT_PERSON, EVERYONE_PERSON = "erase-tenant@example.com", "erase-everyone@example.com"


def a_booking_of(email: str, uuid: str) -> bytes:
    """The sample invitee.created delivery, for another person at an event of their own (``uuid``
    names both: a shared event would be `local`'s, and its invitees would change)."""
    sample = (EVENTS / "webhooks" / "invitee_created.json").read_text()
    for mine, theirs in (("ada@example.com", email), ("INVITEE00000001", uuid), ("DEMOEVENT0000001", uuid)):
        sample = sample.replace(mine, theirs)
    return sample.encode()


def connect_through_the_fake_calendly(api: str, connection_id: str) -> None:
    started = call("POST", f"{api}/v1/connections", json.dumps({"connection_id": connection_id}).encode())
    assert started.status == 201, started.body
    with urllib.request.urlopen(started.json()["authorize_url"], timeout=60) as page:  # noqa: S310 - loopback
        assert page.status == 200


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
        for connection_id in (LIVE, BYE, BUSY):
            connect_through_the_fake_calendly(base(stack), connection_id)
        with pytest.MonkeyPatch.context() as patch:
            from calsync import compose

            target = stack.target(patch)
            registry = compose.connection_registry(target.table, dynamodb=stack.client("dynamodb"))
            assert registry.acquire_lease(BUSY, owner="contract-test", now=int(time.time()), seconds=3600)
            register_webhook_connection(
                {"BOOKINGS_TABLE_NAME": target.table, "SIGNING_KEY_PREFIX": target.signing_key_prefix},
                HOOKS,
                DEFAULT_LOCAL_KEY,
                status="reauth_required",
                dynamodb=stack.client("dynamodb"),
                secretsmanager=stack.client("secretsmanager"),
            )
            register_webhook_connection(
                {"BOOKINGS_TABLE_NAME": target.table, "SIGNING_KEY_PREFIX": target.signing_key_prefix},
                ERASABLE,
                DEFAULT_LOCAL_KEY,
                status="reauth_required",
                dynamodb=stack.client("dynamodb"),
                secretsmanager=stack.client("secretsmanager"),
            )
        hook = stack.webhook_url.removesuffix("/local") + f"/{ERASABLE}"
        for email, invitee in ((TENANT_PERSON, "ERASETENANT0001"), (EVERYONE_PERSON, "ERASEEVERYONE01")):
            status, _ = post_signed(hook, a_booking_of(email, invitee), DEFAULT_LOCAL_KEY)
            assert status == 202
        mine = f"{base(stack)}/v1/connections/{ERASABLE}/bookings"
        wait_for(lambda: len(call("GET", mine).json().get("bookings", [])) == 2, what="the erasure rows' bookings")
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
    """One real call: the operation, its inputs, the status it must answer (and the contract decides
    the rest). ``cursor_from``: a signed GET (a path and query) whose ``next_cursor`` is sent as
    ``cursor`` (``tamper``: with its last character changed). ``filled``: a field of the answer
    that must not be empty. ``erasure_of``: (a connection id or None for everywhere, an address)
    whose erasure is asked for first, its id sent as ``erasure_id`` (``done``: once it is done)."""

    name: str
    method: str
    path: str
    status: int
    path_parameters: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    signed: bool = True
    cursor_from: str | None = None
    tamper: bool = False
    filled: str | None = None
    erasure_of: tuple[str | None, str] | None = None
    done: bool = False


LOCAL = {"connection_id": "local"}
ADA = {"connection_id": "local", "invitee_uuid": "INVITEE00000001"}
DEMO = {"connection_id": "local", "event_uuid": "DEMOEVENT0000001"}
NOBODY = {"connection_id": "nobody"}
LOCAL_PAGE = "/v1/connections/local/bookings?limit=1"
HUGE = 10**30
ERASURES = "/v1/connections/{connection_id}/erasures"
ERASURE = "/v1/connections/{connection_id}/erasures/{erasure_id}"
EVERYWHERE = "/v1/erasures"
ANY_ERASURE = "/v1/erasures/{erasure_id}"
MINE = {"connection_id": ERASABLE}
NO_SUCH_ERASURE = "0123456789abcdef0123456789abcdef"
# Bodies every erasure POST refuses with a 400 (the address is never what got erased).
BAD_ERASURE_BODIES: list[tuple[str, Any]] = [
    ("no email", {}),
    ("empty email", {"email": ""}),
    ("not an email", {"email": "ada"}),
    ("two addresses", {"email": "ada@example.com, bob@example.com"}),
    ("email with a control character", {"email": "ada\x00@example.com"}),
    ("email with a zero-width character", {"email": "ad\u200ba@example.com"}),
    ("email with a bidi override", {"email": "\u202eada@example.com"}),
    ("email with a private-use character", {"email": "ada\ue000@example.com"}),
    ("email with a space", {"email": "ada lovelace@example.com"}),
    ("email not a string", {"email": 5}),
    ("email a list", {"email": ["ada@example.com"]}),
    ("email null", {"email": None}),
    ("a list", ["ada@example.com"]),
    ("a string", "ada@example.com"),
    ("unknown field", {"email": "ada@example.com", "connection_id": "local"}),
    ("huge email", {"email": "a" * 5000 + "@example.com"}),
    ("huge body", {"email": "ada@example.com", "padding": "x" * 100_000}),
    ("not JSON", b"email=ada@example.com"),
    ("not UTF-8", b'{"email": "ada\xff@example.com"}'),
]

CONTRACT_CASES = [
    # GET /v1/connections
    ContractCase("connections", "GET", CONNECTIONS, 200, filled="connections"),
    ContractCase("connections, a page of one", "GET", CONNECTIONS, 200, query={"limit": 1}, filled="next_cursor"),
    ContractCase(
        "connections, next page", "GET", CONNECTIONS, 200, query={"limit": 1}, cursor_from=f"{CONNECTIONS}?limit=1"
    ),
    ContractCase("connections, limit 0", "GET", CONNECTIONS, 400, query={"limit": 0}),
    ContractCase("connections, huge limit", "GET", CONNECTIONS, 400, query={"limit": HUGE}),
    ContractCase("connections, limit not a number", "GET", CONNECTIONS, 400, query={"limit": "ten"}),
    ContractCase("connections, unknown parameter", "GET", CONNECTIONS, 400, query={"email": "ada@example.com"}),
    ContractCase("connections, forged cursor", "GET", CONNECTIONS, 400, query={"cursor": "not-a-cursor"}),
    ContractCase(
        "connections, tampered cursor", "GET", CONNECTIONS, 400, cursor_from=f"{CONNECTIONS}?limit=1", tamper=True
    ),
    ContractCase("connections, a bookings cursor", "GET", CONNECTIONS, 400, query={"limit": 1}, cursor_from=LOCAL_PAGE),
    ContractCase("connections, unsigned", "GET", CONNECTIONS, 403, signed=False),
    # POST /v1/connections
    ContractCase("connect", "POST", CONNECTIONS, 201, body={"connection_id": "contract-new"}),
    ContractCase(
        "connect, return_to",
        "POST",
        CONNECTIONS,
        201,
        body={"connection_id": "contract-app", "return_to": "http://localhost:5173/calendly/done"},
    ),
    ContractCase("connect, not JSON", "POST", CONNECTIONS, 400, body=b"connection_id=acme"),
    ContractCase("connect, not UTF-8", "POST", CONNECTIONS, 400, body=b'{"connection_id": "\xff"}'),
    ContractCase("connect, not an object", "POST", CONNECTIONS, 400, body=["contract-x"]),
    ContractCase("connect, id not a string", "POST", CONNECTIONS, 400, body={"connection_id": 5}),
    ContractCase(
        "connect, return_to not a string", "POST", CONNECTIONS, 400, body={"connection_id": "x", "return_to": []}
    ),
    ContractCase("connect, no id", "POST", CONNECTIONS, 400, body={}),
    ContractCase("connect, unknown field", "POST", CONNECTIONS, 400, body={"connection_id": "x", "secret": "y"}),
    ContractCase("connect, bad id", "POST", CONNECTIONS, 400, body={"connection_id": "acme corp"}),
    ContractCase("connect, odd Unicode id", "POST", CONNECTIONS, 400, body={"connection_id": "acme\u200b"}),
    ContractCase("connect, huge body", "POST", CONNECTIONS, 400, body={"connection_id": "x" * 100_000}),
    ContractCase(
        "connect, return_to elsewhere",
        "POST",
        CONNECTIONS,
        400,
        body={"connection_id": "contract-x", "return_to": "https://evil.example/steal"},
    ),
    ContractCase("connect, already connected", "POST", CONNECTIONS, 409, body={"connection_id": LIVE}),
    ContractCase("connect, unsigned", "POST", CONNECTIONS, 403, body={"connection_id": "contract-x"}, signed=False),
    # GET /v1/connections/{connection_id}
    ContractCase("connection, local", "GET", CONNECTION, 200, LOCAL, filled="organization"),
    ContractCase("connection, connected", "GET", CONNECTION, 200, {"connection_id": LIVE}, filled="token_expires_at"),
    ContractCase("connection, unknown", "GET", CONNECTION, 404, NOBODY),
    ContractCase("connection, odd Unicode id", "GET", CONNECTION, 404, {"connection_id": "lo\u0301cal"}),
    ContractCase("connection, unknown parameter", "GET", CONNECTION, 400, LOCAL, {"limit": 1}),
    ContractCase("connection, unsigned", "GET", CONNECTION, 403, LOCAL, signed=False),
    # GET /v1/connections/{connection_id}/bookings
    ContractCase("bookings", "GET", BOOKINGS, 200, LOCAL, filled="bookings"),
    ContractCase("bookings, a page of one", "GET", BOOKINGS, 200, LOCAL, {"limit": 1}, filled="next_cursor"),
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
        filled="bookings",
    ),
    ContractCase("bookings, an email in other letters", "GET", BOOKINGS, 200, LOCAL, {"email": "zoë@exämple.com"}),
    ContractCase("bookings, next page", "GET", BOOKINGS, 200, LOCAL, {"limit": 1}, cursor_from=LOCAL_PAGE),
    ContractCase("bookings, unknown connection", "GET", BOOKINGS, 404, NOBODY),
    ContractCase("bookings, limit 0", "GET", BOOKINGS, 400, LOCAL, {"limit": 0}),
    ContractCase("bookings, limit 101", "GET", BOOKINGS, 400, LOCAL, {"limit": 101}),
    ContractCase("bookings, huge limit", "GET", BOOKINGS, 400, LOCAL, {"limit": HUGE}),
    ContractCase("bookings, bad status", "GET", BOOKINGS, 400, LOCAL, {"status": "maybe"}),
    ContractCase("bookings, bad time", "GET", BOOKINGS, 400, LOCAL, {"start_after": "yesterday"}),
    ContractCase("bookings, time without zone", "GET", BOOKINGS, 400, LOCAL, {"start_after": "2026-01-01T00:00:00"}),
    ContractCase(
        "bookings, start_before not after start_after",
        "GET",
        BOOKINGS,
        400,
        LOCAL,
        {"start_after": "2026-01-02T00:00:00Z", "start_before": "2026-01-01T00:00:00Z"},
    ),
    ContractCase("bookings, not an email", "GET", BOOKINGS, 400, LOCAL, {"email": "ada"}),
    ContractCase(
        "bookings, email with a control character", "GET", BOOKINGS, 400, LOCAL, {"email": "ada\x00@example.com"}
    ),
    ContractCase(
        "bookings, email with an invisible character", "GET", BOOKINGS, 400, LOCAL, {"email": "ad\u200ba@example.com"}
    ),
    ContractCase(
        "bookings, email with a private-use character", "GET", BOOKINGS, 400, LOCAL, {"email": "ada\ue000@example.com"}
    ),
    ContractCase("bookings, huge email", "GET", BOOKINGS, 400, LOCAL, {"email": "a" * 5000 + "@example.com"}),
    ContractCase("bookings, unknown parameter", "GET", BOOKINGS, 400, LOCAL, {"sort": "desc"}),
    ContractCase("bookings, forged cursor", "GET", BOOKINGS, 400, LOCAL, {"cursor": "not-a-cursor"}),
    ContractCase(
        "bookings, tampered cursor", "GET", BOOKINGS, 400, LOCAL, {"limit": 1}, cursor_from=LOCAL_PAGE, tamper=True
    ),
    ContractCase("bookings, huge cursor", "GET", BOOKINGS, 400, LOCAL, {"cursor": "A" * 5000}),
    ContractCase(
        "bookings, a cursor from another connection",
        "GET",
        BOOKINGS,
        400,
        {"connection_id": LIVE},
        cursor_from=LOCAL_PAGE,
    ),
    ContractCase(
        "bookings, a cursor for other filters",
        "GET",
        BOOKINGS,
        400,
        LOCAL,
        {"status": "active"},
        cursor_from=LOCAL_PAGE,
    ),
    ContractCase("bookings, a connections cursor", "GET", BOOKINGS, 400, LOCAL, cursor_from=f"{CONNECTIONS}?limit=1"),
    ContractCase("bookings, unsigned", "GET", BOOKINGS, 403, LOCAL, signed=False),
    # GET /v1/connections/{connection_id}/bookings/{invitee_uuid}
    ContractCase("booking", "GET", BOOKING, 200, ADA, filled="email"),
    ContractCase("booking, unknown uuid", "GET", BOOKING, 404, {**ADA, "invitee_uuid": "NOSUCHINVITEE"}),
    ContractCase("booking, odd Unicode uuid", "GET", BOOKING, 404, {**ADA, "invitee_uuid": "INVITEE\u00a000001"}),
    ContractCase("booking, another connection's", "GET", BOOKING, 404, {**ADA, "connection_id": LIVE}),
    ContractCase("booking, unknown connection", "GET", BOOKING, 404, {**ADA, "connection_id": "nobody"}),
    ContractCase("booking, unknown parameter", "GET", BOOKING, 400, ADA, {"email": "ada@example.com"}),
    ContractCase("booking, unsigned", "GET", BOOKING, 403, ADA, signed=False),
    # GET /v1/connections/{connection_id}/events/{event_uuid}
    ContractCase("event with its invitees", "GET", EVENT, 200, DEMO, filled="invitees"),
    ContractCase("event, unknown uuid", "GET", EVENT, 404, {**DEMO, "event_uuid": "NOSUCHEVENT"}),
    ContractCase("event, odd Unicode uuid", "GET", EVENT, 404, {**DEMO, "event_uuid": "DEMO\U0001f600"}),
    ContractCase("event, another connection's", "GET", EVENT, 404, {**DEMO, "connection_id": LIVE}),
    ContractCase("event, unknown connection", "GET", EVENT, 404, {**DEMO, "connection_id": "nobody"}),
    ContractCase("event, unknown parameter", "GET", EVENT, 400, DEMO, {"limit": 1}),
    ContractCase("event, unsigned", "GET", EVENT, 403, DEMO, signed=False),
    # GET /v1/connections/{connection_id}/reports
    # GET /v1/connections/{connection_id}/contacts (issue 21)
    ContractCase("contacts by email, none", "GET", CONTACTS, 200, LOCAL, {"email": "nobody@example.com"}),
    ContractCase("contacts, no email", "GET", CONTACTS, 400, LOCAL),
    ContractCase("contacts, odd Unicode email", "GET", CONTACTS, 400, LOCAL, {"email": "ada\u200b@example.com"}),
    ContractCase("contacts, unknown connection", "GET", CONTACTS, 404, NOBODY, {"email": "ada@example.com"}),
    ContractCase("contacts, unknown parameter", "GET", CONTACTS, 400, LOCAL, {"email": "ada@example.com", "limit": 1}),
    ContractCase("contacts, unsigned", "GET", CONTACTS, 403, LOCAL, {"email": "ada@example.com"}, signed=False),
    ContractCase("reports", "GET", REPORTS, 200, LOCAL),
    ContractCase("reports, a page of one", "GET", REPORTS, 200, LOCAL, {"limit": 1}),
    ContractCase("reports, unknown connection", "GET", REPORTS, 404, NOBODY),
    ContractCase("reports, limit 0", "GET", REPORTS, 400, LOCAL, {"limit": 0}),
    ContractCase("reports, huge limit", "GET", REPORTS, 400, LOCAL, {"limit": HUGE}),
    ContractCase("reports, unknown parameter", "GET", REPORTS, 400, LOCAL, {"cursor": "x"}),
    ContractCase("reports, unsigned", "GET", REPORTS, 403, LOCAL, signed=False),
    # The actions (docs/actions.md): `local` has no Calendly token, so a valid request is a 409
    ContractCase("book, needs reauthorization", "POST", BOOKINGS, 409, LOCAL, body=BOOK),
    ContractCase("book, unknown connection", "POST", BOOKINGS, 404, {"connection_id": "nobody"}, body=BOOK),
    ContractCase("book, bad start", "POST", BOOKINGS, 400, LOCAL, body={**BOOK, "start_time": "soon"}),
    ContractCase("book, unsigned", "POST", BOOKINGS, 403, LOCAL, body=BOOK, signed=False),
    ContractCase("cancel, unknown connection", "POST", CANCEL, 404, {"connection_id": "nobody", "invitee_uuid": "X"}),
    ContractCase("no-show, unknown connection", "POST", NO_SHOW, 404, {"connection_id": "nobody", "invitee_uuid": "X"}),
    ContractCase("clear no-show, needs reauthorization", "DELETE", NO_SHOW, 409, {**LOCAL, "invitee_uuid": "X"}),
    # POST /v1/connections/{connection_id}/erasures (only this connection's own person)
    ContractCase("erase from a connection", "POST", ERASURES, 202, MINE, body={"email": TENANT_PERSON}),
    *(
        ContractCase(f"erase from a connection, {name}", "POST", ERASURES, 400, MINE, body=body)
        for name, body in BAD_ERASURE_BODIES
    ),
    ContractCase("erase from a connection, unknown", "POST", ERASURES, 404, NOBODY, body={"email": TENANT_PERSON}),
    ContractCase(
        "erase from a connection, odd Unicode id",
        "POST",
        ERASURES,
        404,
        {"connection_id": "contract\u200berase"},
        body={"email": TENANT_PERSON},
    ),
    ContractCase(
        "erase from a connection, unsigned", "POST", ERASURES, 403, MINE, body={"email": TENANT_PERSON}, signed=False
    ),
    # GET /v1/connections/{connection_id}/erasures/{erasure_id}
    ContractCase(
        "connection erasure, done",
        "GET",
        ERASURE,
        200,
        MINE,
        erasure_of=(ERASABLE, TENANT_PERSON),
        done=True,
    ),
    ContractCase("connection erasure, just asked for", "GET", ERASURE, 200, MINE, erasure_of=(ERASABLE, TENANT_PERSON)),
    ContractCase(
        "connection erasure, through another connection's path",
        "GET",
        ERASURE,
        404,
        {"connection_id": LIVE},
        erasure_of=(ERASABLE, TENANT_PERSON),
    ),
    ContractCase(
        "connection erasure, an everywhere erasure", "GET", ERASURE, 404, MINE, erasure_of=(None, EVERYONE_PERSON)
    ),
    ContractCase("connection erasure, unknown id", "GET", ERASURE, 404, {**MINE, "erasure_id": NO_SUCH_ERASURE}),
    ContractCase("connection erasure, malformed id", "GET", ERASURE, 404, {**MINE, "erasure_id": "not-an-id"}),
    ContractCase(
        "connection erasure, odd Unicode id", "GET", ERASURE, 404, {**MINE, "erasure_id": NO_SUCH_ERASURE + "\u200b"}
    ),
    ContractCase(
        "connection erasure, unknown connection", "GET", ERASURE, 404, NOBODY, erasure_of=(ERASABLE, TENANT_PERSON)
    ),
    ContractCase(
        "connection erasure, unknown parameter",
        "GET",
        ERASURE,
        400,
        MINE,
        {"limit": 1},
        erasure_of=(ERASABLE, TENANT_PERSON),
    ),
    ContractCase(
        "connection erasure, unsigned",
        "GET",
        ERASURE,
        403,
        {**MINE, "erasure_id": NO_SUCH_ERASURE},
        signed=False,
    ),
    # POST /v1/erasures (everywhere: a person only the erasure rows' connection holds)
    ContractCase("erase everywhere", "POST", EVERYWHERE, 202, body={"email": EVERYONE_PERSON}),
    *(
        ContractCase(f"erase everywhere, {name}", "POST", EVERYWHERE, 400, body=body)
        for name, body in BAD_ERASURE_BODIES
    ),
    ContractCase("erase everywhere, unsigned", "POST", EVERYWHERE, 403, body={"email": EVERYONE_PERSON}, signed=False),
    # GET /v1/erasures/{erasure_id}
    ContractCase("erasure, done", "GET", ANY_ERASURE, 200, erasure_of=(None, EVERYONE_PERSON), done=True),
    ContractCase("erasure, a connection's", "GET", ANY_ERASURE, 200, erasure_of=(ERASABLE, TENANT_PERSON), done=True),
    ContractCase("erasure, unknown id", "GET", ANY_ERASURE, 404, {"erasure_id": NO_SUCH_ERASURE}),
    ContractCase("erasure, malformed id", "GET", ANY_ERASURE, 404, {"erasure_id": "NOT-AN-ID"}),
    ContractCase(
        "erasure, unknown parameter", "GET", ANY_ERASURE, 400, erasure_of=(None, EVERYONE_PERSON), query={"x": 1}
    ),
    ContractCase("erasure, unsigned", "GET", ANY_ERASURE, 403, {"erasure_id": NO_SUCH_ERASURE}, signed=False),
    # DELETE /v1/connections/{connection_id} (last: it removes its own connection, never `local`)
    ContractCase(
        "disconnect, bad erase_data", "DELETE", CONNECTION, 400, {"connection_id": BYE}, {"erase_data": "maybe"}
    ),
    ContractCase("disconnect, unknown", "DELETE", CONNECTION, 404, NOBODY),
    ContractCase("disconnect, odd Unicode id", "DELETE", CONNECTION, 404, {"connection_id": "bye\u2028"}),
    ContractCase("disconnect, busy", "DELETE", CONNECTION, 409, {"connection_id": BUSY}),
    ContractCase("disconnect, unsigned", "DELETE", CONNECTION, 403, {"connection_id": BYE}, signed=False),
    ContractCase(
        "disconnect", "DELETE", CONNECTION, 200, {"connection_id": BYE}, {"erase_data": "true"}, filled="steps"
    ),
    ContractCase("disconnect, again", "DELETE", CONNECTION, 200, {"connection_id": BYE}),
    ContractCase("disconnect, webhooks only (no token)", "DELETE", CONNECTION, 200, {"connection_id": HOOKS}),
]


def test_every_served_route_has_rows_in_the_contract_table() -> None:
    assert served_operations() <= {(c.method, c.path) for c in CONTRACT_CASES}


def a_cursor(stack: RunningStack, case: ContractCase) -> str:
    """The ``next_cursor`` of ``case.cursor_from`` (a signed GET), tampered with if the row says so."""
    assert case.cursor_from is not None
    issued = call("GET", f"{base(stack)}{case.cursor_from}").json()["next_cursor"]
    assert isinstance(issued, str), f"{case.cursor_from} has a next page"
    if case.tamper:
        issued = issued[:-1] + ("A" if issued[-1] != "A" else "B")
    return issued


def an_erasure(stack: RunningStack, case: ContractCase) -> str:
    """The id of an erasure asked for as ``case.erasure_of`` says (once done, if ``case.done``)."""
    assert case.erasure_of is not None
    connection_id, email = case.erasure_of
    path = f"/v1/connections/{connection_id}/erasures" if connection_id else "/v1/erasures"
    asked = call("POST", f"{base(stack)}{path}", json.dumps({"email": email}).encode())
    assert asked.status == 202, asked.body
    erasure_id = str(asked.json()["erasure_id"])
    if case.done:
        wait_for(
            lambda: call("GET", f"{base(stack)}/v1/erasures/{erasure_id}").json()["status"] == "done",
            what=f"erasure {erasure_id} done",
        )
    return erasure_id


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=lambda c: c.name)
def test_real_answers_match_the_openapi_contract(api_stack: RunningStack, case: ContractCase) -> None:
    # Given the operation as openapi/calsync-v1.yaml describes it, and the row's inputs
    operation = contract()[case.path][case.method]
    query = dict(case.query)
    if case.cursor_from is not None:
        query["cursor"] = a_cursor(api_stack, case)
    path_parameters = dict(case.path_parameters)
    if case.erasure_of is not None:
        path_parameters["erasure_id"] = an_erasure(api_stack, case)
    inputs: dict[str, Any] = {"path_parameters": path_parameters, "query": query or None}
    if case.body is not None:
        inputs.update(body=case.body, media_type="application/json")
    built = operation.Case(**inputs)
    # When it is called on the local stack (signed unless the row says otherwise)
    response = built.call(base_url=base(api_stack), auth=SigV4() if case.signed else None)
    # Then the status is the row's, and schemathesis finds the answer true to the contract
    assert response.status_code == case.status, response.text
    assert check(built, response) is None
    if case.filled:
        assert response.json()[case.filled], f"{case.filled} is empty: {response.text}"


def test_the_local_connection_is_listed_and_readable_like_any_other(api_stack: RunningStack) -> None:
    # When an application lists the connections and reads `local` over the signed API
    listed = call("GET", f"{base(api_stack)}/v1/connections?limit=100").json()["connections"]
    one = call("GET", f"{base(api_stack)}/v1/connections/local")
    # Then `local` is among them, the same record either way, and never a secret
    (local,) = [c for c in listed if c["connection_id"] == "local"]
    assert one.status == 200
    assert one.json() == local
    assert not {"token_secret", "signing_key_secret", "token_generation"} & set(local)
    # And its event shows the sample booking among its invitees
    event = call("GET", f"{base(api_stack)}/v1/connections/local/events/DEMOEVENT0000001").json()
    assert [i["invitee_uuid"] for i in event["invitees"]] == ["INVITEE00000001"]


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


def test_an_erasure_through_the_api_removes_that_person_and_nobody_else(api_stack: RunningStack) -> None:
    # Given a person booked only under the erasure rows' own connection, and `local`'s sample bookings
    mine = f"{base(api_stack)}/v1/connections/{ERASABLE}/bookings"
    local_before = call("GET", f"{base(api_stack)}/v1/connections/local/bookings").json()["bookings"]
    # When that connection's erasure of them is asked for and has run
    case = ContractCase("-", "GET", ERASURE, 200, erasure_of=(ERASABLE, TENANT_PERSON), done=True)
    erasure = call("GET", f"{base(api_stack)}/v1/connections/{ERASABLE}/erasures/{an_erasure(api_stack, case)}")
    # Then it is done with counts, their booking no longer shows their address, and `local` is untouched
    assert erasure.json()["status"] == "done"
    emails = {b["email"] for b in call("GET", mine).json()["bookings"]}
    assert TENANT_PERSON not in emails
    assert call("GET", f"{base(api_stack)}/v1/connections/local/bookings").json()["bookings"] == local_before
