"""`make bench`'s read API figures: ``GET /v1/connections/{id}/bookings`` on 100-booking pages.

- *time*: the read function's handler (``functions/read_api/app.py``), in-process, beyond its
  DynamoDB calls: the table's answers to one page's requests are recorded once from moto, then
  replayed instantly by a stub client, so the timing holds everything the function does (query
  parsing, the connection check, the adapter's item decoding and joins, cursors, the response
  models, JSON, its log line) and no DynamoDB or botocore time; next to ``json.dumps`` of the
  same page (the floor: the response has to be serialised).
- *read units*: every request the page makes against moto (the same code), priced the way
  DynamoDB bills it (``calsync_dev.cost.units``: eventually consistent, 4 KB units over the sum
  of the items a request reads, at least half a unit each), per booking returned.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WEBHOOKS = ROOT / "events" / "webhooks"
CONNECTION = "bench"
TABLE = "calsync-bench-bookings"
PAGE = 100
BOOKINGS = 2 * PAGE + 1  # two full pages, and a next page after the second
CURSOR_KEY = "k" * 43


def booking_body(n: int) -> bytes:
    """The ``invitee.created`` fixture as booking ``n``: its own event and invitee, a start
    ``n`` half hours after 2030-01-01 00:00Z."""
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=30 * n)
    text = (WEBHOOKS / "invitee_created.json").read_text()
    text = text.replace("DEMOEVENT0000001", f"EV{n:014d}").replace("INVITEE00000001", f"IN{n:013d}")
    text = text.replace("2026-12-01T15:00:00.000000Z", start.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))
    text = text.replace(
        "2026-12-01T15:30:00.000000Z", (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    )
    return text.encode()


def bookings_event(**query: str) -> dict[str, Any]:
    """The request as API Gateway's REST proxy hands it to the function."""
    return {
        "resource": "/v1/connections/{connection_id}/bookings",
        "path": f"/v1/connections/{CONNECTION}/bookings",
        "httpMethod": "GET",
        "headers": {"Host": "api.example"},
        "pathParameters": {"connection_id": CONNECTION},
        "queryStringParameters": query or None,
        "requestContext": {"requestId": "bench"},
        "body": None,
        "isBase64Encoded": False,
    }


class Recorder:
    """A real DynamoDB client (moto) whose reads are recorded and priced."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.recorded: dict[tuple[str, ...], dict[str, Any]] = {}
        self.read_units = 0.0
        self.requests = 0
        self.item_bytes: list[int] = []

    def _read(self, operation: str, request: dict[str, Any], items: list[Any]) -> None:
        from calsync_dev.cost.units import item_size, read_units

        sizes = [item_size(item) for item in items]
        self.read_units += read_units(sum(sizes), consistent=bool(request.get("ConsistentRead")))
        self.requests += 1
        self.item_bytes += [size for size, item in zip(sizes, items, strict=True) if _is_invitee(item)]

    def query(self, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.client.query(**request)
        self._read("query", request, response.get("Items", []))
        self.recorded[_key("query", request)] = response
        return response

    def get_item(self, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.client.get_item(**request)
        self._read("get_item", request, [response["Item"]] if "Item" in response else [])
        self.recorded[_key("get_item", request)] = response
        return response


def _is_invitee(item: Mapping[str, Any]) -> bool:
    return str(item.get("SK", {}).get("S", "")).startswith("INVITEE#")


class Replay:
    """DynamoDB answering instantly with what the recorder saw for the same request."""

    def __init__(self, recorded: Mapping[tuple[str, ...], dict[str, Any]]) -> None:
        self.recorded = recorded

    def query(self, **request: Any) -> dict[str, Any]:
        return self.recorded[_key("query", request)]

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self.recorded[_key("get_item", request)]


class _CursorKey:
    def get_secret_value(self, **_: Any) -> dict[str, Any]:
        return {"SecretString": json.dumps({"key": CURSOR_KEY}), "VersionId": "v1", "Name": "cursor"}


def _key(operation: str, request: Mapping[str, Any]) -> tuple[str, ...]:
    """What tells one of a page's requests from another, cheaply (the replay's lookup is timed)."""
    if operation == "get_item":
        key = request["Key"]
        return (operation, key["PK"]["S"], key["SK"]["S"])
    values = request["ExpressionAttributeValues"]
    start = "ExclusiveStartKey" in request and json.dumps(request["ExclusiveStartKey"], sort_keys=True)
    # a whole partition (an event type's) has no bounds
    bounds = [values[name]["S"] for name in (":lo", ":hi", ":sk", ":status", ":email") if name in values]
    return (operation, values[":pk"]["S"], *bounds, str(request.get("Limit")), str(start))


def handler_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("read_api_app", ROOT / "functions" / "read_api" / "app.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("functions/read_api/app.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def quiet_logger() -> Iterator[io.StringIO]:
    """The handler's log line is written (its cost is in the figure) to a buffer, not the terminal."""
    from calsync.observability import logger

    handlers = logger.handlers
    sink = io.StringIO()
    saved = [h.setStream(sink) for h in handlers]  # type: ignore[attr-defined]
    try:
        yield sink
    finally:
        for handler, stream in zip(handlers, saved, strict=True):
            handler.setStream(stream)  # type: ignore[attr-defined]


def seeded(client: Any, count: int = BOOKINGS, *, migrated: bool = True) -> None:
    """The bookings table as the template declares it, the ``bench`` connection and ``count``
    bookings of it (processed as the processors do), one event each, half an hour apart; then
    ``calsync migrate``'s steps recorded, unless not ``migrated`` (a table upgraded, not migrated)."""
    from calsync import compose
    from calsync.bookings.process import process_message
    from calsync.connections.records import Connection
    from calsync.intake.delivery import message_attributes, message_body
    from calsync.migrate.steps import Options, chosen, migrate
    from calsync_dev.events import delivery_for
    from calsync_dev.provision import create_table
    from calsync_dev.template import load

    create_table(client, load()["Resources"]["BookingsTable"], TABLE)
    compose.connection_registry(TABLE, dynamodb=client).register(
        Connection(
            connection_id=CONNECTION,
            kind="pat",
            status="active",
            organization="https://api.calendly.com/organizations/BENCH",
            owner=None,
            callback_url=f"https://example.invalid/webhooks/calendly/{CONNECTION}",
            token_secret="",
            signing_key_secret="",
        ),
        now="2029-12-01T00:00:00Z",
    )
    repo = compose.bookings_repository(TABLE, dynamodb=client)
    received = datetime(2029, 12, 1, tzinfo=UTC)
    for n in range(count):
        delivery = delivery_for(booking_body(n), connection_id=CONNECTION, received_at=received)
        attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
        process_message(message_body(delivery), attributes, repo, now=received, archive_ttl=timedelta(days=90))
    if migrated:  # as after `calsync migrate`: a page is one Query of GSI2
        stores = compose.migrations(TABLE, dynamodb=client)
        migrate(stores, chosen(stores.log), options=Options(), now=lambda: received)


def bench_read(iterations: int, timer: Callable[..., Any]) -> dict[str, float]:
    """The read handler's p50/p95 on a 100-booking page beyond DynamoDB, and read units per booking."""
    import boto3
    from moto import mock_aws

    from calsync import compose
    from calsync.config import ReadApiSettings
    from calsync_dev.lambda_runtime import LambdaContext

    app: Any = handler_module()
    settings = ReadApiSettings.model_validate(
        {"bookings_table_name": TABLE, "cursor_key_secret_name": "calsync/bench/read-api-cursor-key"}
    )
    context = LambdaContext("read-api")
    first = bookings_event(limit=str(PAGE))
    figures: dict[str, float] = {}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        seeded(client)
        recorder = Recorder(client)
        app.services = lambda: compose.read_api(settings, dynamodb=recorder, secretsmanager=_CursorKey())  # type: ignore[arg-type]
        with quiet_logger():
            page1 = json.loads(app.lambda_handler(first, context)["body"])
            units1, requests1 = recorder.read_units, recorder.requests
            second = bookings_event(limit=str(PAGE), cursor=page1["next_cursor"])
            page2 = json.loads(app.lambda_handler(second, context)["body"])
            units2, requests2 = recorder.read_units - units1, recorder.requests - requests1
            recorder.read_units = 0.0
            default = json.loads(app.lambda_handler(bookings_event(), context)["body"])
            units_default = recorder.read_units
    if not (len(page1["bookings"]) == len(page2["bookings"]) == PAGE and page2["next_cursor"]):
        raise RuntimeError("the bench's pages did not come back full")
    replay = compose.read_api(settings, dynamodb=Replay(recorder.recorded), secretsmanager=_CursorKey())  # type: ignore[arg-type]
    app.services = lambda: replay
    # This process also holds moto's emulated table and every import of the other measures, which
    # a read function's environment does not: the garbage collector leaves what exists now alone.
    gc.collect()
    gc.freeze()
    with quiet_logger():
        for name, event in (("read_page", first), ("read_page_cursor", second)):

            def one(event: dict[str, Any] = event) -> None:
                if app.lambda_handler(event, context)["statusCode"] != 200:
                    raise RuntimeError("the bench's read was refused")

            timing = timer(one, iterations)
            figures[f"{name}_p50_us"], figures[f"{name}_p95_us"] = timing.p50_us, timing.p95_us
            cpu = timer(one, iterations, time.thread_time_ns)
            figures[f"{name}_cpu_p50_us"], figures[f"{name}_cpu_p95_us"] = cpu.p50_us, cpu.p95_us
    body = page1

    def floor() -> None:
        json.dumps(body)

    timing = timer(floor, iterations)
    figures["read_page_floor_p50_us"], figures["read_page_floor_p95_us"] = timing.p50_us, timing.p95_us
    gc.unfreeze()
    sizes = sorted(recorder.item_bytes)
    figures.update(
        {
            "read_page_bookings": float(PAGE),
            "read_page_requests": float(requests1),
            "read_page_read_units": units1,
            "read_units_per_booking": units1 / PAGE,
            "read_page_cursor_requests": float(requests2),
            "read_page_cursor_read_units": units2,
            "read_units_per_booking_cursor": units2 / PAGE,
            "read_page_default_bookings": float(len(default["bookings"])),
            "read_units_per_booking_default_page": units_default / len(default["bookings"]),
            "read_invitee_item_bytes_median": float(sizes[len(sizes) // 2]),
            "read_response_bytes": float(len(json.dumps(page1))),
        }
    )
    return figures


def render(figures: Mapping[str, float]) -> list[str]:
    def ms(key: str) -> str:
        return f"{figures[key] / 1000:>7.2f}ms"

    return [
        "",
        f"read API: GET …/bookings?limit={PAGE}, handler beyond DynamoDB   wall p50   p95     CPU p50    p95",
        "-" * 95,
        f"{'  a page of 100 bookings':<58} {ms('read_page_p50_us')} {ms('read_page_p95_us')}"
        f" {ms('read_page_cpu_p50_us')} {ms('read_page_cpu_p95_us')}",
        f"{'  the next 100 (with its cursor)':<58} {ms('read_page_cursor_p50_us')} {ms('read_page_cursor_p95_us')}"
        f" {ms('read_page_cursor_cpu_p50_us')} {ms('read_page_cursor_cpu_p95_us')}",
        f"{'  floor: json.dumps of the page':<58} {ms('read_page_floor_p50_us')} {ms('read_page_floor_p95_us')}",
        f"{'  target: p50 ≤ 2 ms':<58}",
        f"read units per booking returned: {figures['read_units_per_booking']:.3f} "
        f"({figures['read_page_read_units']:.1f} units in {figures['read_page_requests']:.0f} requests; "
        f"next page {figures['read_units_per_booking_cursor']:.3f}; default page of "
        f"{figures['read_page_default_bookings']:.0f}: {figures['read_units_per_booking_default_page']:.3f})"
        "   (target ≤ 1)",
        f"  invitee items ~{figures['read_invitee_item_bytes_median']:.0f} bytes; response "
        f"{figures['read_response_bytes'] / 1024:.1f} KB",
    ]
