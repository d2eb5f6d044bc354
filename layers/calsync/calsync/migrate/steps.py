"""The migration steps, by name, and the runner ``calsync migrate`` calls.

A step is idempotent and re-runnable: it finds what is still to do itself. Running it records
its completion (``MigrationLog``), so ``calsync migrate`` runs only the steps not yet completed
(pending); ``--step NAME`` runs one whether recorded or not. A later migration is one more
``MigrationStep`` in ``STEPS``, in the order they must run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calsync import timefmt
from calsync.migrate import booking_index, tenant_index
from calsync.migrate.backoff import Backoff
from calsync.migrate.ports import BookingIndex, MigrationLog


@dataclass(frozen=True, slots=True)
class MigrationStores:
    """What the steps read and write (``calsync.compose.migrations`` builds them)."""

    booking_index: BookingIndex
    log: MigrationLog
    tenant_index: BookingIndex  # the same scan and writes, for the invitees' GSI2 keys


@dataclass(frozen=True, slots=True)
class Options:
    segments: int = 1  # parallel scan segments
    dry_run: bool = False  # count only; write nothing, record nothing
    backoff: Backoff = field(default_factory=Backoff)
    on_progress: Callable[[str, Mapping[str, int]], None] | None = None  # (step, running counts)


@dataclass(frozen=True, slots=True)
class MigrationStep:
    name: str
    summary: str
    run: Callable[[MigrationStores, Options], dict[str, int]]


def _booking_index(stores: MigrationStores, options: Options) -> dict[str, int]:
    return _index(booking_index.NAME, stores.booking_index, options)


def _tenant_index(stores: MigrationStores, options: Options) -> dict[str, int]:
    return _index(tenant_index.NAME, stores.tenant_index, options)


def _index(name: str, store: BookingIndex, options: Options) -> dict[str, int]:
    progress = options.on_progress

    def on_page(counts: booking_index.IndexCounts) -> None:
        if progress is not None:
            progress(name, counts.as_dict())

    return booking_index.index_bookings(
        store,
        segments=options.segments,
        dry_run=options.dry_run,
        backoff=options.backoff,
        on_page=on_page,
    ).as_dict()


STEPS: tuple[MigrationStep, ...] = (
    MigrationStep(
        booking_index.NAME,
        "give invitees stored before GSI3 their GSI3PK (GET …/bookings/{invitee_uuid} finds them)",
        _booking_index,
    ),
    MigrationStep(
        tenant_index.NAME,
        "give invitees stored before GSI2 listed them their GSI2 keys (a bookings page becomes one Query)",
        _tenant_index,
    ),
)


class UnknownStep(ValueError):
    """A step name that is not in ``STEPS``."""


@dataclass(frozen=True, slots=True)
class StepReport:
    step: str
    counts: dict[str, int]
    dry_run: bool
    completed_at: str | None  # recorded now (``None`` in a dry run)

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "dry_run": self.dry_run, "completed_at": self.completed_at, **self.counts}


def chosen(log: MigrationLog, names: Sequence[str] = ()) -> list[MigrationStep]:
    """The steps named (each whether completed before or not), else the pending ones in order."""
    by_name = {step.name: step for step in STEPS}
    if unknown := [n for n in names if n not in by_name]:
        raise UnknownStep(f"no migration step {', '.join(unknown)} (steps: {', '.join(by_name)})")
    if names:
        return [step for step in STEPS if step.name in names]
    completed = log.completed()
    return [step for step in STEPS if step.name not in completed]


def migrate(
    stores: MigrationStores, steps: Sequence[MigrationStep], *, options: Options, now: Callable[[], datetime]
) -> list[StepReport]:
    """Run ``steps`` one after another; each one that completes (not in a dry run) is recorded.
    A failure propagates: the steps before it are recorded, and running again finishes it."""
    reports = []
    for step in steps:
        counts = step.run(stores, options)
        completed_at = None
        if not options.dry_run:
            completed_at = timefmt.iso_z(now())
            stores.log.record(step.name, completed_at, counts)
        reports.append(StepReport(step.name, counts, options.dry_run, completed_at))
    return reports
