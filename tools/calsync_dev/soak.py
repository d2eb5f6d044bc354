"""`make soak`: many signed deliveries of mixed kinds, with duplicates and reordering, at a
bounded rate against the local stack; then a check that nothing accepted was lost and
nothing was applied twice.

    python -m calsync_dev.soak --count 10000 --rate 25 --max-minutes 30

Deliveries come in *scenarios*, each about fresh invitees (its own event and invitee ids
and a ``soak-<run>-<n>`` e-mail): a booking created; created then canceled; a reschedule
(the old invitee canceled with ``new_invitee``, the new one created with ``old_invitee``);
created then marked no-show; a routing-form submission; an event calsync does not model.
A share of the deliveries is sent twice (a sender's retry: same body, new signature) and
the stream is shuffled within a window, so a cancel often arrives before its create.
Non-2xx answers are retried as Calendly retries (a few times, with back-off).

At the end the table is read once per item type through the store's read views and each
scenario's expectation is checked:

- **lost**: an accepted (2xx) body with no archive item, or an expected booking,
  submission or kept event missing;
- **double-applied**: more than one stored item for what is one thing (bookings per
  invitee e-mail, submissions per URI, kept events per body) — or a booking whose final
  state is not the newest delivery's (a stale or repeated delivery applied over it).

Figures: accepted/s (2xx over the sending time), persisted/s (distinct accepted bodies over
the time from the first send until the queues were empty), receiver p99 (client-side
latency of each POST), lost and double-applied (both must be 0: exit status 1 otherwise).
Without ``--url`` it starts its own ``calsync local`` (free ports, no saved state).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync_dev.events import DEFAULT_LOCAL_KEY, EVENTS

if TYPE_CHECKING:
    from calsync_dev.cli.target import Target

SCENARIOS = ("created", "canceled", "reschedule", "no_show", "routing", "unknown")
WEIGHTS = (30, 20, 15, 15, 10, 10)
# The ids in the events/ samples, replaced by fresh ones in each scenario.
_IDS: tuple[str, ...] = ("DEMOEVENT0000001", "DEMOEVENT0000002", "DEMOEVENT0000003", "INVITEE00000001")
_IDS += ("INVITEE00000002", "INVITEE00000003", "ROUTINGSUBMIT001", "RECAP00000000001")


def _sample(name: str) -> str:
    return (EVENTS / "webhooks" / f"{name}.json").read_text()


@dataclass(frozen=True)
class Expected:
    """What one scenario must leave in the table."""

    bookings: dict[str, dict[str, object]] = field(default_factory=dict)  # invitee uri -> field: value
    submissions: tuple[str, ...] = ()  # routing-form submission URIs
    others: tuple[str, ...] = ()  # body sha256 of events kept whole


@dataclass(frozen=True)
class Scenario:
    kind: str
    bodies: tuple[bytes, ...]
    email: str
    expected: Expected


def scenario(kind: str, run: str, n: int) -> Scenario:
    """One scenario's deliveries (in causal order) and what it must leave behind."""
    email = f"soak-{run}-{n}@example.com"
    ids = {old: uuid.uuid4().hex.upper()[:16] for old in _IDS}

    def body(name: str) -> bytes:
        text = _sample(name).replace("ada@example.com", email).replace("grace@example.com", email)
        for old, new in ids.items():
            text = text.replace(old, new)
        return json.dumps(json.loads(text)).encode()

    def uri(event: str, invitee: str) -> str:
        return f"https://api.calendly.com/scheduled_events/{ids[event]}/invitees/{ids[invitee]}"

    first = uri("DEMOEVENT0000001", "INVITEE00000001")
    if kind == "created":
        return Scenario(kind, (body("invitee_created"),), email, Expected({first: {"status": "active"}}))
    if kind == "canceled":
        bodies = (body("invitee_created"), body("invitee_canceled"))
        return Scenario(kind, bodies, email, Expected({first: {"status": "canceled"}}))
    if kind == "reschedule":
        old, new = uri("DEMOEVENT0000002", "INVITEE00000002"), uri("DEMOEVENT0000003", "INVITEE00000003")
        bodies = (body("invitee_rescheduled_canceled_old"), body("invitee_rescheduled_created_new"))
        expected: dict[str, dict[str, object]] = {
            old: {"status": "canceled", "rescheduled_to": new},
            new: {"status": "active"},
        }
        return Scenario(kind, bodies, email, Expected(expected))
    if kind == "no_show":
        bodies = (body("invitee_created"), body("invitee_no_show_created"))
        return Scenario(kind, bodies, email, Expected({first: {"status": "active", "no_show": True}}))
    if kind == "routing":
        submission = f"https://api.calendly.com/routing_form_submissions/{ids['ROUTINGSUBMIT001']}"
        return Scenario(kind, (body("routing_form_submission_created"),), email, Expected(submissions=(submission,)))
    if kind == "unknown":
        raw = body("unknown_event")
        return Scenario(kind, (raw,), email, Expected(others=(hashlib.sha256(raw).hexdigest(),)))
    raise ValueError(f"unknown scenario {kind!r}")


def plan(
    count: int, run: str, *, duplicates: float = 0.1, window: int = 40, seed: int | None = None
) -> tuple[list[Scenario], list[bytes]]:
    """Scenarios whose deliveries (with ``duplicates`` of them repeated) total ``count``,
    and the order to send them in: causal order shuffled within ``window`` positions."""
    chooser = random.Random(seed)  # noqa: S311 - test data, reproducible from --seed
    scenarios: list[Scenario] = []
    stream: list[bytes] = []
    while len(stream) < count:
        made = scenario(chooser.choices(SCENARIOS, WEIGHTS)[0], run, len(scenarios))
        room = count - len(stream)
        if len(made.bodies) > room:
            made = scenario("created", run, len(scenarios))
        scenarios.append(made)
        for raw in made.bodies:
            stream.append(raw)
            if len(stream) < count and chooser.random() < duplicates:
                stream.append(raw)
    for start in range(0, len(stream), window):
        part = stream[start : start + window]
        chooser.shuffle(part)
        stream[start : start + window] = part
    return scenarios, stream[:count]


# ------------------------------------------------------------------ sending


@dataclass
class Sent:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: set[bytes] = field(default_factory=set)
    retries: int = 0
    seconds: float = 0.0
    unfinished: int = 0  # not sent before the time bound

    @property
    def accepted_count(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def p99_ms(self) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class RateLimit:
    """At most ``rate`` starts per second, spread evenly (shared by the sender threads)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + self.interval
        time.sleep(max(0.0, start - now))


def send_all(
    url: str,
    key: str,
    stream: Sequence[bytes],
    *,
    rate: float,
    concurrency: int,
    deadline: float,
    attempts: int = 5,
    progress: Callable[[int], None] = lambda done: None,
) -> Sent:
    """POST every body (signed) at ``rate`` per second; non-2xx retried up to ``attempts``."""
    from calsync_dev.cli.send import post_signed

    sent, lock, limit = Sent(), threading.Lock(), RateLimit(rate)

    def deliver(raw: bytes) -> None:
        for attempt in range(attempts):
            if time.monotonic() > deadline:
                with lock:
                    sent.unfinished += 1
                return
            limit.wait()
            began = time.perf_counter()
            try:
                status = post_signed(url, raw, key, timeout=60)[0]
            except OSError:
                status = 0
            took = time.perf_counter() - began
            with lock:
                sent.statuses[status] += 1
                sent.latencies.append(took)
                sent.retries += attempt > 0
                if ok := 200 <= status < 300:
                    sent.accepted.add(raw)
                done = sent.accepted_count
            if ok:
                progress(done)
                return
            time.sleep(min(5.0, 0.5 * 2**attempt))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(deliver, raw) for raw in stream]:
            future.result()
    sent.seconds = time.perf_counter() - started
    return sent


# ------------------------------------------------------------------ checking


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    double_applied: list[str] = field(default_factory=list)
    archived: int = 0


def check(target: Target, scenarios: Sequence[Scenario], accepted: set[bytes], run: str) -> Verdict:
    """Compare the table (read once per item type) with every scenario's expectation."""
    from calsync.store.views import Booking, StoredDelivery, Submission

    repo = target.bookings()
    shas = {hashlib.sha256(raw).hexdigest() for raw in accepted}
    archive = Counter(d.body_sha256 for d in repo.scan_type("delivery") if isinstance(d, StoredDelivery))
    others = Counter(d.body_sha256 for d in repo.scan_type("other") if isinstance(d, StoredDelivery))
    submissions = Counter(s.uri for s in repo.scan_type("routing_form_submission") if isinstance(s, Submission))
    bookings: dict[str, list[Booking]] = {}
    for booking in repo.all_bookings():
        if str(booking.email or "").startswith(f"soak-{run}-"):
            bookings.setdefault(str(booking.uri), []).append(booking)
    verdict = Verdict(archived=sum(1 for sha in shas if archive[sha]))
    verdict.lost += [f"archive {sha}" for sha in sorted(shas) if not archive[sha]]
    verdict.double_applied += [f"archive {sha} x{archive[sha]}" for sha in sorted(shas) if archive[sha] > 1]
    for item in scenarios:
        if not any(raw in accepted for raw in item.bodies):
            continue  # nothing of it was accepted (the time bound cut it off)
        complete = all(raw in accepted for raw in item.bodies)
        for uri, fields in item.expected.bookings.items():
            found = bookings.get(uri, [])
            if not found:
                verdict.lost.append(f"{item.kind} {item.email}: booking {uri}")
            elif len(found) > 1:
                verdict.double_applied.append(f"{item.kind} {item.email}: {len(found)} items for {uri}")
            elif complete and (wrong := _differences(found[0], fields)):
                verdict.double_applied.append(f"{item.kind} {item.email}: {wrong}")
        for uri in item.expected.submissions:
            if not submissions[uri]:
                verdict.lost.append(f"routing {uri}")
            elif submissions[uri] > 1:
                verdict.double_applied.append(f"routing {uri} x{submissions[uri]}")
        for sha in item.expected.others:
            if not others[sha]:
                verdict.lost.append(f"unknown {sha}")
            elif others[sha] > 1:
                verdict.double_applied.append(f"unknown {sha} x{others[sha]}")
    return verdict


def _differences(booking: object, fields: dict[str, object]) -> str:
    wrong = []
    for name, want in fields.items():
        got = getattr(booking, name)
        if (bool(got) if want is True else got) != want:
            wrong.append(f"{name}={got!r} (want {want!r})")
    return ", ".join(wrong)


# ------------------------------------------------------------------ the run


@dataclass
class SoakResult:
    deliveries: int
    scenarios: int
    sent: Sent
    persisted_seconds: float
    verdict: Verdict
    drained: bool

    @property
    def accepted_per_second(self) -> float:
        return self.sent.accepted_count / self.sent.seconds if self.sent.seconds else 0.0

    @property
    def persisted_per_second(self) -> float:
        return self.verdict.archived / self.persisted_seconds if self.persisted_seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.drained and not self.verdict.lost and not self.verdict.double_applied

    def summary(self) -> str:
        statuses = dict(sorted(self.sent.statuses.items()))
        return (
            f"soak: {self.deliveries} deliveries ({self.scenarios} scenarios, {len(self.sent.accepted)} distinct"
            f" bodies accepted), statuses {statuses}, {self.sent.retries} retries, {self.sent.unfinished} unsent\n"
            f"  accepted/s {self.accepted_per_second:.1f} (sending took {self.sent.seconds:.0f} s)\n"
            f"  persisted/s {self.persisted_per_second:.1f} ({self.verdict.archived} bodies archived,"
            f" queues {'empty' if self.drained else 'NOT empty'} after {self.persisted_seconds:.0f} s)\n"
            f"  receiver p99 {self.sent.p99_ms():.0f} ms (client-side, {len(self.sent.latencies)} requests)\n"
            f"  lost {len(self.verdict.lost)}, double-applied {len(self.verdict.double_applied)}"
        )


def soak(
    url: str,
    target: Target,
    *,
    count: int,
    rate: float,
    concurrency: int = 8,
    max_seconds: float = 1800,
    key: str = DEFAULT_LOCAL_KEY,
    seed: int | None = None,
    out: Callable[[str], None] = print,
) -> SoakResult:
    from calsync_dev.cli.send import queued

    run = uuid.uuid4().hex[:8]
    scenarios, stream = plan(count, run, seed=seed)
    started = time.monotonic()
    deadline = started + max_seconds
    every = max(1, count // 20)

    def progress(done: int) -> None:
        if done % every == 0:
            out(f"  sent {done}/{count} ({time.monotonic() - started:.0f} s; queued {queued(target)})")

    sent = send_all(url, key, stream, rate=rate, concurrency=concurrency, deadline=deadline, progress=progress)
    drained = queued(target) == 0
    while not drained and time.monotonic() < deadline:
        time.sleep(1)
        drained = queued(target) == 0
    persisted_seconds = time.monotonic() - started
    verdict = check(target, scenarios, sent.accepted, run)
    return SoakResult(len(stream), len(scenarios), sent, persisted_seconds, verdict, drained)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def own_stack() -> Generator[dict[str, str]]:
    """Start ``calsync local`` on free ports with no saved state; yield its environment."""
    env = {
        "CALSYNC_API_PORT": str(_free_port()),
        "CALSYNC_EMULATOR_PORT": str(_free_port()),
        "CALSYNC_CALENDLY_PORT": str(_free_port()),
        "CALSYNC_LOCAL_STATE": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "calsync_dev.cli", "local"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CALSYNC_"))}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if "calsync local is ready" in line:
            break
    else:
        raise RuntimeError("calsync local did not start:\n" + "".join(lines[-30:]))
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()  # drain its output
    try:
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=25.0, help="deliveries per second at most")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="bound on sending plus draining")
    parser.add_argument("--url", help="a running local stack's webhook URL (default: start one)")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    if args.count < 1 or args.rate <= 0 or not 1 <= args.concurrency <= 64:
        parser.error("--count >= 1, --rate > 0, 1 <= --concurrency <= 64")
    from calsync_dev.cli.target import local_target

    def go(url: str) -> int:
        print(f"soak: {args.count} deliveries at <= {args.rate:g}/s, {args.concurrency} senders, to {url}", flush=True)
        result = soak(
            url,
            local_target(),
            count=args.count,
            rate=args.rate,
            concurrency=args.concurrency,
            max_seconds=args.max_minutes * 60,
            seed=args.seed,
            out=lambda line: print(line, flush=True),
        )
        print(result.summary(), flush=True)
        for line in (result.verdict.lost + result.verdict.double_applied)[:20]:
            print(f"  ! {line}")
        return 0 if result.ok else 1

    if args.url:
        return go(args.url)
    stack = own_stack()
    env = next(stack)
    os.environ.update(env)
    try:
        return go(f"http://127.0.0.1:{env['CALSYNC_API_PORT']}/webhooks/calendly/local")
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
