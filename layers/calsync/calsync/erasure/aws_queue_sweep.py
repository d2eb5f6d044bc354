"""Finding and removing one person's waiting messages, for the erasure (``erase.py``): every
visible message of each queue whose messages may carry an address is received once, those
carrying it (with a scope: only that connection's) deleted, the others made visible again.
``SqsQueueSweep`` implements ``ports.QueueSweep``; the table and the bucket are ``aws_sweep``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from calsync.aws.errors import aws_call
from calsync.erasure.rules import carries
from calsync.intake.delivery import delivery_from_message, resolve_body

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from calsync.intake.aws_bodies import S3DeliveryBodies


def _message_content(message: dict[str, Any], bodies: S3DeliveryBodies | None = None) -> list[Any]:
    """A message's body as sent, and decoded when it is a delivery (a body travels base64 when
    SQS would refuse it, or in the delivery-bodies bucket when too large)."""
    body = message.get("Body", "")
    attributes = message.get("MessageAttributes", {})
    try:
        return [body, delivery_from_message(resolve_body(body, attributes, bodies), attributes).body]
    except ValidationError:
        return [body]  # a lifecycle event, or not a calsync delivery: its body as it is


class SqsQueueSweep:
    """``queues``: name → URL of every queue whose messages may carry an address, each swept by
    ``sweep_queue`` (``wait_seconds``: its long poll, 0 for emulators; ``bodies``: where a
    delivery's large body is read from)."""

    def __init__(
        self,
        sqs: SQSClient,
        queues: Mapping[str, str],
        *,
        wait_seconds: int = 1,
        bodies: S3DeliveryBodies | None = None,
    ) -> None:
        self.sqs, self.queues, self.wait_seconds, self.bodies = sqs, dict(queues), wait_seconds, bodies

    def sweep(self, email: str, *, remove: bool, connection_id: str | None = None) -> dict[str, int]:
        return {
            name: sweep_queue(
                self.sqs,
                url,
                email,
                remove=remove,
                wait_seconds=self.wait_seconds,
                bodies=self.bodies,
                connection_id=connection_id,
            )
            for name, url in sorted(self.queues.items())
        }


def message_connection(message: Mapping[str, Any]) -> str | None:
    """The connection a queued message belongs to: a delivery's ``connection_id`` attribute, a
    lifecycle event's ``detail.connection_id``; None when it names none."""
    attribute = message.get("MessageAttributes", {}).get("connection_id", {})
    if isinstance(attribute.get("StringValue"), str):
        return str(attribute["StringValue"])
    try:
        data = json.loads(message.get("Body", ""))
    except ValueError:
        return None
    detail = data.get("detail") if isinstance(data, dict) else None
    found = detail.get("connection_id") if isinstance(detail, dict) else None
    return found if isinstance(found, str) else None


def sweep_queue(
    sqs: SQSClient,
    url: str,
    email: str,
    *,
    remove: bool,
    wait_seconds: int = 1,
    hold_seconds: int = 120,
    clock: Callable[[], float] = time.monotonic,
    bodies: S3DeliveryBodies | None = None,
    connection_id: str | None = None,
) -> int:
    """Receive every visible message of a queue, delete those carrying the address (unless
    ``remove`` is false; with ``connection_id`` only that connection's) and make the others
    visible again; how many carried it.

    Every other message is held until the sweep ends, so the next receives reach messages not
    seen yet and each is received once (each receive counts toward the queue's redrive limit);
    a hold half spent is extended (ChangeMessageVisibilityBatch), so a long sweep never lets a
    message reappear. Held messages are released ten a call at the end. A message received again
    anyway (an extension refused) is recognised by id, released at once and not counted twice;
    the sweep ends at an empty receive or one holding only messages already seen. A release or
    extension refused per message (a stale receipt handle) is harmless: that message is visible
    already. ``wait_seconds`` long-polls (every SQS host is asked; 0 for emulators)."""
    held: dict[str, tuple[str, float]] = {}  # message id → (receipt handle, when received)
    seen: set[str] = set()
    matched = 0
    try:
        while True:
            with aws_call("sqs:ReceiveMessage (erase)"):
                batch = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    MessageAttributeNames=["All"],
                    VisibilityTimeout=hold_seconds,
                    WaitTimeSeconds=wait_seconds,
                ).get("Messages", [])
            received_at = clock()
            again = [m for m in batch if m["MessageId"] in seen]
            _release(sqs, url, [m["ReceiptHandle"] for m in again])
            if len(again) == len(batch):
                return matched
            for message in batch:
                if message["MessageId"] in seen:
                    continue
                seen.add(message["MessageId"])
                mine = connection_id is None or message_connection(dict(message)) == connection_id
                if mine and carries(_message_content(dict(message), bodies), email):
                    matched += 1
                    if remove:
                        with aws_call("sqs:DeleteMessage (erase)"):
                            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                        continue
                held[message["MessageId"]] = (message["ReceiptHandle"], received_at)
            lapsing = [i for i, (_, at) in held.items() if clock() - at >= hold_seconds / 2]
            _release(sqs, url, [held[i][0] for i in lapsing], hold_seconds)
            held |= {i: (held[i][0], clock()) for i in lapsing}
    finally:
        _release(sqs, url, [handle for handle, _ in held.values()])


def _release(sqs: SQSClient, url: str, handles: list[str], seconds: int = 0) -> None:
    """Make messages visible again (or hold them ``seconds`` more), ten a call; a handle refused
    (stale: the message is visible again already) is left as it is."""
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for n, handle in enumerate(handles[start : start + 10])
        ]
        with aws_call("sqs:ChangeMessageVisibilityBatch (erase)"):
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
