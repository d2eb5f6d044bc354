"""Finding and removing one person's data, for the erasure (``erase.py``): the only code that
reads every stored item and every waiting message for an address. ``TableSweep``,
and ``BucketSweep`` implement ``ports.ItemSweep`` and ``BodySweep`` (the queues: ``aws_queue_sweep``).

Table items are found through the by-email index (the person's bookings) and a full Scan for
the rest (submissions, archived, quarantined and kept deliveries carry the address in their
content). Each item is read through its typed view, so stored bodies are decoded the way the
rest of the store decodes them. A Scan reads the whole table: 0.5 read units per 4 KB
(eventually consistent), i.e. about 1.3 RCU per 1,000 items of ~10 KB; an operator command.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calsync.aws import keys
from calsync.aws.dynamo import batch_get_items, conditional, plain_item, query_items, scan_items, serialise
from calsync.aws.errors import aws_call
from calsync.aws.views import BODY_ZLIB, StoredDelivery, view
from calsync.erasure.ports import REDACTED_COUNT
from calsync.erasure.rules import carries, normalise
from calsync.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from calsync.intake.aws_bodies import S3DeliveryBodies

# Item type → the store it counts under; only these are ever removed, and only when they are the
# person's own (never a scheduled event, a connection, tombstone or audit record).
STORES = {
    "invitee": "invitees",
    "routing_form_submission": "submissions",
    "delivery": "archive",
    "quarantine": "quarantine",
    "other": "other",
    "contact": "contacts",  # a Calendly contact of the person
    "meeting_recap": "meeting_recaps",  # a Notetaker recap naming them (its text is about them too)
}
# Item types only ever redacted: a scheduled event's location may hold text an invitee typed.
REDACT_ONLY = {"event": "events"}
REDACTED = "[erased]"  # what replaces the address inside someone else's data
VERSION_ATTRIBUTES = ("v", "nsv")  # written newer with every change of an item's state or no-show
REDACT_ATTEMPTS = 5  # reads and conditional writes of one item before the erasure gives up (run again)
# Characters an address is made of (as bookings.erasure reads them): a match is a whole address.
_PART = r"[^\s\"'<>,;:()\[\]{}\\@/]"
_PART_NOT_DOT = r"[^\s\"'<>,;:()\[\]{}\\@/.]"  # after the address: "ada@x.com." ends a sentence


@dataclass(frozen=True, slots=True)
class Found:
    store: str
    key: keys.Key
    redact: bool = False  # someone else's item naming the person: the address is replaced, not the item removed
    body_key: str | None = None  # its body's key in the delivery-bodies bucket, when kept there


def connection_of(item: Mapping[str, Any]) -> str | None:
    """The connection (tenant) an item belongs to: bookings, events and submissions keep it as
    ``tenant``, kept deliveries as ``connection_id``."""
    value = item.get("tenant") or item.get("connection_id")
    return value if isinstance(value, str) else None


def _body_key(item: Mapping[str, Any]) -> str | None:
    value = item.get("body_key")
    return value if isinstance(value, str) else None


def redact(value: Any, email: str) -> Any:
    """``value`` with every whole occurrence of the address (any case) replaced by ``REDACTED``."""
    pattern = re.compile(rf"(?<!{_PART}){re.escape(normalise(email))}(?!\.?{_PART_NOT_DOT})", re.IGNORECASE)
    return _redact(value, pattern)


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, pattern) for v in value]
    return value


def _payload(body: str | None) -> dict[str, Any]:
    try:
        data = json.loads(body or "")
    except ValueError:
        return {}
    payload = data.get("payload") if isinstance(data, dict) else None
    return payload if isinstance(payload, dict) else {}


def _owned(item: dict[str, Any], content: list[Any], email: str, uris: set[str]) -> bool:
    """Whether an item carrying the address is the person's own (removed) rather than someone
    else's that mentions them (a guest list, an answer: redacted). Its subject decides: an
    invitee's ``email``, a submission's submitter, a delivery's payload ``email`` or submitter."""
    match item.get("type"):
        case "invitee":
            return normalise(str(item.get("email") or "")) == normalise(email)
        case "routing_form_submission":
            return item.get("invitee_sk") is None or _names_any(content, uris)
        case "contact":
            return normalise(email) in (item.get("emails") or [])
        case "meeting_recap":
            return True
        case "delivery" | "quarantine" | "other":
            payload = _payload(content[1] if isinstance(content[1], str) else None)
            if isinstance(payload.get("email"), str):
                return normalise(payload["email"]) == normalise(email)
            if isinstance(payload.get("submitter"), str):
                return payload["submitter"] in uris
            return True
        case _:
            return False


def _content(item: dict[str, Any], bodies: S3DeliveryBodies | None = None) -> list[Any]:
    """What an item holds, read through its view (a stored body decoded, or read from the
    delivery-bodies bucket when the item keeps its key)."""
    stored = view(item)
    body = stored.body if isinstance(stored, StoredDelivery) else None
    if isinstance(stored, StoredDelivery) and body is None and stored.body_key and bodies is not None:
        found = bodies.get(stored.body_key)
        body = found.decode() if found is not None else None
    return [stored.attributes, body]


def _names_any(content: list[Any], uris: set[str]) -> bool:
    if not uris:
        return False
    text = json.dumps(content, default=str)
    return any(uri in text for uri in uris)


class TableSweep:
    """``bodies``: the delivery-bodies bucket, so items that keep a body's key are read whole."""

    def __init__(self, table_name: str, client: DynamoDBClient, bodies: S3DeliveryBodies | None = None) -> None:
        self.table_name = table_name
        self.client = client
        self.bodies = bodies

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

    def find(self, email: str, connection_id: str | None = None) -> list[Found]:
        """Every removable item carrying the address (index first, then a full Scan), or naming
        one of the person's invitees by URI (a submission they made, a no-show delivery that
        carries only the invitee); with ``connection_id``, only that connection's items. Their
        invitees come last, so a run that stops halfway still finds those URIs when run again."""
        found: dict[keys.Key, Found] = {}
        uris: set[str] = set()

        def in_scope(item: Mapping[str, Any]) -> bool:
            return connection_id is None or connection_of(item) == connection_id

        for item in self._by_email(email):
            if not in_scope(item):
                continue
            key = keys.Key(item[keys.PK], item[keys.SK])
            found[key] = Found(STORES.get(str(item.get("type")), "invitees"), key)
            if isinstance(item.get("uri"), str):
                uris.add(item["uri"])
        for item in scan_items(self.client, "erase: full scan", TableName=self.table_name):
            kind = str(item.get("type"))
            store = STORES.get(kind) or REDACT_ONLY.get(kind)
            key = keys.Key(item[keys.PK], item[keys.SK])
            if store is None or key in found or not in_scope(item):
                continue
            content = _content(item, self.bodies)
            if carries(content, email):
                found[key] = Found(store, key, not _owned(item, content, email, uris), _body_key(item))
            elif _names_any(content, uris) and kind in STORES:
                found[key] = Found(store, key, body_key=_body_key(item))
        # Each person's own invitee goes last, so a run that stops halfway still finds its URIs again.
        return sorted(found.values(), key=lambda f: (f.store == "invitees" and not f.redact, f.store, f.key))

    def remove(self, found: Found) -> None:
        with aws_call(f"dynamodb:DeleteItem (erase {found.store})"):
            self.client.delete_item(TableName=self.table_name, Key=found.key.dynamo())

    def redact(self, found: Found, email: str) -> None:
        """Replace the address in every attribute of someone else's item and in its kept body,
        leaving keys and everything else as they are; gone meanwhile: nothing.

        Only the attributes that change are written, and only if the item's versions are still
        the ones read (every change of an item's state writes a newer ``v``, of a no-show a newer
        ``nsv``): a processor's write landing in between is kept, and redacted on a fresh read."""
        for _ in range(REDACT_ATTEMPTS):
            with aws_call(f"dynamodb:GetItem (erase {found.store})"):
                current = self.client.get_item(TableName=self.table_name, Key=found.key.dynamo(), ConsistentRead=True)
            if "Item" not in current:
                return
            item = plain_item(current["Item"])
            changed = {k: redact(v, email) for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}
            if isinstance(item.get(BODY_ZLIB), bytes):
                body = zlib.decompress(item[BODY_ZLIB]).decode()
                changed[BODY_ZLIB] = (
                    zlib.compress(redact(body, email).encode()) if carries(body, email) else item[BODY_ZLIB]
                )
            changed = {k: v for k, v in changed.items() if v != item[k]}
            if not changed or self._write_if_unchanged(found, item, changed):
                return
        raise DependencyUnavailable(f"{found.store} item kept changing while it was redacted; run the erasure again")

    def _write_if_unchanged(self, found: Found, read: dict[str, Any], changed: dict[str, Any]) -> bool:
        names = {f"#a{i}": name for i, name in enumerate(changed)}
        values = {f":a{i}": serialise(value) for i, value in enumerate(changed.values())}
        conditions = ["attribute_exists(PK)"]
        for i, version in enumerate(VERSION_ATTRIBUTES):
            names[f"#v{i}"] = version
            if version in read:
                values[f":v{i}"] = serialise(read[version])
                conditions.append(f"#v{i} = :v{i}")
            else:
                conditions.append(f"attribute_not_exists(#v{i})")
        return conditional(
            f"dynamodb:UpdateItem (erase: redact {found.store})",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=found.key.dynamo(),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(changed))),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            ),
        )


def sweep_bodies(
    bodies: S3DeliveryBodies, email: str, *, remove: bool, only: Collection[str] | None = None
) -> tuple[int, int]:
    """Every body in the delivery-bodies bucket (``only``: among these keys) carrying the
    address: the person's own deleted, someone else's naming them redacted in place (unless
    ``remove`` is false); how many of each. Runs after the queues and the table, which read some
    of these bodies to find their items."""
    removed = redacted = 0
    for key in list(bodies.stored_keys()) if only is None else sorted(only):
        found = bodies.get(key)
        text = found.decode() if found is not None else ""
        if not carries(text, email):
            continue
        own = _owned({"type": "delivery"}, [None, text], email, set())
        removed, redacted = (removed + 1, redacted) if own else (removed, redacted + 1)
        if remove and own:
            bodies.delete(key)
        elif remove:
            bodies.put(key, redact(text, email).encode())
    return removed, redacted


class BucketSweep:
    """The delivery-bodies bucket, swept by ``sweep_bodies``."""

    def __init__(self, bodies: S3DeliveryBodies) -> None:
        self.bodies = bodies

    def sweep(self, email: str, *, remove: bool, only: Collection[str] | None = None) -> tuple[int, int]:
        return sweep_bodies(self.bodies, email, remove=remove, only=only)


def counts(found: list[Found]) -> Counter[str]:
    return Counter(REDACTED_COUNT if f.redact else f.store for f in found)
