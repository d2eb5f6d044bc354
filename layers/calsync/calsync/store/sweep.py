"""Finding and removing one person's data, for ``calsync erase``: the only code that reads
every stored item and every waiting message for an address.

Table items are found through the by-email index (the person's bookings) and a full Scan for
the rest (submissions, archived, quarantined and kept deliveries carry the address in their
content). Each item is read through its typed view, so stored bodies are decoded the way the
rest of the store decodes them. A Scan reads the whole table: 0.5 read units per 4 KB
(eventually consistent), i.e. about 1.3 RCU per 1,000 items of ~10 KB; an operator command.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from calsync.bookings.erasure import carries
from calsync.store import keys
from calsync.store.dynamo import batch_get_items, query_items, scan_items
from calsync.store.errors import aws_call
from calsync.store.views import StoredDelivery, view
from calsync.webhooks.delivery import delivery_from_message

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

# Item type → the store it counts under; only these are ever removed (never a scheduled event:
# its hosts are the organization's users, nor a connection, tombstone or audit record).
STORES = {
    "invitee": "invitees",
    "routing_form_submission": "submissions",
    "delivery": "archive",
    "quarantine": "quarantine",
    "other": "other",
}


@dataclass(frozen=True, slots=True)
class Found:
    store: str
    key: keys.Key


def _content(item: dict[str, Any]) -> list[Any]:
    """What an item holds, read through its view (a stored body decoded)."""
    stored = view(item)
    body = stored.body if isinstance(stored, StoredDelivery) else None
    return [stored.attributes, body]


def _names_any(content: list[Any], uris: set[str]) -> bool:
    if not uris:
        return False
    text = json.dumps(content, default=str)
    return any(uri in text for uri in uris)


class TableSweep:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self.client = client

    def _by_email(self, email: str) -> Iterator[dict[str, Any]]:
        """The person's invitee items, whole (the by-email index may hold keys only)."""
        entries = query_items(
            self.client,
            "erase: by email",
            TableName=self.table_name,
            IndexName=keys.GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.email_pk(email)}},
        )
        if keys.GSI1 not in keys.KEYS_ONLY_INDEXES:
            yield from entries
            return
        wanted = [keys.Key(entry[keys.PK], entry[keys.SK]).dynamo() for entry in entries]
        yield from batch_get_items(self.client, "erase: by email", self.table_name, wanted).values()

    def find(self, email: str) -> list[Found]:
        """Every removable item carrying the address (index first, then a full Scan), or naming
        one of the person's invitees by URI (a submission they made, a no-show delivery that
        carries only the invitee). Their invitees come last, so a run that stops halfway still
        finds those URIs when run again."""
        found: dict[keys.Key, Found] = {}
        uris: set[str] = set()
        for item in self._by_email(email):
            key = keys.Key(item[keys.PK], item[keys.SK])
            found[key] = Found(STORES.get(str(item.get("type")), "invitees"), key)
            if isinstance(item.get("uri"), str):
                uris.add(item["uri"])
        for item in scan_items(self.client, "erase: full scan", TableName=self.table_name):
            store = STORES.get(str(item.get("type")))
            key = keys.Key(item[keys.PK], item[keys.SK])
            if store is None or key in found:
                continue
            content = _content(item)
            if carries(content, email) or _names_any(content, uris):
                found[key] = Found(store, key)
        return sorted(found.values(), key=lambda f: (f.store == "invitees", f.store, f.key))

    def remove(self, found: Found) -> None:
        with aws_call(f"dynamodb:DeleteItem (erase {found.store})"):
            self.client.delete_item(TableName=self.table_name, Key=found.key.dynamo())


def _message_content(message: dict[str, Any]) -> list[Any]:
    """A message's body as sent, and decoded when it is a delivery (a body travels base64 when
    SQS would refuse it)."""
    body = message.get("Body", "")
    try:
        return [body, delivery_from_message(body, message.get("MessageAttributes", {})).body]
    except ValidationError:
        return [body]  # a lifecycle event, or not a calsync delivery: its body as it is


def sweep_queue(
    sqs: SQSClient,
    url: str,
    email: str,
    *,
    remove: bool,
    wait_seconds: int = 1,
    hold_seconds: int = 120,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Receive every visible message of a queue, delete those carrying the address (unless
    ``remove`` is false) and make the others visible again; how many carried it.

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
                if carries(_message_content(dict(message)), email):
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


def counts(found: list[Found]) -> Counter[str]:
    return Counter(f.store for f in found)
