"""Test data: the real Calendly fixtures and the events/ bodies, varied by small factories."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from calsync.lifecycle.events import LifecycleEvent

ROOT = Path(__file__).resolve().parents[1]
# The Calendly fixture corpus (copied from public MIT-licensed sources; see its SOURCES.md).
# The one place that says where it lives: every test reads it through these constants.
FIXTURES = ROOT / "tests" / "fixtures" / "calendly"
WEBHOOK_FIXTURES = FIXTURES / "webhooks"
API_FIXTURES = FIXTURES / "api"
EVENTS = ROOT / "events"
KEY = "whsec-test-signing-key"
NO_SHOW_PAYLOAD_FIXTURE = "invitee_payload_object_with_no_show_payment_reconfirmation__calendlyr.json"


def fixture_bodies() -> dict[str, bytes]:
    """Every webhook fixture as a delivery body. The one bare invitee payload (no envelope)
    is what Calendly's schema says an ``invitee_no_show.created`` delivery carries."""
    bodies: dict[str, bytes] = {}
    for path in sorted(WEBHOOK_FIXTURES.glob("*.json")):
        raw = path.read_bytes()
        if path.name == NO_SHOW_PAYLOAD_FIXTURE:
            raw = json.dumps(
                {
                    "event": "invitee_no_show.created",
                    "created_at": "2020-11-23T18:00:00.000000Z",
                    "payload": json.loads(raw),
                }
            ).encode()
        bodies[path.name] = raw
    assert bodies, f"no fixtures found in {WEBHOOK_FIXTURES}"
    return bodies


def event_body(name: str) -> bytes:
    return (EVENTS / "webhooks" / name).read_bytes()


def event_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event_body(name))
    return data


def vary(name: str, **payload_changes: Any) -> bytes:
    """An events/ body with some payload fields changed."""
    data = copy.deepcopy(event_json(name))
    data["payload"].update(payload_changes)
    return json.dumps(data).encode()


SAMPLE_MEETINGS_DAY = datetime(2026, 12, 1, tzinfo=UTC)  # the events/ samples' meetings: 2026-12-01..03


SAMPLES_SENT_BY = datetime(2026, 12, 2, 12, tzinfo=UTC)  # after every date the samples (and tests' variants) carry


def after_samples() -> datetime:
    """Now, but never before the samples were sent: what happens "now" (an erasure) comes after
    every sample delivery whatever today's date is."""
    return max(datetime.now(UTC), SAMPLES_SENT_BY)


def meetings_ahead_of(now: datetime, days: int = 30) -> timedelta:
    """How far to move the samples' meetings (whole days) so the first is ``days`` after ``now``'s day."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days) - SAMPLE_MEETINGS_DAY


def moved(body: bytes | str, by: timedelta) -> bytes:
    """An events/ body (or its file name) with every meeting time (``start_time``/``end_time``,
    wherever it sits) moved by ``by``: the samples ahead of a clock the test reads."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: shift(v) if k in ("start_time", "end_time") else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    def shift(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        at = datetime.fromisoformat(value.replace("Z", "+00:00")) + by
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    raw = event_body(body) if isinstance(body, str) else body
    return json.dumps(walk(json.loads(raw))).encode()


GRACE = "grace@example.com"


def grace_booking() -> bytes:
    """Grace's booking of the events/ samples' scheduled event: someone besides Ada, whom an
    erasure of Ada must leave alone."""
    data = event_json("invitee_created.json")
    data["payload"].update(
        email=GRACE,
        name="Grace",
        uri="https://api.calendly.com/scheduled_events/DEMOEVENT0000001/invitees/GRACE00000000001",
    )
    return json.dumps(data).encode()


def padded(name: str, size: int, *, seed: int = 16) -> bytes:
    """An events/ body grown to exactly ``size`` bytes by a field Calendly might add one day
    (models accept extra fields; nothing stores it), filled with text that does not compress."""
    import random

    data = copy.deepcopy(event_json(name))
    data["payload"]["extra_notes"] = ""
    short = len(json.dumps(data).encode())
    if size < short:
        raise ValueError(f"{name} is {short} bytes already")
    data["payload"]["extra_notes"] = random.Random(seed).randbytes((size - short) // 2 + 1).hex()[: size - short]
    body = json.dumps(data).encode()
    assert len(body) == size
    return body


def eventbridge_envelope(event: LifecycleEvent, time: str) -> dict[str, Any]:
    """A lifecycle event as EventBridge delivers it to a rule's target, sent at ``time``."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.detail_type.value,
        "source": "calsync",
        "account": "111122223333",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": json.loads(json.dumps(event.detail)),
    }
