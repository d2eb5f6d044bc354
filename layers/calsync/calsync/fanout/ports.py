"""What dispatching needs (implemented by ``connections.aws_registry``, ``fanout.aws_queue`` and,
in memory, ``fanout.memory``)."""

from __future__ import annotations

from typing import Protocol

from calsync.connections.records import Connection
from calsync.fanout.work import Message

BATCH_LIMIT = 10  # SQS SendMessageBatch's entries per call


class ConnectionPages(Protocol):
    """The connections, ``limit`` at a time, in a stable order: a page and the cursor of the next
    (None: that was the last page). ``after`` is the previous page's cursor."""

    def page(self, *, limit: int, after: str | None = None) -> tuple[list[Connection], str | None]: ...


class WorkQueue(Protocol):
    """One job's queue. ``send_batch`` takes at most ``BATCH_LIMIT`` messages and returns the ids
    of those it did not accept (raises ``DependencyUnavailable`` when the call failed as a whole)."""

    def send_batch(self, messages: list[Message]) -> list[str]: ...
