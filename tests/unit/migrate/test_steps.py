"""The runner of named migration steps: ``calsync migrate`` runs the pending ones and records each
completed; a step named runs again; a dry run records nothing; an unknown name is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.errors import DependencyUnavailable
from calsync.migrate.backoff import Backoff
from calsync.migrate.steps import STEPS, MigrationStores, Options, UnknownStep, chosen, migrate
from tests.fakes.migrate import FakeBookingIndex, FakeMigrationLog

NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
OPTIONS = Options(backoff=Backoff(sleep=lambda s: None, jitter=lambda: 1.0))


def stores() -> MigrationStores:
    index = FakeBookingIndex()
    index.add("E1", "OLD1", "acme")
    return MigrationStores(booking_index=index, log=FakeMigrationLog(), tenant_index=FakeBookingIndex())


def test_the_pending_steps_run_in_order_and_are_recorded() -> None:
    # Given a store where no step has run
    given = stores()
    # When the pending steps run
    reports = migrate(given, chosen(given.log), options=OPTIONS, now=lambda: NOW)
    # Then every step ran, and is recorded with when and its counts
    assert [r.step for r in reports] == [s.name for s in STEPS] == ["gsi3-booking-index", "gsi2-tenant-invitees"]
    assert reports[0].counts["updated"] == 1
    assert given.log.completed() == {
        "gsi3-booking-index": "2026-12-05T01:00:00Z",
        "gsi2-tenant-invitees": "2026-12-05T01:00:00Z",
    }
    # And afterwards nothing is pending
    assert chosen(given.log) == []


def test_a_step_named_runs_again_even_when_completed() -> None:
    given = stores()
    migrate(given, chosen(given.log), options=OPTIONS, now=lambda: NOW)
    reports = migrate(given, chosen(given.log, ["gsi3-booking-index"]), options=OPTIONS, now=lambda: NOW)
    assert reports[0].counts["updated"] == 0
    assert reports[0].counts["already_done"] == 1


def test_a_dry_run_records_nothing() -> None:
    given = stores()
    reports = migrate(given, chosen(given.log), options=Options(dry_run=True), now=lambda: NOW)
    assert [r.step for r in reports] == ["gsi3-booking-index", "gsi2-tenant-invitees"]
    assert reports[0].as_dict() == {
        "step": "gsi3-booking-index",
        "dry_run": True,
        "completed_at": None,
        "scanned": 1,
        "updated": 1,
        "already_done": 0,
        "skipped_without_tenant": 0,
        "gone": 0,
        "throttled": 0,
    }
    assert given.log.completed() == {}


def test_a_failed_step_is_not_recorded() -> None:
    given = stores()
    assert isinstance(given.booking_index, FakeBookingIndex)
    given.booking_index.fail_after = 0
    with pytest.raises(DependencyUnavailable, match="UpdateItem"):
        migrate(given, chosen(given.log), options=OPTIONS, now=lambda: NOW)
    assert given.log.completed() == {}


def test_an_unknown_step_is_refused_naming_the_steps() -> None:
    with pytest.raises(UnknownStep, match="gsi3-booking-index"):
        chosen(FakeMigrationLog(), ["gsi9"])
