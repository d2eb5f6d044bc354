"""`make bench`: calsync's speed next to the floor it cannot beat, on this machine, in one run.

- receiver: verify + parse + route per request in-process (queue and key store in memory,
  so botocore is not timed), next to HMAC-SHA256 + ``json.loads`` of the same body;
- processor: parse + merge + DynamoDB request building per record (the client stubbed);
- read API: the ``/v1`` bookings handler on a 100-booking page beyond its DynamoDB calls, and
  the read units a page costs (``calsync_dev.bench_read``);
- cold start: importing each function's module in a fresh interpreter, next to
  ``import boto3; boto3.client("sqs")`` measured the same way.

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from calsync_dev.bench_read import bench_read
from calsync_dev.bench_read import render as render_read

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "calsync"
WEBHOOKS = ROOT / "events" / "webhooks"
KEY = b"calsync-bench-signing-key"
NOW = 1_764_000_000


@dataclass(frozen=True)
class Timing:
    p50_us: float
    p99_us: float
    p95_us: float = 0.0

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Timing:
        ordered = sorted(samples_ns)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return cls(statistics.median(ordered) / 1000, p99 / 1000, p95 / 1000)


def _time(fn: Callable[[], object], iterations: int, clock: Callable[[], int] = time.perf_counter_ns) -> Timing:
    """``fn``'s timing over ``iterations`` calls after a warm-up, by ``clock`` (wall time; the read
    API's figure also by this thread's CPU time, which other processes on a shared machine move less)."""
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        start = clock()
        fn()
        samples.append(clock() - start)
    return Timing.of(samples)


class _MemoryKeys:
    def keys_for(self, connection_id: str) -> Sequence[bytes] | None:
        return (KEY,)

    def refresh(self, connection_id: str) -> Sequence[bytes] | None:
        return None


class _MemoryQueue:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, kind: Any, delivery: Any) -> None:
        self.sent += 1


class _StubDynamoDB:
    """Accepts every write: the store builds its real requests, nothing leaves the process."""

    def update_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:  # nothing stored yet: every write goes ahead
        return {}

    def put_item(self, **_: Any) -> dict[str, Any]:
        return {}


def bench_receiver(iterations: int) -> dict[str, float]:
    from calsync.intake.receive import ReceiverLimits, WebhookRequest, receive
    from calsync.intake.signature import sign_header

    body = (WEBHOOKS / "invitee_created.json").read_bytes()
    request = WebhookRequest(
        connection_id="bench",
        headers={"Calendly-Webhook-Signature": sign_header(KEY, body, NOW), "Content-Type": "application/json"},
        body=body.decode(),
    )
    keys, queue, limits = _MemoryKeys(), _MemoryQueue(), ReceiverLimits()

    def receiver() -> None:
        outcome = receive(request, keys=keys, queue=queue, limits=limits, now=float(NOW))
        if outcome.status != 202:
            raise RuntimeError(f"bench request was rejected: {outcome.error}")

    text = body.decode()

    def floor() -> None:
        hmac.new(KEY, f"{NOW}.{text}".encode(), hashlib.sha256).hexdigest()
        json.loads(text)

    mine, base = _time(receiver, iterations), _time(floor, iterations)
    return {
        "receiver_p50_us": mine.p50_us,
        "receiver_p99_us": mine.p99_us,
        "receiver_floor_p50_us": base.p50_us,
        "receiver_floor_p99_us": base.p99_us,
        "receiver_ratio_p50": mine.p50_us / base.p50_us,
        "body_bytes": len(body),
    }


def bench_processor(iterations: int) -> dict[str, float]:
    from calsync import compose
    from calsync.bookings.process import process_message
    from calsync.intake.delivery import message_attributes, message_body
    from calsync_dev.events import delivery_for

    repo = compose.bookings_repository("bench", dynamodb=_StubDynamoDB())  # type: ignore[arg-type]
    received = datetime.fromtimestamp(NOW, UTC)
    figures: dict[str, float] = {}
    for name in ("invitee_created", "invitee_canceled", "invitee_no_show_created", "routing_form_submission_created"):
        delivery = delivery_for((WEBHOOKS / f"{name}.json").read_bytes(), connection_id="bench", received_at=received)
        attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}

        def one(body: str = message_body(delivery), attrs: dict[str, Any] = attributes) -> None:
            process_message(body, attrs, repo, now=received, archive_ttl=timedelta(days=90))

        timing = _time(one, iterations)
        figures[f"processor_{name}_p50_us"] = timing.p50_us
        figures[f"processor_{name}_p99_us"] = timing.p99_us
    return figures


class _StubEvents:
    """EventBridge as the publisher sees it: every entry accepted."""

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in kwargs["Entries"]]}


class _StubSchedules:
    def put(self, reminder: Any) -> None:
        pass

    def delete(self, name: str) -> None:
        pass


def bench_lifecycle(iterations: int) -> dict[str, float]:
    """One changed record of the table's stream: images decoded, the event derived (its
    scheduled event read back, stubbed), published (client stubbed), reminders planned."""
    from calsync import compose
    from calsync.aws.dynamo import serialise_item
    from calsync.config import ReminderSettings
    from calsync.lifecycle.aws_stream import stream_image
    from calsync.lifecycle.publish import publish_change

    api = "https://api.calendly.com/scheduled_events/E1"
    event_item = {
        "PK": "EVENT#E1",
        "SK": "EVENT",
        "type": "event",
        "uri": api,
        "name": "Demo",
        "location": {"type": "zoom"},
    }
    invitee = {
        "PK": "EVENT#E1",
        "SK": "INVITEE#I1",
        "type": "invitee",
        "uri": f"{api}/invitees/I1",
        "tenant": "bench",
        "status": "active",
        "email": "ada@example.com",
        "name": "Ada",
        "event_uri": api,
        "event_name": "Demo",
        "start_time": "2030-12-01T10:00:00Z",
        "end_time": "2030-12-01T10:30:00Z",
        "questions_and_answers": [{"question": "Team?", "answer": "12", "position": 0}],
        "tracking": {"utm_source": "ads"},
        "v": "2026-11-30T10:00:00.000000Z#0",
    }
    record = {"NewImage": serialise_item(invitee)}

    class _Table:
        def get_item(self, **_: Any) -> dict[str, Any]:
            return {"Item": serialise_item(event_item)}

    settings = ReminderSettings(bookings_table_name="bench", event_bus_name="bench")
    stubbed = compose.reminders(settings, dynamodb=_Table(), events=_StubEvents())  # type: ignore[arg-type]
    images, bus = stubbed.images, stubbed.bus
    now = datetime.fromtimestamp(NOW, UTC)

    def one() -> None:
        published = publish_change(
            stream_image(record.get("OldImage")),
            stream_image(record["NewImage"]),
            images=images,
            bus=bus,
            schedules=_StubSchedules(),
            claims=images,
            claimant="bench",
            leads=(86_400, 3_600),
            now=now,
        )
        assert len(published.events) == 1

    timing = _time(one, iterations)
    return {"lifecycle_changed_record_p50_us": timing.p50_us, "lifecycle_changed_record_p99_us": timing.p99_us}


_IMPORT_FUNCTION = """
import importlib.util, sys, time
sys.path.insert(0, {layer!r})
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module  # as Lambda's import does (dataclasses look their module up there)
spec.loader.exec_module(module)
imported = time.perf_counter()
from calsync.aws import clients
for factory in {clients!r}:
    getattr(clients, factory)()
import resource
print(imported - start, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

_IMPORT_FLOOR = """
import time
start = time.perf_counter()
import boto3
boto3.client("sqs", region_name="us-east-1")
import resource
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _cold(code: str, runs: int) -> list[float]:
    """Median seconds of each figure ``code`` prints (its own timings), over fresh interpreters."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "POWERTOOLS_DEV")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    samples = []
    for attempt in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            raise RuntimeError(f"cold-start probe failed: {out.stderr.strip().splitlines()[-1:]}")
        if attempt:  # the first run writes bytecode caches, as a deployed package has them
            samples.append([float(x) for x in out.stdout.strip().splitlines()[-1].split()])
    return [statistics.median(column) for column in zip(*samples, strict=True)]


def bench_cold(runs: int) -> dict[str, float]:
    floor, floor_rss = _cold(_IMPORT_FLOOR, runs)
    figures = {"cold_floor_ms": floor * 1000, "cold_floor_rss_mb": floor_rss}
    for name, used in (("receiver", ("sqs", "secretsmanager", "dynamodb")), ("processor", ("dynamodb",))):
        path = ROOT / "functions" / name / "app.py"
        imported, ready, rss = _cold(_IMPORT_FUNCTION.format(layer=str(LAYER), path=str(path), clients=used), runs)
        figures[f"cold_{name}_ms"] = imported * 1000
        figures[f"cold_{name}_ratio"] = imported / floor
        figures[f"cold_{name}_with_clients_ms"] = ready * 1000
        figures[f"cold_{name}_with_clients_ratio"] = ready / floor
        figures[f"cold_{name}_rss_mb"] = rss
    return figures


def render(figures: dict[str, float]) -> str:
    rows = [
        ("receiver, per request (p50 / p99)", "receiver_p50_us", "receiver_p99_us", "µs"),
        ("  floor: HMAC-SHA256 + json.loads", "receiver_floor_p50_us", "receiver_floor_p99_us", "µs"),
        (
            "processor invitee.created, per record",
            "processor_invitee_created_p50_us",
            "processor_invitee_created_p99_us",
            "µs",
        ),
        (
            "processor invitee.canceled, per record",
            "processor_invitee_canceled_p50_us",
            "processor_invitee_canceled_p99_us",
            "µs",
        ),
        (
            "processor no-show, per record",
            "processor_invitee_no_show_created_p50_us",
            "processor_invitee_no_show_created_p99_us",
            "µs",
        ),
        (
            "processor routing form, per record",
            "processor_routing_form_submission_created_p50_us",
            "processor_routing_form_submission_created_p99_us",
            "µs",
        ),
        (
            "lifecycle event, per changed record",
            "lifecycle_changed_record_p50_us",
            "lifecycle_changed_record_p99_us",
            "µs",
        ),
    ]
    lines = [f"{'measure':<42} {'p50':>10} {'p99':>10}", "-" * 64]
    for label, p50, p99, unit in rows:
        lines.append(f"{label:<42} {figures[p50]:>8.1f}{unit} {figures[p99]:>8.1f}{unit}")
    lines.append(f"{'receiver / floor (p50)':<42} {figures['receiver_ratio_p50']:>9.2f}x   (target ≤ 1.5x)")
    lines.append("")
    lines.append(f"{'cold import (median, fresh interpreter)':<42} {'time':>10} {'ratio':>10} {'peak RSS':>10}")
    lines.append("-" * 75)
    lines.append(
        f"{'  floor: import boto3; boto3.client(sqs)':<42} {figures['cold_floor_ms']:>8.0f}ms {1.0:>9.2f}x"
        f" {figures['cold_floor_rss_mb']:>8.0f}MB"
    )
    for name, target in (("receiver", 1.3), ("processor", 1.6)):
        lines.append(
            f"{'functions/' + name + '/app.py':<42} {figures[f'cold_{name}_ms']:>8.0f}ms"
            f" {figures[f'cold_{name}_ratio']:>9.2f}x   (target ≤ {target}x)"
        )
        lines.append(
            f"{'  + its boto3 clients (first invocation)':<42} {figures[f'cold_{name}_with_clients_ms']:>8.0f}ms"
            f" {figures[f'cold_{name}_with_clients_ratio']:>9.2f}x {figures[f'cold_{name}_rss_mb']:>8.0f}MB"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=5000, help="timed calls per in-process measure")
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per cold-start measure")
    parser.add_argument("--read-iterations", type=int, default=1000, help="timed calls per read API measure")
    args = parser.parse_args(argv)
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    figures: dict[str, Any] = {}
    figures.update(bench_receiver(args.iterations))
    figures.update(bench_processor(args.iterations))
    figures.update(bench_lifecycle(args.iterations))
    figures.update(bench_read(args.read_iterations, _time))
    figures.update(bench_cold(args.runs))
    figures["python"] = sys.version.split()[0]
    figures["machine"] = os.uname().machine
    print(render(figures))
    print("\n".join(render_read(figures)))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
