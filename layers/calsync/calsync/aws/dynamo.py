"""The DynamoDB helpers every repository uses: values in and out, conditional writes,
paginated reads. Nothing here knows an item's layout (that is ``keys``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from calsync.aws.errors import CONDITION_FAILED, aws_call, unless

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_serialize = _serializer.serialize
_deserialize = _deserializer.deserialize


def dynamo_safe(value: Any) -> Any:
    """JSON-shaped data as DynamoDB accepts it (floats become Decimal, exactly as printed)."""
    if isinstance(value, str | bool | int | bytes) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): dynamo_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dynamo_safe(v) for v in value]
    return json.loads(json.dumps(value), parse_float=Decimal)


def serialise(value: Any) -> AttributeValueTypeDef:
    """One attribute value in DynamoDB's wire shape (``{"S": ...}``, ``{"M": ...}``, ...).

    On the processor's hot path: strings, ``None`` and booleans (most attributes) skip the
    generic serializer; the result is the same as ``TypeSerializer`` gives.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if kind is bool:
        return {"BOOL": value}
    return _serialize(dynamo_safe(value))


def serialise_item(attributes: Mapping[str, Any], *, skip_none: bool = False) -> dict[str, AttributeValueTypeDef]:
    """A whole item; ``skip_none`` leaves out attributes whose value is ``None``."""
    return {k: serialise(v) for k, v in attributes.items() if not (skip_none and v is None)}


def to_plain(value: Any) -> Any:
    """DynamoDB values back to plain Python (Decimal to int or float, Binary to bytes)."""
    if isinstance(value, Binary):
        return bytes(value.value)  # type: ignore[attr-defined]  # the stubs omit Binary.value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def plain_value(value: Any) -> Any:
    """One attribute value from the wire as ``to_plain(TypeDeserializer().deserialize(value))``
    gives it. On the read path (a 100-booking page decodes ~200 items): strings, maps, lists,
    booleans and nulls are unpacked directly (~4x faster); numbers, binary and sets, and anything
    malformed, go through boto3's deserializer as before."""
    for kind, inner in value.items():
        if kind == "S":
            return inner
        if kind == "M":
            return {k: plain_value(v) for k, v in inner.items()}
        if kind == "L":
            return [plain_value(v) for v in inner]
        if kind == "NULL":
            return None
        if kind == "BOOL":
            return inner
        break
    return to_plain(_deserialize(value))


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item from the wire as plain JSON-friendly values (keys included)."""
    return {k: plain_value(v) for k, v in item.items()}


def plain_attributes(item: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """Only ``names`` of an item from the wire (those it has), as :func:`plain_item` gives them;
    a string (most attributes) without a call."""
    plain: dict[str, Any] = {}
    for name in names:
        value = item.get(name)
        if value is not None:
            text = value.get("S")
            plain[name] = text if text is not None else plain_value(value)
    return plain


def conditional(what: str, write: Callable[[], object], *, input_checked: bool = False) -> bool:
    """Run a conditional write: ``False`` if its condition failed (the write changed nothing
    and that is an outcome, not an error), ``True`` if it applied. ``input_checked``: see
    ``errors.aws_call`` (an invalid request is ``Unstorable``)."""
    return unless(CONDITION_FAILED, what, write, input_checked=input_checked) is not None


def query_items(client: DynamoDBClient, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query returns, page after page, as plain values."""
    return _paginate(client.query, f"dynamodb:Query ({what})", kwargs)


def scan_items(client: DynamoDBClient, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Scan returns, page after page, as plain values."""
    return _paginate(client.scan, f"dynamodb:Scan ({what})", kwargs)


BATCH_GET_LIMIT = 100  # keys per BatchGetItem request


def batch_get_items(
    client: DynamoDBClient, what: str, table: str, item_keys: list[dict[str, Any]]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """The items at ``item_keys`` (wire-shaped keys), as plain values by their key values (in the
    keys' attribute order); missing items are absent. Unprocessed keys are asked again."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    names = list(item_keys[0]) if item_keys else []
    for start in range(0, len(item_keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {table: {"Keys": item_keys[start : start + BATCH_GET_LIMIT]}}
        while request:
            with aws_call(f"dynamodb:BatchGetItem ({what})"):
                page = client.batch_get_item(RequestItems=request)
            for item in page.get("Responses", {}).get(table, []):
                plain = plain_item(item)
                found[tuple(plain[n] for n in names)] = plain
            request = dict(page.get("UnprocessedKeys") or {})
    return found


def _paginate(call: Callable[..., Any], what: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        with aws_call(what):
            page = call(**kwargs)
        for item in page.get("Items", []):
            yield plain_item(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
