"""The erasure use case (``calsync.erasure.erase``) over in-memory stores: the order that makes a
failed run finishable by running it again, what a dry run leaves alone, the counts and the
audit record (the same use case against moto: tests/integration/test_erasure.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.calendly.errors import CalendlyError, CalendlyPermissionError
from calsync.connections.records import Connection
from calsync.erasure.erase import ErasureStores, erase, one_per_organization
from calsync.errors import DependencyUnavailable

ADA = "ada@example.com"
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    store: str
    name: str
    redact: bool = False
    body_key: str | None = None
    connection_id: str = "acme"


@dataclass
class Stores:
    """Every store at once, recording what happened in what order."""

    items: list[Item] = field(default_factory=list)
    queued: dict[str, int] = field(default_factory=dict)
    bodies: tuple[int, int] = (0, 0)
    log: list[str] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    fail_on: str | None = None
    queue_scopes: list[str | None] = field(default_factory=list)
    body_keys: list[set[str] | None] = field(default_factory=list)

    def _do(self, what: str) -> None:
        if what == self.fail_on:
            raise DependencyUnavailable(f"{what} failed")
        self.log.append(what)

    # Tombstones
    def address_hash(self, email: str) -> str:
        return "0f" * 32 if email.lower() == ADA else "1e" * 32

    def put(self, email: str, at: datetime, connection_id: str | None = None) -> str:
        self._do(f"tombstone {at.isoformat()}" + (f" in {connection_id}" if connection_id else ""))
        return self.address_hash(email)

    # ItemSweep
    def find(self, email: str, connection_id: str | None = None) -> list[Item]:
        return [i for i in self.items if connection_id in (None, i.connection_id)]

    def remove(self, found: Item) -> None:
        self._do(f"remove {found.name}")
        self.items.remove(found)

    def redact(self, found: Item, email: str) -> None:
        self._do(f"redact {found.name}")
        self.items.remove(found)

    # the audit
    def record(self, *, erased_at: datetime, record: Mapping[str, Any], erasure_id: str | None = None) -> str:
        self._do("audit")
        self.audits.append({"erased_at": erased_at, **record})
        return erasure_id or f"e{len(self.audits)}"

    def records(self) -> list[dict[str, Any]]:
        return self.audits


@dataclass
class Queues:
    stores: Stores

    def sweep(self, email: str, *, remove: bool, connection_id: str | None = None) -> dict[str, int]:
        self.stores.queue_scopes.append(connection_id)
        found = dict(self.stores.queued)
        if remove:
            self.stores._do("queues")
            self.stores.queued = {name: 0 for name in found}
        return found


@dataclass
class Bodies:
    stores: Stores

    def sweep(self, email: str, *, remove: bool, only: Collection[str] | None = None) -> tuple[int, int]:
        self.stores.body_keys.append(None if only is None else set(only))
        found = self.stores.bodies
        if remove:
            self.stores._do("bodies")
            self.stores.bodies = (0, 0)
        return found


def ada_everywhere() -> Stores:
    return Stores(
        items=[Item("invitees", "ada"), Item("archive", "ada's delivery"), Item("events", "bob's event", redact=True)],
        queued={"InviteeCanceledQueue": 1, "SlackQueue": 2, "OtherQueue": 0},
        bodies=(1, 1),
    )


def services(stores: Stores, *, bodies: bool = True) -> ErasureStores:
    return ErasureStores(
        tombstones=stores, items=stores, queues=Queues(stores), audit=stores, bodies=Bodies(stores) if bodies else None
    )


def test_the_tombstone_comes_first_then_queues_items_bodies_and_the_audit_last() -> None:
    # Given Ada's data in every store
    stores = ada_everywhere()
    # When she is erased
    report = erase(ADA, services(stores), principal="op", now=lambda: AT)
    # Then the tombstone was written before anything was removed, and the audit record last
    assert stores.log == [
        f"tombstone {AT.isoformat()}",
        "queues",
        "remove ada",
        "remove ada's delivery",
        "redact bob's event",
        "bodies",
        "audit",
    ]
    # And the report counts per store (queues by name, no zero counts), redactions apart
    assert report.counts == {
        "queue InviteeCanceledQueue": 1,
        "queue SlackQueue": 2,
        "invitees": 1,
        "archive": 1,
        "bodies": 1,
        "redacted": 2,
    }
    assert (report.erased_at, report.address_hash, report.erasure_id) == (AT, "0f" * 32, "e1")


def test_the_audit_record_names_who_and_how_much_never_the_address() -> None:
    stores = ada_everywhere()
    erase(ADA, services(stores), principal="arn:aws:iam::123456789012:user/op", now=lambda: AT)
    (record,) = stores.audits
    assert record["principal"] == "arn:aws:iam::123456789012:user/op"
    assert record["address_hash"] == "0f" * 32
    assert record["counts"]["invitees"] == 1
    assert record["calendly"] is None
    assert ADA not in repr(record)


def test_a_dry_run_counts_and_changes_nothing() -> None:
    # Given Ada's data everywhere
    stores = ada_everywhere()
    # When a dry run counts it
    report = erase(ADA, services(stores), principal="op", dry_run=True)
    # Then it counts what a real run removes, and nothing was written: no tombstone, no audit
    assert report.counts["invitees"] == 1
    assert report.counts["queue SlackQueue"] == 2
    assert report.counts["redacted"] == 2
    assert report.erasure_id is None
    assert stores.log == []
    assert len(stores.items) == 3


def test_a_run_that_failed_halfway_finishes_when_run_again_and_a_third_removes_nothing() -> None:
    # Given the table fails at the second item
    stores = ada_everywhere()
    stores.fail_on = "remove ada's delivery"
    with pytest.raises(DependencyUnavailable):
        erase(ADA, services(stores), principal="op")
    # Then the tombstone is already in place, and no audit record claims a finished erasure
    assert stores.log[0].startswith("tombstone")
    assert stores.audits == []
    # When it is run again, working
    stores.fail_on = None
    report = erase(ADA, services(stores), principal="op")
    # Then it finishes what was left, and once more finds nothing
    assert report.counts == {"archive": 1, "redacted": 2, "bodies": 1}
    assert erase(ADA, services(stores), principal="op").counts == {}


def test_without_a_bodies_bucket_there_is_nothing_to_sweep_there() -> None:
    stores = ada_everywhere()
    report = erase(ADA, services(stores, bodies=False), principal="op")
    assert "bodies" not in report.counts
    assert "bodies" not in stores.log


class Calendly:
    def __init__(self, error: CalendlyError | None = None) -> None:
        self.error, self.asked = error, list[list[str]]()

    def delete_invitee_data(self, emails: Iterable[str]) -> None:
        self.asked.append(list(emails))
        if self.error is not None:
            raise self.error


def test_calendly_is_asked_once_per_connection_and_its_answers_are_recorded() -> None:
    # Given two organizations, one on an Enterprise plan, one not, and one that does not answer
    accepting = Calendly()
    refusing = Calendly(CalendlyPermissionError(403, "Permission Denied", "not on this plan"))
    failing = Calendly(CalendlyError(500, "Internal Server Error", "try later"))
    stores = ada_everywhere()
    # When Ada is erased with Calendly's own deletion
    report = erase(
        ADA, services(stores), principal="op", calendly=[("acme", accepting), ("solo", refusing), ("down", failing)]
    )
    # Then each was asked once, and the report and the audit record say what each answered
    assert accepting.asked == refusing.asked == failing.asked == [[ADA]]
    assert report.calendly == {
        "acme": "accepted (202): Calendly deletes asynchronously, within 7 days",
        "solo": "refused (403): data-compliance deletion needs an Enterprise plan and an admin's token",
        "down": "failed (500): Internal Server Error",
    }
    assert stores.audits[0]["calendly"] == dict(sorted(report.calendly.items()))
    # And the local erasure happened anyway
    assert stores.items == []


def test_a_dry_run_never_asks_calendly() -> None:
    calendly = Calendly()
    erase(ADA, services(ada_everywhere()), principal="op", dry_run=True, calendly=[("acme", calendly)])
    assert calendly.asked == []


def connection(connection_id: str, organization: str) -> Connection:
    return Connection(
        connection_id=connection_id,
        kind="pat",
        status="active",
        organization=organization,
        owner=None,
        callback_url=f"https://example.com/webhooks/calendly/{connection_id}",
        token_secret=f"calsync/test/tokens/{connection_id}",
        signing_key_secret=f"calsync/test/signing-keys/{connection_id}",
    )


def test_calendly_is_asked_once_per_organization() -> None:
    connections = [connection("a", "org-1"), connection("b", "org-2"), connection("c", "org-1")]
    assert [c.connection_id for c in one_per_organization(connections)] == ["a", "b"]


def test_a_tenants_erasure_is_scoped_to_its_connection_and_leaves_other_tenants_records() -> None:
    # Given Ada's booking in acme's data and in globex's, each with a body kept in the bucket
    stores = Stores(
        items=[
            Item("invitees", "ada at acme", body_key="deliveries/a"),
            Item("invitees", "ada at globex", body_key="deliveries/g", connection_id="globex"),
        ],
        bodies=(1, 0),
    )
    # When acme asks for her erasure
    report = erase(ADA, services(stores), principal="api", now=lambda: AT, connection_id="acme", erasure_id="r1")
    # Then the tombstone is acme's, only acme's item is removed, globex's stays
    assert stores.log[0] == f"tombstone {AT.isoformat()} in acme"
    assert "remove ada at acme" in stores.log
    assert [i.name for i in stores.items] == ["ada at globex"]
    # And the queues are swept for acme's messages only, the bucket for acme's bodies only
    assert stores.queue_scopes == ["acme"]
    assert stores.body_keys == [{"deliveries/a"}]
    # And the audit record names the scope under the request's id
    assert report.erasure_id == "r1"
    assert stores.audits[0]["scope"] == "acme"


def test_an_erasure_everywhere_sweeps_every_tenant() -> None:
    stores = Stores(items=[Item("invitees", "a"), Item("invitees", "g", connection_id="globex")])
    erase(ADA, services(stores), principal="op", now=lambda: AT)
    assert stores.items == []
    assert stores.queue_scopes == [None]
    assert stores.body_keys == [None]
