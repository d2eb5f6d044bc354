"""DynamoDB's writes made atomic in the emulator, as they are in AWS (local stack only).

moto's server answers each request on a thread of its own, and its DynamoDB does a
conditional write in steps (read the item, check the condition, write it back) with no lock.
Two writes to one item at the same moment can therefore both pass their conditions, and the
later one wins whatever its version: a booking's cancellation, processed while another
processor applied its creation, could end ``active``. DynamoDB applies each write to an
item atomically, and calsync's version conditions rely on it.

``SerialDynamoDB`` answers DynamoDB (and DynamoDB Streams) requests one at a time. The
emulator answers on one core anyway, so this costs no throughput. Other services pass
straight through: an SQS long poll waits inside moto and must not hold anyone up.

SQS's receive has the same gap (find a message visible, then mark it received): two pollers of
one queue receiving at once could both be handed the same message, which SQS never does within
its visibility timeout. ``serial_receives`` makes moto receive from one queue at a time (other
queues, and sends, are not held up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

_SERIAL_TARGETS = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")
_RECEIVES_SERIAL = "_calsync_serial_receives"


class SerialDynamoDB:
    """WSGI wrapper: one DynamoDB request at a time, its whole answer built under the lock."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_SERIAL_TARGETS):
            return self.app(environ, start_response)
        with self._lock:
            return list(self.app(environ, start_response))


def serial_receives() -> None:
    """Patch moto (in this process; once): one receive at a time per queue."""
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend, _RECEIVES_SERIAL, False):
        return
    original = SQSBackend.receive_message
    locks: dict[str, threading.Lock] = {}
    guard = threading.Lock()

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with guard:
            lock = locks.setdefault(f"{self.account_id}/{self.region_name}/{queue_name}", threading.Lock())
        with lock:
            return original(self, queue_name, *args, **kwargs)

    setattr(SQSBackend, "receive_message", receive_message)  # noqa: B010 - patching moto
    setattr(SQSBackend, _RECEIVES_SERIAL, True)
