"""Erasure's domain rules: which addresses a stored value or delivery carries, the keyed hash a
tombstone keeps, and which deliveries a tombstone refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from calsync.erasure.rules import IsErased, address_hash, addresses_in, carries, refused, refused_unread
from calsync.intake.envelopes import parse_typed
from tests.factories import event_body, event_json, vary
from tests.fakes.erasure import FakeTombstones

ERASED_AT = datetime(2026, 11, 25, tzinfo=UTC)


def tombstoned(*emails: str) -> tuple[list[str], IsErased]:
    """An ``is_erased`` over tombstones of ``emails`` erased at ERASED_AT, and the addresses it read."""
    tombstones = FakeTombstones()
    for email in emails:
        tombstones.put(email, ERASED_AT)
    tombstones.asked.clear()
    return tombstones.asked, tombstones.is_erased


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


def test_addresses_are_found_in_a_large_body_with_long_runs_of_data() -> None:
    # Given a 1 MB body (a large delivery) mostly one run of characters with no "@" in it
    # (before, each of its characters started a new scan of the run: hours for this body)
    body = json.dumps({"payload": {"email": "Ada@Example.com", "blob": "x" * 1_000_000, "note": "cc bo@x.io"}})
    # When its addresses are read, Then both are found, and nothing from the run
    assert addresses_in(body) == {"ada@example.com", "bo@x.io"}


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


def kept_kind(event: str, sent: str, **payload: object) -> str:
    return json.dumps({"event": event, "created_at": sent, "payload": payload})


def test_a_tombstone_refuses_every_later_contact_event_about_the_person_whatever_its_dates() -> None:
    # Given Ada was erased on Nov 25
    _, is_erased = tombstoned("ada@example.com")
    # When a contact of hers arrives: made before the erasure, made after it, or undated
    for created_at in ("2026-11-20T09:00:00Z", "2026-11-27T09:00:00Z", None, "last week"):
        for event in ("contact.created", "contact.updated"):
            body = kept_kind(
                event, "2026-11-28T10:00:00Z", emails=[{"email": "Ada@Example.com"}], created_at=created_at
            )
            # Then it is refused (issue 21: a contact is the person's own address-book entry)
            assert refused(parse_typed(body), body, is_erased), (event, created_at)
    # And another person's contact is not
    other = kept_kind("contact.created", "2026-11-28T10:00:00Z", emails=[{"email": "bob@example.com"}])
    assert not refused(parse_typed(other), other, is_erased)


def test_a_meeting_recap_or_unknown_kind_naming_the_person_is_refused_whatever_its_dates() -> None:
    # Given Ada was erased on Nov 25
    reads, is_erased = tombstoned("ada@example.com")
    # When a meeting recap and an event kind calsync does not know name her, sent on Nov 28
    for event in ("meeting_recap.updated", "meeting_recap.created", "whiteboard.shared"):
        body = kept_kind(
            event, "2026-11-28T10:00:00Z", attendees=[{"email": "Ada@Example.com"}], created_at="2026-11-28T09:00:00Z"
        )
        # Then each is refused
        assert refused(parse_typed(body), body, is_erased)
    # And one naming nobody erased reads its tombstones and is kept
    other = kept_kind("meeting_recap.updated", "2026-11-28T10:00:00Z", attendees=[{"email": "grace@example.com"}])
    assert not refused(parse_typed(other), other, is_erased)
    assert reads[-1] == "grace@example.com"


def test_a_malformed_body_naming_an_erased_person_is_refused_whatever_its_dates() -> None:
    # Given Ada was erased on Nov 25
    _, is_erased = tombstoned("ada@example.com")
    # Then a body that is not even JSON, naming her in any case, is refused; one naming Grace is not
    assert refused_unread('{"event": "invitee.created", "payload": {"email": "ADA@example.com", ', is_erased)
    assert not refused_unread('{"payload": {"email": "grace@example.com"', is_erased)


class SlowQueue:
    """An SQS queue in memory (receives sample visible messages at random, as SQS does), where
    every receive takes ``step`` seconds of a simulated clock: a message held past its visibility
    timeout is visible again and its old receipt handle is stale."""

    def __init__(self, bodies: list[str], step: float) -> None:
        import random

        self.random = random.Random(7)
        self.step, self.clock, self.handles = step, 0.0, 0
        self.messages = {
            f"m{i}": {"body": b, "visible_at": 0.0, "handle": "", "receives": 0} for i, b in enumerate(bodies)
        }

    def _find(self, handle: str) -> dict[str, object] | None:
        return next((m for m in self.messages.values() if m["handle"] == handle), None)

    def receive_message(self, *, VisibilityTimeout: int, MaxNumberOfMessages: int, **_: object) -> dict[str, object]:
        self.clock += self.step
        assert self.clock < 100_000, "the sweep never ends"
        visible = [(i, m) for i, m in self.messages.items() if float(m["visible_at"]) <= self.clock]  # type: ignore[arg-type]
        batch = self.random.sample(visible, min(MaxNumberOfMessages, len(visible)))
        for _, message in batch:
            self.handles += 1
            message.update(handle=f"h{self.handles}", visible_at=self.clock + VisibilityTimeout)
            message["receives"] = int(message["receives"]) + 1  # type: ignore[call-overload]
        return {"Messages": [{"MessageId": i, "ReceiptHandle": m["handle"], "Body": m["body"]} for i, m in batch]}

    def _release(self, handle: str, timeout: int) -> bool:
        message = self._find(handle)
        if message is None or float(message["visible_at"]) <= self.clock:  # type: ignore[arg-type]
            return False  # a stale handle: SQS refuses it
        message["visible_at"] = self.clock + timeout
        return True

    def change_message_visibility(self, *, ReceiptHandle: str, VisibilityTimeout: int, **_: object) -> None:
        from botocore.exceptions import ClientError

        if not self._release(ReceiptHandle, VisibilityTimeout):
            raise ClientError({"Error": {"Code": "InvalidParameterValue"}}, "ChangeMessageVisibility")

    def change_message_visibility_batch(self, *, Entries: list[dict[str, object]], **_: object) -> dict[str, object]:
        results: dict[str, list[dict[str, object]]] = {"Successful": [], "Failed": []}
        for entry in Entries:
            released = self._release(str(entry["ReceiptHandle"]), int(entry["VisibilityTimeout"]))  # type: ignore[call-overload]
            if released:
                results["Successful"].append({"Id": entry["Id"]})
            else:
                results["Failed"].append({"Id": entry["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True})
        return results

    def delete_message(self, *, ReceiptHandle: str, **_: object) -> None:
        message = self._find(ReceiptHandle)
        assert message is not None
        self.messages = {i: m for i, m in self.messages.items() if m is not message}

    def all_visible(self) -> bool:
        return all(float(m["visible_at"]) <= self.clock for m in self.messages.values())  # type: ignore[arg-type]


def grace_and_ada(graces: int) -> list[str]:
    bodies = [json.dumps({"payload": {"email": f"grace{i}@example.com"}}) for i in range(graces)]
    return [*bodies, json.dumps({"payload": {"email": "ada@example.com"}})]


def test_a_slow_sweep_of_a_large_queue_finishes_and_sends_no_live_message_towards_its_dlq() -> None:
    from calsync.erasure.aws_queue_sweep import sweep_queue

    # Given a queue of 60 other people's messages and one of Ada's, where each receive takes 40 s
    # (longer in all than the 120 s a message is held)
    queue = SlowQueue(grace_and_ada(60), step=40)
    # When Ada is swept from it
    found = sweep_queue(
        queue,
        "url",
        "ADA@example.com",
        remove=True,
        wait_seconds=0,
        hold_seconds=120,
        clock=lambda: queue.clock,  # type: ignore[arg-type]
    )
    # Then it finishes, having removed Ada's message only
    assert found == 1
    assert len(queue.messages) == 60
    # And every other message is visible again, each received once (the redrive limit is 5)
    assert queue.all_visible()
    assert {int(m["receives"]) for m in queue.messages.values()} == {1}  # type: ignore[call-overload]


def test_a_sweep_longer_than_the_hold_receives_each_message_once() -> None:
    from calsync.erasure.aws_queue_sweep import sweep_queue

    # Given a queue of 1,500 other people's messages and one of Ada's, each receive taking 1 s
    queue = SlowQueue(grace_and_ada(1500), step=1)
    # When a dry run sweeps it
    assert sweep_queue(queue, "url", "ada@example.com", remove=False, wait_seconds=0, clock=lambda: queue.clock) == 1  # type: ignore[arg-type]
    # Then each message was received once and is visible again
    assert {int(m["receives"]) for m in queue.messages.values()} == {1}  # type: ignore[call-overload]
    assert queue.all_visible()


def test_redaction_replaces_only_the_whole_address_in_any_case() -> None:
    from calsync.erasure.aws_sweep import redact

    # Given someone else's answers naming Ada (in another case, at a sentence's end) beside longer addresses
    value = {"answers": ["Ask ADA@example.com.", "jimada@example.com", "ada@example.com.au"], "n": 3}
    # Then only Ada's address is replaced
    assert redact(value, "ada@example.com") == {
        "answers": ["Ask [erased].", "jimada@example.com", "ada@example.com.au"],
        "n": 3,
    }
