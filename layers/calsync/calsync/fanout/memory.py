"""The fan-out's ports in memory (unit tests, the scale simulation): connection pages over a list,
a queue that keeps what it was sent (with each message's visible-at time on an injected clock)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from calsync.connections.records import Connection
from calsync.fanout.ports import BATCH_LIMIT
from calsync.fanout.work import Message


class MemoryPages:
    """``ConnectionPages`` over connections sorted by id; counts the pages read."""

    def __init__(self, connections: Iterable[Connection]) -> None:
        self.connections = sorted(connections, key=lambda c: c.connection_id)
        self._ids = [c.connection_id for c in self.connections]
        self.reads = 0

    def page(self, *, limit: int, after: str | None = None) -> tuple[list[Connection], str | None]:
        self.reads += 1
        start = 0 if after is None else bisect.bisect_right(self._ids, after)
        chunk = self.connections[start : start + limit]
        more = start + limit < len(self.connections)
        return chunk, (chunk[-1].connection_id if more and chunk else None)


@dataclass
class Queued:
    body: str
    visible_at: float


@dataclass
class MemoryQueue:
    """``WorkQueue`` in memory. ``refuse`` may name message bodies to refuse (tests)."""

    clock: Callable[[], float]
    messages: list[Queued] = field(default_factory=list)
    calls: int = 0
    refuse: Callable[[Message], bool] = field(default=lambda message: False)

    def send_batch(self, messages: list[Message]) -> list[str]:
        if len(messages) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} messages per batch")
        self.calls += 1
        refused = []
        for message in messages:
            if self.refuse(message):
                refused.append(message.id)
            else:
                self.messages.append(Queued(message.body, self.clock() + message.delay))
        return refused

    def send(self, body: str, delay: int) -> None:
        self.messages.append(Queued(body, self.clock() + delay))

    def due(self) -> list[str]:
        """Take every message visible now."""
        now = self.clock()
        ready = [m for m in self.messages if m.visible_at <= now]
        self.messages = [m for m in self.messages if m.visible_at > now]
        return [m.body for m in ready]
