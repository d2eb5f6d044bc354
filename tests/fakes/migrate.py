"""The migration steps' store in memory: invitee items (``migrate.aws_migrations.DynamoBookingIndex``,
whose behaviour tests/integration/test_migrate.py checks on moto) and the record of completed
steps (``DynamoMigrationLog``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calsync.errors import DependencyUnavailable, Throttled
from calsync.migrate.ports import IndexCandidate, Indexed, Position


@dataclass
class FakeInvitee:
    tenant: str | None
    gsi3pk: str | None = None


@dataclass
class FakeBookingIndex:
    """``items``: (PK, SK) → invitee; ``page_size`` items a page; ``fail_after``: index writes
    that succeed before every further one fails (``DependencyUnavailable``), ``None`` for never;
    ``throttle``: calls refused as ``Throttled`` before one is let through (each call alike);
    ``before_write``: run before each write (a processor or an erasure racing the migration)."""

    items: dict[tuple[str, str], FakeInvitee] = field(default_factory=dict)
    page_size: int = 2
    fail_after: int | None = None
    throttle: int = 0
    before_write: Any = None
    writes: int = 0  # conditional writes attempted (dry runs make none)
    scans: list[tuple[int, int]] = field(default_factory=list)  # (segment, segments) per page read
    _throttled: int = 0

    def add(self, event: str, invitee: str, tenant: str | None, *, indexed: bool = False) -> tuple[str, str]:
        key = (f"EVENT#{event}", f"INVITEE#{invitee}")
        self.items[key] = FakeInvitee(tenant, f"BOOKING#{tenant}#{invitee}" if indexed else None)
        return key

    def _refuse_rate(self) -> None:
        if self._throttled < self.throttle:
            self._throttled += 1
            raise Throttled("dynamodb:Scan failed: ProvisionedThroughputExceededException")
        self._throttled = 0

    def invitees(
        self, segment: int, segments: int, after: Position | None
    ) -> tuple[list[IndexCandidate], Position | None]:
        self._refuse_rate()
        self.scans.append((segment, segments))
        mine = sorted(k for n, k in enumerate(sorted(self.items)) if n % segments == segment)
        start = int(after["at"]) if after else 0
        page = mine[start : start + self.page_size]
        found = [
            IndexCandidate(pk, sk, self.items[(pk, sk)].tenant, self.items[(pk, sk)].gsi3pk is not None)
            for pk, sk in page
        ]
        end = start + len(page)
        return found, ({"at": end} if end < len(mine) else None)

    def index(self, invitee: IndexCandidate) -> Indexed:
        self._refuse_rate()
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise DependencyUnavailable("dynamodb:UpdateItem (invitee GSI3PK) failed: InternalServerError")
        self.writes += 1
        if self.before_write is not None:
            self.before_write(invitee)
        stored = self.items.get((invitee.pk, invitee.sk))
        if stored is None:
            return Indexed.GONE
        if stored.gsi3pk is not None:
            return Indexed.ALREADY_DONE
        if not stored.tenant or stored.tenant != invitee.tenant:
            return Indexed.NO_TENANT
        stored.gsi3pk = f"BOOKING#{stored.tenant}#{invitee.sk.removeprefix('INVITEE#')}"
        return Indexed.UPDATED

    def unindexed(self) -> list[tuple[str, str]]:
        return sorted(k for k, v in self.items.items() if v.tenant and v.gsi3pk is None)


@dataclass
class FakeMigrationLog:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def completed(self) -> dict[str, str]:
        return {step: str(r["completed_at"]) for step, r in self.records.items()}

    def record(self, step: str, completed_at: str, counts: Mapping[str, int]) -> None:
        self.records[step] = {"completed_at": completed_at, "counts": dict(counts)}
