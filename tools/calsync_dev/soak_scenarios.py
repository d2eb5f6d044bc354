"""The soak's deliveries and what they must leave in the table: scenarios of fresh invitees
(created; created then canceled; a reschedule pair; a no-show; a routing form; an event calsync
does not model), the shuffled stream with duplicates (``plan``), and the verdict (``check``:
lost and double-applied). ``calsync_dev.soak`` sends them; the fault suite reuses both."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync_dev.events import EVENTS

if TYPE_CHECKING:
    from calsync_dev.cli.target import Target


SCENARIOS = ("created", "canceled", "reschedule", "no_show", "routing", "unknown")
WEIGHTS = (30, 20, 15, 15, 10, 10)
# The ids in the events/ samples, replaced by fresh ones in each scenario.
_IDS: tuple[str, ...] = ("DEMOEVENT0000001", "DEMOEVENT0000002", "DEMOEVENT0000003", "INVITEE00000001")
_IDS += ("INVITEE00000002", "INVITEE00000003", "ROUTINGSUBMIT001", "SCHEDULE00000001")


def _sample(name: str) -> str:
    return (EVENTS / "webhooks" / f"{name}.json").read_text()


@dataclass(frozen=True)
class Expected:
    """What one scenario must leave in the table."""

    bookings: dict[str, dict[str, object]] = field(default_factory=dict)  # invitee uri -> field: value
    submissions: tuple[str, ...] = ()  # routing-form submission URIs
    others: tuple[str, ...] = ()  # body sha256 of events kept whole


@dataclass(frozen=True)
class Scenario:
    kind: str
    bodies: tuple[bytes, ...]
    email: str
    expected: Expected


def scenario(kind: str, run: str, n: int) -> Scenario:
    """One scenario's deliveries (in causal order) and what it must leave behind."""
    email = f"soak-{run}-{n}@example.com"
    ids = {old: uuid.uuid4().hex.upper()[:16] for old in _IDS}

    def body(name: str) -> bytes:
        text = _sample(name).replace("ada@example.com", email).replace("grace@example.com", email)
        for old, new in ids.items():
            text = text.replace(old, new)
        return json.dumps(json.loads(text)).encode()

    def uri(event: str, invitee: str) -> str:
        return f"https://api.calendly.com/scheduled_events/{ids[event]}/invitees/{ids[invitee]}"

    first = uri("DEMOEVENT0000001", "INVITEE00000001")
    if kind == "created":
        return Scenario(kind, (body("invitee_created"),), email, Expected({first: {"status": "active"}}))
    if kind == "canceled":
        bodies = (body("invitee_created"), body("invitee_canceled"))
        return Scenario(kind, bodies, email, Expected({first: {"status": "canceled"}}))
    if kind == "reschedule":
        old, new = uri("DEMOEVENT0000002", "INVITEE00000002"), uri("DEMOEVENT0000003", "INVITEE00000003")
        bodies = (body("invitee_rescheduled_canceled_old"), body("invitee_rescheduled_created_new"))
        expected: dict[str, dict[str, object]] = {
            old: {"status": "canceled", "rescheduled_to": new},
            new: {"status": "active"},
        }
        return Scenario(kind, bodies, email, Expected(expected))
    if kind == "no_show":
        bodies = (body("invitee_created"), body("invitee_no_show_created"))
        return Scenario(kind, bodies, email, Expected({first: {"status": "active", "no_show": True}}))
    if kind == "routing":
        submission = f"https://api.calendly.com/routing_form_submissions/{ids['ROUTINGSUBMIT001']}"
        return Scenario(kind, (body("routing_form_submission_created"),), email, Expected(submissions=(submission,)))
    if kind == "unknown":
        raw = body("unknown_event")
        return Scenario(kind, (raw,), email, Expected(others=(hashlib.sha256(raw).hexdigest(),)))
    raise ValueError(f"unknown scenario {kind!r}")


def plan(
    count: int, run: str, *, duplicates: float = 0.1, window: int = 40, seed: int | None = None
) -> tuple[list[Scenario], list[bytes]]:
    """Scenarios whose deliveries (with ``duplicates`` of them repeated) total ``count``,
    and the order to send them in: causal order shuffled within ``window`` positions."""
    chooser = random.Random(seed)  # noqa: S311 - test data, reproducible from --seed
    scenarios: list[Scenario] = []
    stream: list[bytes] = []
    while len(stream) < count:
        made = scenario(chooser.choices(SCENARIOS, WEIGHTS)[0], run, len(scenarios))
        room = count - len(stream)
        if len(made.bodies) > room:
            made = scenario("created", run, len(scenarios))
        scenarios.append(made)
        for raw in made.bodies:
            stream.append(raw)
            if len(stream) < count and chooser.random() < duplicates:
                stream.append(raw)
    for start in range(0, len(stream), window):
        part = stream[start : start + window]
        chooser.shuffle(part)
        stream[start : start + window] = part
    return scenarios, stream[:count]


# ------------------------------------------------------------------ sending


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    double_applied: list[str] = field(default_factory=list)
    archived: int = 0


def check(target: Target, scenarios: Sequence[Scenario], accepted: set[bytes], run: str) -> Verdict:
    """Compare the table (read once per item type) with every scenario's expectation."""
    from calsync.aws.views import StoredBooking, StoredDelivery, StoredSubmission

    repo = target.bookings()
    shas = {hashlib.sha256(raw).hexdigest() for raw in accepted}
    archive = Counter(d.body_sha256 for d in repo.scan_type("delivery") if isinstance(d, StoredDelivery))
    others = Counter(d.body_sha256 for d in repo.scan_type("other") if isinstance(d, StoredDelivery))
    submissions = Counter(s.uri for s in repo.scan_type("routing_form_submission") if isinstance(s, StoredSubmission))
    bookings: dict[str, list[StoredBooking]] = {}
    for booking in repo.all_bookings():
        if str(booking.email or "").startswith(f"soak-{run}-"):
            bookings.setdefault(str(booking.uri), []).append(booking)
    verdict = Verdict(archived=sum(1 for sha in shas if archive[sha]))
    verdict.lost += [f"archive {sha}" for sha in sorted(shas) if not archive[sha]]
    verdict.double_applied += [f"archive {sha} x{archive[sha]}" for sha in sorted(shas) if archive[sha] > 1]
    for item in scenarios:
        if not any(raw in accepted for raw in item.bodies):
            continue  # nothing of it was accepted (the time bound cut it off)
        complete = all(raw in accepted for raw in item.bodies)
        for uri, fields in item.expected.bookings.items():
            found = bookings.get(uri, [])
            if not found:
                verdict.lost.append(f"{item.kind} {item.email}: booking {uri}")
            elif len(found) > 1:
                verdict.double_applied.append(f"{item.kind} {item.email}: {len(found)} items for {uri}")
            elif complete and (wrong := _differences(found[0], fields)):
                verdict.double_applied.append(f"{item.kind} {item.email}: {wrong}")
        for uri in item.expected.submissions:
            if not submissions[uri]:
                verdict.lost.append(f"routing {uri}")
            elif submissions[uri] > 1:
                verdict.double_applied.append(f"routing {uri} x{submissions[uri]}")
        for sha in item.expected.others:
            if not others[sha]:
                verdict.lost.append(f"unknown {sha}")
            elif others[sha] > 1:
                verdict.double_applied.append(f"unknown {sha} x{others[sha]}")
    return verdict


def _differences(booking: object, fields: dict[str, object]) -> str:
    wrong = []
    for name, want in fields.items():
        got = getattr(booking, name)
        if (bool(got) if want is True else got) != want:
            wrong.append(f"{name}={got!r} (want {want!r})")
    return ", ".join(wrong)
