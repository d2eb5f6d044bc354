"""One SQS record in, booking state out: what every processor Lambda runs per record."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from calsync.bookings.apply import ApplyResult, apply_delivery
from calsync.bookings.records import BookingsRepository
from calsync.erasure.rules import ErasedIn, IsErased, refused_unread
from calsync.intake.delivery import Delivery, delivery_from_message


def process_message(
    body: str,
    attributes: Mapping[str, Mapping[str, object]],
    repo: BookingsRepository,
    *,
    now: datetime,
    archive_ttl: timedelta,
    is_erased: IsErased | None = None,
    erased_in: ErasedIn | None = None,
) -> ApplyResult:
    """Apply one queued delivery. A message that is not a calsync delivery at all (someone
    sent to the queue by hand) is quarantined, not retried: it could never succeed; unless it
    names someone erased (then it is kept nowhere). ``erased_in``: tombstones scoped by the
    delivery's connection (a message of no known connection: any tombstone refuses it)."""
    try:
        delivery = delivery_from_message(body, attributes)
    except ValidationError as exc:
        unread = erased_in(None) if erased_in is not None else is_erased
        if unread is not None and refused_unread(body, unread):
            return ApplyResult("unknown", erased=True)
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        reason = f"not a calsync delivery message: {', '.join(fields)}"
        stray = Delivery(
            connection_id="unknown",
            received_at=now.astimezone(UTC),
            body_sha256=hashlib.sha256(body.encode()).hexdigest(),
            event="unknown",
            body=body,
        )
        repo.quarantine(stray, reason=reason)
        return ApplyResult("unknown", quarantined=reason)
    result = apply_delivery(delivery, repo, now=now, archive_ttl=archive_ttl, is_erased=is_erased, erased_in=erased_in)
    if delivery.replay_id:
        outcome = (
            "quarantined"
            if result.quarantined
            else "erased"
            if result.erased
            else "applied"
            if result.changed
            else "unchanged"
        )
        repo.record_replay(delivery.replay_id, outcome)
    return result


@dataclass
class BatchTally:
    """What one processor invocation did, for its one log line (its counts reach CloudWatch
    through metric filters on that line)."""

    message_ids: list[str] = field(default_factory=list)
    applied: int = 0
    duplicate: int = 0
    stale: int = 0
    quarantined: int = 0
    erased: int = 0
    lag_max_s: float = 0.0

    def count(self, result: ApplyResult) -> None:
        if result.erased:
            self.erased += 1
        elif result.quarantined:
            self.quarantined += 1
        else:
            self.lag_max_s = max(self.lag_max_s, result.lag_seconds)
            self.duplicate += result.duplicate
            self.applied += result.changed
            self.stale += not result.changed

    def fields(self, failed: int) -> dict[str, object]:
        counts = {"applied": self.applied, "duplicate": self.duplicate, "stale": self.stale}
        extra = {"quarantined": self.quarantined, "erased": self.erased, "failed": failed}
        return {
            "records": len(self.message_ids),
            **counts,
            **{k: v for k, v in extra.items() if v},
            "lag_max_s": round(self.lag_max_s, 3),
            "message_ids": self.message_ids,
        }
