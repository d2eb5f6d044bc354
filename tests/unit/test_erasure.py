"""Erasure's domain rules: which addresses a stored value or delivery carries, the keyed hash a
tombstone keeps, and which deliveries a tombstone refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from calsync.bookings.erasure import IsErased, address_hash, addresses_in, carries, refused
from calsync.webhooks.models import parse_typed
from tests.factories import event_body, event_json, vary

ERASED_AT = datetime(2026, 11, 25, tzinfo=UTC)


def tombstoned(*emails: str) -> tuple[list[str], IsErased]:
    """An ``is_erased`` over tombstones of ``emails`` erased at ERASED_AT, counting its reads."""
    reads: list[str] = []

    def is_erased(email: str, at: datetime) -> bool:
        reads.append(email)
        return email in emails and at < ERASED_AT

    return reads, is_erased


def test_an_address_is_found_whatever_its_case_and_only_whole() -> None:
    # Given text holding Ada's address in another case, and a longer address that contains it
    text = 'contact: "Ada@Example.COM", also jimada@example.com and ada@example.com.au'
    # Then Ada's address is found, normalised, and neither longer address counts as hers
    assert carries(text, "ada@example.com")
    assert addresses_in(text) == {"ada@example.com", "jimada@example.com", "ada@example.com.au"}
    assert not carries("jimada@example.com", "ada@example.com")


def test_an_address_escaped_inside_a_stored_json_body_is_found() -> None:
    # Given a raw delivery body whose address JSON-escapes its "@" (as some encoders do)
    body = json.dumps({"payload": {"email": "ada@example.com"}}).replace("@", "\\u0040")
    # Then reading the body as JSON finds the address
    assert "@" not in body
    assert carries({"body": body}, "ADA@example.com")


def test_the_keyed_hash_is_of_the_normalised_address_and_needs_the_key() -> None:
    # Then the same person gives the same hash whatever the case; another key gives another
    assert address_hash(b"k1", " Ada@Example.com ") == address_hash(b"k1", "ada@example.com")
    assert address_hash(b"k1", "ada@example.com") != address_hash(b"k2", "ada@example.com")
    assert "ada" not in address_hash(b"k1", "ada@example.com")


def test_a_delivery_about_an_erased_person_made_before_the_erasure_is_refused() -> None:
    # Given Ada was erased on Nov 25; her booking was created on Nov 20
    reads, is_erased = tombstoned("ada@example.com")
    envelope = parse_typed(event_body("invitee_created.json").decode())
    # Then its delivery (and its later cancellation, of the same booking) is refused
    assert refused(envelope, "", is_erased)
    canceled = parse_typed(vary("invitee_canceled.json", updated_at="2026-11-28T10:00:00Z").decode())
    assert refused(canceled, "", is_erased)
    assert reads == ["ada@example.com", "ada@example.com"]


def test_a_booking_made_after_the_erasure_is_not_refused() -> None:
    # Given Ada was erased on Nov 25 and books again on Nov 27
    _, is_erased = tombstoned("ada@example.com")
    body = vary("invitee_created.json", created_at="2026-11-27T09:00:00Z", updated_at="2026-11-27T09:00:00Z")
    # Then that booking is stored normally
    assert not refused(parse_typed(body.decode()), "", is_erased)


def test_the_address_is_matched_whatever_its_case_in_the_delivery() -> None:
    _, is_erased = tombstoned("ada@example.com")
    body = vary("invitee_created.json", email="ADA@Example.com")
    assert refused(parse_typed(body.decode()), "", is_erased)


def test_a_routing_form_answer_holding_the_address_is_refused_and_one_without_reads_no_tombstone() -> None:
    # Given a routing-form submission whose answers hold no address
    reads, is_erased = tombstoned("ada@example.com")
    plain = parse_typed(event_body("routing_form_submission_created.json").decode())
    # Then no tombstone is read for it
    assert not refused(plain, "", is_erased)
    assert reads == []
    # When an answer holds Ada's address
    data = event_json("routing_form_submission_created.json")
    data["payload"]["questions_and_answers"].append(
        {"question_uuid": "q2", "question": "Email", "answer": "Ada@example.com"}
    )
    # Then the submission is refused
    assert refused(parse_typed(json.dumps(data)), "", is_erased)
