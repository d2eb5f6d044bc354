"""The replay use case (``calsync.replay.replay``) over an in-memory archive and queue: which
kept deliveries a window selects, what goes on the queues again (a large body read back from
the bucket), and the outcome read while the processors work (against moto:
tests/integration/test_replay.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from calsync.intake.delivery import Delivery
from calsync.intake.routing import QueueKind
from calsync.replay.replay import Selection, outcome, replay, select

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Kept:
    event: str | None
    received_at: str | None
    body: str | None = '{"event": "invitee.created", "payload": {}}'
    body_key: str | None = None
    connection_id: str | None = "acme"
    body_sha256: str = "0" * 64


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Archive:
    kept: list[Kept] = field(default_factory=list)
    quarantined: list[Kept] = field(default_factory=list)
    counts: list[dict[str, int]] = field(default_factory=list)  # what each read of the outcome finds

    def archived(self, *, quarantined: bool = False) -> list[Kept]:
        return self.quarantined if quarantined else self.kept

    def replay_counts(self, replay_id: str) -> Mapping[str, int]:
        return self.counts.pop(0) if len(self.counts) > 1 else self.counts[0]


class Sent(list[tuple[QueueKind, Delivery]]):
    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        self.append((kind, delivery))


class Bucket(dict[str, bytes]):
    def put(self, key: str, body: bytes) -> None:
        self[key] = body


def test_a_window_selects_the_kept_deliveries_received_in_it_that_match_the_filters() -> None:
    # Given deliveries kept before, in and after the window, of two kinds and connections
    archive = Archive(
        kept=[
            Kept("invitee.created", at(-5)),
            Kept("invitee.created", at(0)),
            Kept("invitee.canceled", at(10), connection_id="solo"),
            Kept("invitee.created", at(20), body=None, body_key="bodies/large"),  # its body in the bucket
            Kept("invitee.created", at(25), body=None),  # nothing kept to replay
            Kept(None, at(26)),  # no event name
            Kept("invitee.created", None),  # no time
            Kept("invitee.created", at(31)),
        ],
        quarantined=[Kept("invitee.created", at(5))],
    )
    window = Selection(T0, T0 + timedelta(minutes=30))
    # Then the window takes those received in it with a body (or its key) and an event
    assert [k.received_at for k in select(archive, window)] == [at(0), at(10), at(20)]
    # And filters narrow it; the quarantined are a selection of their own
    assert [k.event for k in select(archive, Selection(window.since, window.until, event="invitee.canceled"))] == [
        "invitee.canceled"
    ]
    assert select(archive, Selection(window.since, window.until, connection_id="nobody")) == []
    quarantined = Selection(window.since, window.until, quarantined=True)
    assert [k.received_at for k in select(archive, quarantined)] == [at(5)]


def test_a_replay_sends_each_delivery_as_received_with_one_replay_id() -> None:
    # Given two kept deliveries, one whose large body is in the bucket, one whose body expired
    bucket = Bucket({"bodies/large": b'{"event": "invitee.canceled", "payload": {}}'})
    items = [
        Kept("invitee.created", at(0)),
        Kept("invitee.canceled", at(1), body=None, body_key="bodies/large", connection_id=None),
        Kept("invitee.created", at(2), body=None, body_key="bodies/expired"),
    ]
    queue, advanced = Sent(), []
    # When they are replayed
    replay_id, enqueued = replay(items, queue, advance=lambda: advanced.append(1), bodies=bucket)
    # Then the two with a body went to their queues, marked with the replay's id
    assert enqueued == 2 == len(advanced)
    assert [kind for kind, _ in queue] == [QueueKind.INVITEE_CREATED, QueueKind.INVITEE_CANCELED]
    assert {d.replay_id for _, d in queue} == {replay_id}
    created, canceled = (d for _, d in queue)
    assert created.received_at == T0
    assert canceled.body == bucket["bodies/large"].decode()
    assert canceled.connection_id == "unknown"


def test_the_outcome_is_read_until_every_delivery_is_counted_or_the_wait_is_over() -> None:
    # Given processors that count the replay's three deliveries over three reads
    archive = Archive(
        counts=[
            {"applied": 0, "unchanged": 1, "quarantined": 0, "erased": 0},
            {"applied": 1, "unchanged": 1, "quarantined": 0, "erased": 0},
            {"applied": 1, "unchanged": 1, "quarantined": 0, "erased": 1},
        ]
    )
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    # When the outcome is awaited
    counts = outcome(archive, "r1", 3, wait_seconds=60, clock=lambda: now[0], sleep=sleep)
    # Then it read until all three were counted
    assert counts == {"applied": 1, "unchanged": 1, "quarantined": 0, "erased": 1}
    assert slept == [0.5, 0.5]
    # And without waiting it reads once
    archive = Archive(counts=[{"applied": 0, "unchanged": 0, "quarantined": 0, "erased": 0}])
    assert outcome(archive, "r2", 3, wait_seconds=0, sleep=sleep).total() == 0
    assert slept == [0.5, 0.5]
