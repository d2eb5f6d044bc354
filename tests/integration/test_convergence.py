"""Property: any order and any duplication of the same deliveries converge to the state
that processing them once, in order, gives (DESIGN.md §4).

Besides the events/ deliveries, each example draws a few representations of one more
invitee from small domains (two ``updated_at`` values, both statuses, two names, the
current and the 2020 shape), so the generator makes exact ties with different content and
2020-shape/current-shape pairs in both orders of age."""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.process import process_message
from calsync.intake.delivery import Delivery, message_attributes, message_body
from calsync_dev.events import delivery_for
from calsync_dev.provision import create_table
from calsync_dev.template import load
from tests.factories import event_body, event_json, vary
from tests.fakes import FakeDynamoDB

NOW = datetime(2026, 12, 5, tzinfo=UTC)
RECEIVED = datetime(2026, 12, 1, tzinfo=UTC)
BODIES = [
    event_body("invitee_created.json"),
    event_body("invitee_canceled.json"),
    # a cancellation with the same updated_at as the creation: canceled must win the tie
    vary("invitee_rescheduled_created_new.json", status="canceled"),
    event_body("invitee_no_show_created.json"),
    event_body("invitee_no_show_deleted.json"),
    event_body("invitee_rescheduled_canceled_old.json"),
    event_body("invitee_rescheduled_created_new.json"),
    event_body("routing_form_submission_created.json"),
    event_body("unknown_event.json"),
]
_tables = itertools.count()
TABLE = load()["Resources"]["BookingsTable"]
T0, T1 = "2026-11-21T08:00:00.000000Z", "2026-11-21T08:05:00.000000Z"
KAY = "https://api.calendly.com/scheduled_events/DEMOEVENT0000001/invitees/INVITEE00000009"


def representation(updated_at: str, status: str, name: str, shape: str) -> bytes:
    """One delivery of invitee Kay: ``shape`` "2020" has no ``created_by`` and no
    ``scheduled_event`` (so no start time); "current" has both."""
    data = copy.deepcopy(event_json("invitee_created.json"))
    data["event"] = "invitee.canceled" if status == "canceled" else "invitee.created"
    data["created_at"] = updated_at
    data["payload"].update(uri=KAY, email="kay@example.com", updated_at=updated_at, status=status, name=name)
    if shape == "2020":
        del data["created_by"], data["payload"]["scheduled_event"]
    return json.dumps(data).encode()


REPRESENTATIONS = st.builds(
    representation,
    st.sampled_from([T0, T1]),
    st.sampled_from(["active", "canceled"]),
    st.sampled_from(["Kay", "Kay Nakamura"]),
    st.sampled_from(["current", "2020"]),
)


def deliveries(extra: Sequence[bytes] = ()) -> list[Delivery]:
    return [delivery_for(body, connection_id="acme", received_at=RECEIVED) for body in [*BODIES, *extra]]


def final_state(client: Any, order: list[int], extra: Sequence[bytes] = ()) -> list[dict[str, Any]]:
    table = f"convergence-{next(_tables)}"
    if not isinstance(client, FakeDynamoDB):
        create_table(client, TABLE, table)
    repo = DynamoBookingsRepository(table, client)
    batch = deliveries(extra)
    for index in order:
        delivery = batch[index]
        attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
        result = process_message(message_body(delivery), attributes, repo, now=NOW, archive_ttl=timedelta(days=90))
        assert result.quarantined is None
    items = client.scan(TableName=repo.table_name)["Items"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def expected(dynamodb: Any) -> list[dict[str, Any]]:
    return final_state(dynamodb, list(range(len(BODIES))))


def orders(count: int) -> st.SearchStrategy[list[int]]:
    """Each of ``count`` deliveries at least once, some again, in any order."""
    return st.lists(st.integers(0, count - 1), max_size=count).flatmap(
        lambda again: st.permutations(list(range(count)) + again)
    )


LAST = len(BODIES)  # the index of the first extra delivery
# (a) an exact tie with different content, the second one first
TIE = (
    [representation(T0, "active", "Kay", "current"), representation(T0, "active", "Kay Nakamura", "current")],
    [*range(LAST), LAST + 1, LAST],
)
# (b) the newer 2020-shape delivery first, then the older one that carries the start time
OLDER_FACTS = (
    [representation(T0, "active", "Kay", "current"), representation(T1, "active", "Kay", "2020")],
    [*range(LAST), LAST + 1, LAST],
)
# extra representations of Kay, then an order of every delivery (with duplicates)
CASES = st.lists(REPRESENTATIONS, min_size=1, max_size=4, unique=True).flatmap(
    lambda extra: st.tuples(st.just(extra), orders(len(BODIES) + len(extra)))
)


def test_in_order_state_is_what_the_deliveries_say(expected: list[dict[str, Any]]) -> None:
    invitees = {i["SK"]["S"]: i for i in expected if i["SK"]["S"].startswith("INVITEE#")}
    # the no-show deliveries carry the newest invitee representation (active), and the
    # removal of the no-show is newer than the mark
    assert invitees["INVITEE#INVITEE00000001"]["status"]["S"] == "active"
    assert invitees["INVITEE#INVITEE00000001"]["no_show"] == {"NULL": True}
    assert invitees["INVITEE#INVITEE00000003"]["status"]["S"] == "canceled"  # tie: canceled wins
    assert invitees["INVITEE#INVITEE00000002"]["rescheduled_to"]["S"].endswith("INVITEE00000003")


@settings(max_examples=int(os.environ.get("CALSYNC_CONVERGENCE_EXAMPLES", "400")), deadline=None)
@given(CASES)
@example(TIE)
@example(OLDER_FACTS)
def test_any_permutation_and_duplication_converges_to_in_order_state(case: tuple[list[bytes], list[int]]) -> None:
    extra, order = case
    # Given the in-order, once-each result of the real repository code
    expected = final_state(FakeDynamoDB(), list(range(len(BODIES) + len(extra))), extra)
    # When the same deliveries arrive shuffled and duplicated
    actual = final_state(FakeDynamoDB(), order, extra)
    # Then the table ends in exactly the same state
    assert actual == expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CASES)
@example(TIE)
@example(OLDER_FACTS)
def test_on_moto_shuffled_deliveries_converge_and_the_fake_agrees(
    dynamodb: Any, case: tuple[list[bytes], list[int]]
) -> None:
    extra, order = case
    # Given DynamoDB (moto) evaluating the real condition expressions, in order
    expected = final_state(dynamodb, list(range(len(BODIES) + len(extra))), extra)
    # When the deliveries arrive shuffled and duplicated
    actual = final_state(dynamodb, order, extra)
    # Then it converges too, to the same state the in-memory fake reaches
    assert actual == expected
    assert final_state(FakeDynamoDB(), order, extra) == expected


def test_a_duplicate_or_an_older_representation_with_nothing_new_writes_nothing() -> None:
    # Given Kay's current-shape delivery and a newer 2020-shape one are stored
    client = FakeDynamoDB()
    repo = DynamoBookingsRepository("no-churn", client)
    older, newer = representation(T0, "active", "Kay", "current"), representation(T1, "active", "Kay", "2020")

    def apply(body: bytes) -> bool:
        delivery = delivery_for(body, connection_id="acme", received_at=RECEIVED)
        attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
        return process_message(body, attributes, repo, now=NOW, archive_ttl=timedelta(days=90)).changed

    assert apply(newer)
    assert apply(older)  # the older one still added the start time
    stored = copy.deepcopy(client.items)
    # When either arrives again
    # Then neither changes anything (not even a rewrite of the same values)
    assert not apply(older)
    assert not apply(newer)
    assert client.items == stored
