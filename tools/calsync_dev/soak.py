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
import os
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
from pathlib import Path
from typing import TYPE_CHECKING

from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.soak_scenarios import Verdict, check, plan

if TYPE_CHECKING:
    from calsync_dev.cli.target import Target


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
    sqs = target.client("sqs")  # one client for every depth question (a new one costs ~40 ms of CPU)

    def progress(done: int) -> None:
        if done % every == 0:
            out(f"  sent {done}/{count} ({time.monotonic() - started:.0f} s; queued {queued(target, sqs)})")

    sent = send_all(url, key, stream, rate=rate, concurrency=concurrency, deadline=deadline, progress=progress)
    drained = queued(target, sqs) == 0
    while not drained and time.monotonic() < deadline:
        time.sleep(1)
        drained = queued(target, sqs) == 0
    persisted_seconds = time.monotonic() - started
    verdict = check(target, scenarios, sent.accepted, run)
    return SoakResult(len(stream), len(scenarios), sent, persisted_seconds, verdict, drained)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def own_stack(log: Path | None = None) -> Generator[dict[str, str]]:
    """Start ``calsync local`` on free ports with no saved state; yield its environment. With
    ``log``, its whole output (each function's log lines and unhandled tracebacks) goes there."""
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
    sink = log.open("w", encoding="utf-8") if log is not None else None

    def drain() -> None:
        for line in process.stdout or ():
            if sink is not None:
                sink.write(line)
                sink.flush()

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
        drainer.join(5)
        if sink is not None:
            sink.close()


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
