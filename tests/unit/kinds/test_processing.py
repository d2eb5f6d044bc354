"""Event types, contacts and meeting recaps arrive as webhooks and are stored as typed items,
version-aware: any order and any duplication of the same deliveries converge, a deletion
removes what the item held, and a body that does not match Calendly's resource is quarantined."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from calsync.aws import keys
from calsync.bookings.apply import ApplyResult, apply_delivery
from calsync_dev.events import delivery_for
from tests.fakes.bookings import FakeBookingsRepository

CONSTRUCTED = Path(__file__).resolve().parents[2] / "fixtures" / "constructed"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
TTL = timedelta(days=30)


def body(fixture: str, /, *, event: str | None = None, **payload: Any) -> bytes:
    data = json.loads((CONSTRUCTED / fixture).read_text())
    data["payload"].update(payload)
    if event:
        data["event"] = event
    return json.dumps(data).encode()


def apply(repo: FakeBookingsRepository, raw: bytes, connection_id: str = "acme") -> ApplyResult:
    delivery = delivery_for(raw, connection_id=connection_id, received_at=NOW)
    return apply_delivery(delivery, repo, now=NOW, archive_ttl=TTL)


def item(repo: FakeBookingsRepository, key: keys.Key) -> dict[str, Any]:
    return repo.table.item(key) or {}


ET = "AAAAAAAAAAAAAAAA"
CONTACT = "CONTACT000000001"
RECAP = "RECAP00000000001"
EVENT = "DEMOEVENT0000001"


def test_an_event_type_webhook_is_stored_as_a_typed_event_type_not_an_other_item() -> None:
    repo = FakeBookingsRepository()
    # When event_type.updated arrives
    result = apply(repo, body("event_type_updated.json"))
    # Then the connection's event type is stored with what users read of it
    assert result.changed
    assert result.quarantined is None
    stored = item(repo, keys.resource("event_type", "acme", ET))
    assert {k: stored[k] for k in ("type", "name", "duration", "kind", "active", "scheduling_url", "owner")} == {
        "type": "event_type",
        "name": "15 Minute Meeting",
        "duration": 30,
        "kind": "solo",
        "active": True,
        "scheduling_url": "https://calendly.com/acmesales",
        "owner": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
    }
    assert "keep_other" not in repo.calls


def test_event_type_changes_converge_in_any_order_and_a_deletion_wins() -> None:
    older = body("event_type_updated.json", name="Intro", updated_at="2026-11-01T10:00:00.000000Z")
    newer = body("event_type_updated.json", name="Discovery call", updated_at="2026-11-02T10:00:00.000000Z")
    deleted = body(
        "event_type_updated.json",
        event="event_type.deleted",
        updated_at="2026-11-02T10:00:00.000000Z",
        deleted_at="2026-11-03T10:00:00.000000Z",
    )
    finals = []
    for order in itertools.permutations([older, newer, newer]):
        repo = FakeBookingsRepository()
        for raw in order:
            apply(repo, raw)
        finals.append(item(repo, keys.resource("event_type", "acme", ET)))
    assert all(f == finals[0] for f in finals)
    assert finals[0]["name"] == "Discovery call"
    for order in itertools.permutations([older, newer, deleted]):
        repo = FakeBookingsRepository()
        for raw in order:
            apply(repo, raw)
        stored = item(repo, keys.resource("event_type", "acme", ET))
        assert stored["deleted"] is True
        assert stored["active"] is False


def test_a_contact_is_versioned_on_its_own_updated_at_not_on_when_the_webhook_was_sent() -> None:
    repo = FakeBookingsRepository()
    # Given the contact as of Nov 21
    assert apply(repo, body("contact_updated.json", name="Ada L.")).changed
    # When an older representation is (re)sent later (its envelope is newer, its updated_at older)
    stale = json.loads(body("contact_updated.json", name="Ada", updated_at="2026-11-20T10:00:00.000000Z"))
    stale["created_at"] = "2026-11-30T10:00:00.000000Z"
    result = apply(repo, json.dumps(stale).encode())
    # Then it changes nothing
    assert not result.changed
    stored = item(repo, keys.resource("contact", "acme", CONTACT))
    assert stored["name"] == "Ada L."
    assert stored["emails"] == ["ada@example.com"]


def test_a_contact_deletion_removes_its_personal_data_and_an_older_update_does_not_bring_it_back() -> None:
    repo = FakeBookingsRepository()
    apply(repo, body("contact_updated.json"))
    assert apply(repo, body("contact_deleted.json")).changed
    assert apply(repo, body("contact_updated.json")).changed is False
    stored = item(repo, keys.resource("contact", "acme", CONTACT))
    assert stored["deleted"] is True
    assert "ada@example.com" not in json.dumps(stored)
    assert "Ada" not in json.dumps(stored)


def test_a_meeting_recap_is_stored_under_its_scheduled_event_and_its_deletion_finds_it() -> None:
    for order in (["updated", "deleted"], ["deleted", "updated"]):
        repo = FakeBookingsRepository()
        for name in order:
            apply(repo, body(f"meeting_recap_{name}.json"))
        under_event = item(repo, keys.resource("meeting_recap", "acme", RECAP, EVENT))
        alone = item(repo, keys.resource("meeting_recap", "acme", RECAP))
        stored = under_event or alone
        # Then in either order the recap ends deleted, its text gone
        assert stored["deleted"] is True, order
        assert "summary_md" not in stored
        assert "attendees" not in stored
    # And a recap that arrives alone is stored with its event, text and attendees
    repo = FakeBookingsRepository()
    apply(repo, body("meeting_recap_updated.json"))
    stored = item(repo, keys.resource("meeting_recap", "acme", RECAP, EVENT))
    assert stored["summary_md"].startswith("Ada walked")
    assert stored["event_uuid"] == EVENT
    assert stored["attendee_emails"] == ["ada@example.com", "host@example.com"]


def test_a_body_that_does_not_match_the_resource_is_quarantined_not_retried() -> None:
    repo = FakeBookingsRepository()
    raw = json.loads(body("contact_updated.json"))
    raw["payload"] = {"name": "no uri"}
    result = apply(repo, json.dumps(raw).encode())
    assert result.quarantined
    assert "contact.updated" in result.quarantined


def test_resources_are_kept_per_connection() -> None:
    repo = FakeBookingsRepository()
    apply(repo, body("contact_updated.json"), "acme")
    apply(repo, body("contact_updated.json", name="Other"), "globex")
    assert item(repo, keys.resource("contact", "acme", CONTACT))["name"] == "Ada Lovelace"
    assert item(repo, keys.resource("contact", "globex", CONTACT))["name"] == "Other"
