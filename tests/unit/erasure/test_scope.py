"""A tombstone's scope: a person erased from one connection's data (a tenant's request) stays in
every other tenant's data, and later deliveries for other connections are stored normally; a
person erased everywhere (the operator's request, and every tombstone from before scopes) is
refused for every connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.aws import keys
from calsync.bookings.apply import apply_delivery
from calsync.bookings.process import process_message
from calsync.erasure.rules import GLOBAL, applies, erased_at
from calsync.intake.delivery import message_attributes, message_body
from calsync_dev.events import delivery_for
from tests.factories import event_body
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.erasure import FakeTombstones

ADA = "ada@example.com"  # the invitee of invitee_created.json
ERASED_AT = datetime(2026, 11, 25, tzinfo=UTC)  # after that booking was made (Nov 20)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def deliver(tombstones: FakeTombstones, connection_id: str) -> tuple[bool, FakeBookingsRepository]:
    """Apply Ada's invitee.created for ``connection_id`` as a processor does; whether it was refused."""
    repo = FakeBookingsRepository()
    delivery = delivery_for(event_body("invitee_created.json"), connection_id=connection_id, received_at=NOW)
    result = apply_delivery(delivery, repo, now=NOW, archive_ttl=timedelta(days=30), erased_in=tombstones.erased_in)
    return result.erased, repo


def test_a_tenants_erasure_does_not_refuse_another_tenants_deliveries() -> None:
    # Given Ada was erased from acme's data only
    tombstones = FakeTombstones()
    tombstones.put(ADA, ERASED_AT, connection_id="acme")
    # When her booking (made before the erasure) arrives for globex, Then it is stored normally
    refused, repo = deliver(tombstones, "globex")
    assert not refused
    assert "upsert_invitee" in repo.calls
    # And for acme it is refused and kept nowhere
    refused, repo = deliver(tombstones, "acme")
    assert refused
    assert repo.calls == []


def test_an_erasure_everywhere_refuses_every_tenants_deliveries() -> None:
    tombstones = FakeTombstones()
    tombstones.put(ADA, ERASED_AT)
    for connection_id in ("acme", "globex"):
        refused, repo = deliver(tombstones, connection_id)
        assert refused
        assert repo.calls == []


def test_a_tombstone_written_before_scopes_counts_as_everywhere() -> None:
    # Given a tombstone as calsync wrote them before scopes (no scope attribute)
    tombstones = FakeTombstones()
    digest = tombstones.address_hash(ADA)
    tombstones.table.put(
        keys.tombstone(digest),
        {"type": "tombstone", "address_hash": digest, "erased_at": "2026-11-25T00:00:00.000000Z"},
    )
    # Then it refuses deliveries for any connection
    assert deliver(tombstones, "acme")[0]
    assert deliver(tombstones, "globex")[0]


def test_the_tombstone_records_its_scope_and_each_scope_keeps_its_own_time() -> None:
    tombstones = FakeTombstones()
    tombstones.put(ADA, ERASED_AT, connection_id="acme")
    tombstones.put(ADA, ERASED_AT + timedelta(days=2))
    scoped = tombstones.table.item(keys.tombstone(tombstones.address_hash(ADA), "acme"))
    assert scoped is not None
    assert scoped["scope"] == "acme"
    assert "ada" not in str(scoped)
    everywhere = tombstones.table.item(keys.tombstone(tombstones.address_hash(ADA)))
    assert everywhere is not None
    assert everywhere["scope"] == GLOBAL
    # The later of the erasures that apply wins
    assert tombstones.erased_at(ADA, "acme") == ERASED_AT + timedelta(days=2)
    assert tombstones.erasures(ADA) == {"acme": ERASED_AT, GLOBAL: ERASED_AT + timedelta(days=2)}


def test_which_tombstones_apply_to_whose_data() -> None:
    assert applies(GLOBAL, "acme")
    assert applies("acme", "acme")
    assert not applies("acme", "globex")
    # data of no known connection (a stray message): any tombstone keeps the person erased
    assert applies("acme", None)
    assert erased_at({"acme": ERASED_AT}, "globex") is None
    assert erased_at({}, "acme") is None


def test_a_stray_message_naming_a_person_erased_from_one_tenant_is_kept_nowhere() -> None:
    tombstones = FakeTombstones()
    tombstones.put(ADA, ERASED_AT, connection_id="acme")
    repo = FakeBookingsRepository()
    result = process_message(
        f"not a delivery, but it names {ADA}",
        {},
        repo,
        now=NOW,
        archive_ttl=timedelta(days=30),
        erased_in=tombstones.erased_in,
    )
    assert result.erased
    assert repo.calls == []
    # while a real delivery for another tenant, through the same path, is stored
    delivery = delivery_for(event_body("invitee_created.json"), connection_id="globex", received_at=NOW)
    body = message_body(delivery)
    attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
    result = process_message(
        body, attributes, repo, now=NOW, archive_ttl=timedelta(days=30), erased_in=tombstones.erased_in
    )
    assert not result.erased
    assert "upsert_invitee" in repo.calls
