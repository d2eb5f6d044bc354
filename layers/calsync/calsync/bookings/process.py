"""One SQS record in, booking state out: what every processor Lambda runs per record."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from calsync.bookings.apply import ApplyResult, apply_delivery
from calsync.bookings.records import BookingsRepository
from calsync.erasure.rules import IsErased, refused_unread
from calsync.intake.delivery import Delivery, delivery_from_message


def process_message(
    body: str,
    attributes: Mapping[str, Mapping[str, object]],
    repo: BookingsRepository,
    *,
    now: datetime,
    archive_ttl: timedelta,
    is_erased: IsErased | None = None,
) -> ApplyResult:
    """Apply one queued delivery. A message that is not a calsync delivery at all (someone
    sent to the queue by hand) is quarantined, not retried: it could never succeed; unless it
    names someone erased (then it is kept nowhere)."""
    try:
        delivery = delivery_from_message(body, attributes)
    except ValidationError as exc:
        if is_erased is not None and refused_unread(body, is_erased):
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
    result = apply_delivery(delivery, repo, now=now, archive_ttl=archive_ttl, is_erased=is_erased)
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
