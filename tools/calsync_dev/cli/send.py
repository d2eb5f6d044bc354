"""``calsync send`` and ``calsync load``: signed webhook deliveries, one by one or many at once."""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calsync_dev.cli.progress import Progress, add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, Target, add_stack_option, local_signing_key, target_from
from calsync_dev.events import EVENTS
from calsync_dev.pump import queue_depth


def register(commands: Commands) -> None:
    def sender(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--url", help="webhook URL (default: the local stack's, for --connection-id)")
        cmd.add_argument("--connection-id", default="local")
        cmd.add_argument("--key", default=local_signing_key(), help="signing key (default: the local stack's)")

    send = commands.add_parser("send", help="sign webhook bodies and POST them")
    send.add_argument("files", nargs="+", metavar="FILE")
    sender(send)
    send.set_defaults(func=_send)

    load = commands.add_parser("load", help="send many distinct signed deliveries concurrently")
    load.add_argument("--count", type=int, default=1000)
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--wait", type=float, default=120, help="seconds to wait for every one to be persisted")
    load.add_argument("--no-wait", action="store_true", help="do not wait for persistence")
    add_stack_option(load)
    add_quiet_option(load)
    sender(load)
    load.set_defaults(func=_load)


# ------------------------------------------------------------------ send


def post_signed(url: str, body: bytes, key: str, *, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """POST a body with a fresh Calendly signature; the status and the JSON answer."""
    from calsync.intake.signature import sign_header

    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own endpoint
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Calendly-Webhook-Signature": sign_header(key.encode(), body, int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {"raw": raw.decode(errors="replace")}
    return status, answer


def _webhook_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    from calsync_dev.local.config import LocalConfig

    return f"{LocalConfig.from_env().api_url}/webhooks/calendly/{args.connection_id}"


def _send(args: argparse.Namespace) -> int:
    url, failures = _webhook_url(args), 0
    for name in args.files:
        try:
            status, answer = post_signed(url, Path(name).read_bytes(), args.key)
        except OSError as exc:
            print(f"{name}: cannot reach {url}: {exc} (is `make run` running?)", file=sys.stderr)
            return 2
        failures += status >= 300
        print(f"{status} {name} {json.dumps(answer)}")
    return 1 if failures else 0


# ------------------------------------------------------------------ load


def synthetic_bodies(count: int, run: str, *, template: Path | None = None) -> list[bytes]:
    """``count`` distinct invitee.created deliveries (own invitee and event each), their
    e-mails ``load-<run>-<n>@example.com``."""
    base = json.loads((template or EVENTS / "webhooks" / "invitee_created.json").read_bytes())
    bodies = []
    for n in range(count):
        data = copy.deepcopy(base)
        invitee, event = uuid.uuid4().hex.upper(), uuid.uuid4().hex.upper()
        payload = data["payload"]
        payload["uri"] = f"https://api.calendly.com/scheduled_events/{event}/invitees/{invitee}"
        payload["event"] = f"https://api.calendly.com/scheduled_events/{event}"
        payload["email"] = f"load-{run}-{n}@example.com"
        if isinstance(payload.get("scheduled_event"), dict):
            payload["scheduled_event"]["uri"] = payload["event"]
        bodies.append(json.dumps(data).encode())
    return bodies


@dataclass
class LoadResult:
    sent: int
    accepted: int
    statuses: dict[int, int]
    seconds: float
    persisted: int | None = None
    persisted_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def run_load(url: str, key: str, bodies: Sequence[bytes], concurrency: int, progress: Progress) -> LoadResult:
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(post_signed, url, body, key) for body in bodies]
        for future in as_completed(futures):
            try:
                status = future.result()[0]
            except OSError:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            progress.advance()
    seconds = time.perf_counter() - start
    accepted = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return LoadResult(len(bodies), accepted, statuses, seconds)


def _load(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= 256:
        print("--concurrency must be between 1 and 256", file=sys.stderr)
        return 2
    run = uuid.uuid4().hex[:8]
    bodies = synthetic_bodies(args.count, run)
    url = _webhook_url(args)
    started = time.perf_counter()
    result = run_load(url, args.key, bodies, args.concurrency, progress_for(args, len(bodies), "sending"))
    print(
        f"sent {result.sent} deliveries in {result.seconds:.2f} s = {result.per_second:.0f} deliveries/s"
        f" (concurrency {args.concurrency}); 2xx: {result.accepted}; statuses: {result.statuses}"
    )
    if args.no_wait:
        return 0 if result.accepted == result.sent else 1
    target = target_from(args)
    deadline = time.monotonic() + args.wait
    # Queue depth is a cheap question; counting the table is a Scan, asked once at the end.
    waiting = progress_for(args, result.accepted, "processing")
    sqs = target.client("sqs")
    while (depth := queued(target, sqs)) and time.monotonic() < deadline:
        waiting.set_done(max(0, result.accepted - depth))
        time.sleep(0.5)
    waiting.set_done(result.accepted if not depth else max(0, result.accepted - depth))
    waiting.close()
    took = time.perf_counter() - started
    persisted = persisted_by_run(target, run)
    print(
        f"persisted {persisted}/{result.sent} in {took:.2f} s from the first send = {persisted / took:.0f} bookings/s"
    )
    return 0 if result.accepted == result.sent == persisted else 1


def queued(target: Target, sqs: Any = None) -> int:
    """Messages waiting or in flight in the source queues (DLQs excluded). Pass ``sqs`` when
    asking again and again: a new client costs ~40 ms of CPU, on the machine being measured."""
    sqs = sqs if sqs is not None else target.client("sqs")
    return sum(queue_depth(sqs, url) for url in target.queues.values())


def persisted_by_run(target: Target, run: str) -> int:
    """Invitees stored from one `calsync load` run (their e-mails carry the run id)."""
    client = target.client("dynamodb")
    total, kwargs = (
        0,
        {
            "TableName": target.table,
            "Select": "COUNT",
            "FilterExpression": "begins_with(email, :p)",
            "ExpressionAttributeValues": {":p": {"S": f"load-{run}-"}},
        },
    )
    while True:
        page = client.scan(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
