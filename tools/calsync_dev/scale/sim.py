"""`make scale`: the scheduled jobs' fan-out for N connections over a simulated day.

The real dispatch (``calsync.fanout.dispatch.Dispatcher`` over ``MemoryPages`` and ``MemoryQueue``),
the real worker (``calsync.fanout.worker.Worker``), the real steps (``Refresher.one``,
``Watchdog.one``) and each connection's real ``RateBudget`` run on a discrete-event loop (a heap of
(time, action)); the clock is simulated, nothing sleeps. Each job's queue has
``FanOutMaximumConcurrency`` workers (template.yaml's default, 2). A unit that raises is received
again after its queue's visibility timeout, dead-lettered after 5 receives (as SQS does).

What is scaled down: the reconcile unit is the real worker and budget around a stand-in step (its
token read, 1–3 pages of ``list_scheduled_events`` from the fake, a cursor write), not
``Jobs.one_connection`` with a booking store: a scheduled reconcile's Calendly traffic and budget
use are kept, its DynamoDB writes per booking are not (docs/scale.md).
"""

from __future__ import annotations

import heapq
import math
import random
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from calsync.connections.budget import FREE_PLAN_LIMIT, MemoryBudgets, RateBudget
from calsync.connections.records import Connection, StoredToken
from calsync.connections.refresh import Refresher
from calsync.connections.watchdog import Watchdog
from calsync.fanout.dispatch import Dispatcher
from calsync.fanout.memory import MemoryPages, MemoryQueue, Queued
from calsync.fanout.work import Job, WorkUnit
from calsync.fanout.worker import Worker
from calsync_dev.scale.fakes import Account, Burst, Clock, Endpoint, FakeCalendly, Meter, Port, SimRegistry, SimTokens

PAID_LIMIT = 500
PERIOD = {Job.REFRESH: 900.0, Job.WATCHDOG: 3600.0, Job.RECONCILE: 21600.0}
CHECKED_EVERY = 3600.0  # checked_hourly: a check in every clock hour
RECONCILED_EVERY = 21600.0  # reconciled_6h: a reconcile in every 6-hour period
VISIBILITY = {Job.REFRESH: 360.0, Job.WATCHDOG: 180.0, Job.RECONCILE: 960.0}
MAX_RECEIVES = 5
MAX_WAIT = 5.0  # RATE_BUDGET_MAX_WAIT_SECONDS
MEMORY_GB = 0.5
UNIT_OVERHEAD_SECONDS = 0.01  # the handler around one unit (SQS record parse, metrics)
DISPATCH_CALL_SECONDS = 0.02  # a Query page or a SendMessageBatch
DAYS_PER_MONTH = 730 / 24


@dataclass(frozen=True)
class Config:
    connections: int = 10_000
    seconds: float = 86_400.0
    concurrency: int = 2  # FanOutMaximumConcurrency
    revoked: float = 0.01
    disabled: float = 0.01
    free: float = 0.05
    seed: int = 20
    bursts: tuple[Burst, ...] | None = None  # None: a 503 and a 429 burst every 4 h
    reconcile_pages: int | None = None  # Calendly pages a reconcile reads (None: 1–3 by connection)
    progress: bool = False

    def burst_list(self) -> list[Burst]:
        if self.bursts is not None:
            return list(self.bursts)
        out = []
        for start in range(0, int(self.seconds), 4 * 3600):
            out.append(Burst(start + 1800.0, start + 2400.0, 503, 0.3))
            out.append(Burst(start + 9000.0, start + 9600.0, 429, 0.2))
        return out


@dataclass
class Tally:
    late: set[str] = field(default_factory=set)  # a token expired before its refresh
    checked: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    reconciled: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    outcomes: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    receives: Counter[str] = field(default_factory=Counter)
    run_end: dict[tuple[Job, str], float] = field(default_factory=dict)
    run_start: dict[tuple[Job, str], float] = field(default_factory=dict)
    busy: float = 0.0  # unit seconds (Lambda duration)
    invocations: int = 0
    max_concurrency: int = 0


def _world(config: Config, clock: Clock, meter: Meter) -> tuple[list[Connection], dict[str, Account], SimTokens]:
    rng = random.Random(config.seed)  # noqa: S311 (a simulation)
    connections, accounts = [], {}
    tokens = SimTokens(clock, meter)
    for i in range(config.connections):
        cid = f"c{i:07d}"
        expires = int(rng.uniform(1200, 7200))  # steady state: refreshed before, with 20–120 min left
        c = Connection(
            connection_id=cid,
            kind="oauth",
            status="active",
            organization=f"https://api.calendly.com/organizations/{cid}",
            owner=f"https://api.calendly.com/users/{cid}",
            callback_url=f"https://hooks.example.com/webhooks/{cid}",
            token_secret=tokens.secret_name(cid),
            signing_key_secret=f"calsync/sim/signing/{cid}",
            token_expires_at=expires,
            token_generation="g1",  # noqa: S106
        )
        connections.append(c)
        tokens.tokens[cid] = StoredToken("oauth", "a0", "r0", expires_at=expires, generation="g1")
        accounts[cid] = Account(
            limit=FREE_PLAN_LIMIT if rng.random() < config.free else PAID_LIMIT,
            revoked=rng.random() < config.revoked,
            subscription="disabled" if rng.random() < config.disabled else "active",
            offset=rng.uniform(0, 60),
        )
    return connections, accounts, tokens


class Simulation:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock = Clock()
        self.meter = Meter()
        connections, self.accounts, self.tokens = _world(config, self.clock, self.meter)
        self.registry = SimRegistry(connections, self.clock, self.meter)
        self.budgets = MemoryBudgets()
        self.calendly = FakeCalendly(self.clock, self.accounts, config.burst_list(), seed=config.seed)
        self.queues = {job: MemoryQueue(self.clock) for job in Job}
        self.tally = Tally()
        self.expiry = {c.connection_id: float(c.token_expires_at or 0) for c in connections}
        self.events: list[tuple[float, int, str, Job]] = []
        self.seq = 0
        self.ready: dict[Job, deque[str]] = {job: deque() for job in Job}
        self.seen: dict[Job, int] = dict.fromkeys(Job, 0)
        self.next_visible: dict[Job, float] = dict.fromkeys(Job, 0.0)
        self.slots: dict[Job, list[float]] = {job: [0.0] * config.concurrency for job in Job}
        self.dispatches: list[dict[str, object]] = []
        self.wakes: dict[Job, float] = {}
        self.pages_left: dict[str, int] = {}

    def budget(self, cid: str) -> RateBudget:
        """The connection's real, shared budget (its store: one DynamoDB item per connection)."""
        return RateBudget(self.budgets, cid, self.clock, self.clock.advance, max_wait=MAX_WAIT)

    # --- the steps: real domain code on the fakes -------------------------------------------
    def _refresh(self, connection: Connection) -> str:
        cid = connection.connection_id
        refresher = Refresher(
            self.registry,
            self.tokens,
            Endpoint(self.calendly, cid),
            owner=f"refresh-{self.seq}",
            clock=self.clock,
            sleep=self.clock.advance,
            token_budget=self.budget,
        )
        before = self.expiry[cid]
        outcome = refresher.one(connection)
        token = self.tokens.tokens[cid]
        if token.expires_at is not None and token.expires_at != before:
            if self.clock() > before:
                self.tally.late.add(cid)
            self.expiry[cid] = float(token.expires_at)
        return str(outcome)

    def _port(self, connection: Connection) -> Port:
        self.tokens.get(connection.connection_id)  # the worker reads the connection's token
        return Port(self.calendly, connection, self.budget(connection.connection_id))

    def _watch(self, connection: Connection) -> str:
        watchdog = Watchdog(self.registry, self._port, lambda c: None, _NoRequests(), clock=self.clock)
        health = watchdog.one(connection, owner=f"watchdog-{self.seq}")
        self.tally.checked[connection.connection_id].add(int(self.clock() // CHECKED_EVERY))
        return str(health)

    def _reconcile(self, connection: Connection) -> str:
        if connection.status != "active":
            return "skipped"  # as Jobs.one_connection: a reconcile needs a live connection
        port = self._port(connection)
        cid = connection.connection_id
        pages = self.config.reconcile_pages or 1 + int(cid[-1]) % 3
        left = self.pages_left.setdefault(cid, pages)
        while left > 0:  # a unit put off by the budget goes on from its cursor
            list(port.list_scheduled_events(organization=connection.organization))
            left = self.pages_left[cid] = left - 1
            self.registry._op()  # the cursor's write
        del self.pages_left[cid]
        self.tally.reconciled[connection.connection_id].add(int(self.clock() // RECONCILED_EVERY))
        return "reconciled"

    # --- the event loop -----------------------------------------------------------------------
    def _at(self, t: float, what: str, job: Job) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, what, job))

    def run(self) -> dict[str, object]:
        for job in Job:
            t = 0.0
            while t < self.config.seconds:
                self._at(t, "dispatch", job)
                t += PERIOD[job]
        hour = 0
        while self.events:
            t, _, what, job = heapq.heappop(self.events)
            if t > self.config.seconds + 6 * 3600:
                break
            self.clock.now = t
            if self.config.progress and t >= (hour + 1) * 3600:
                hour = int(t // 3600)
                print(f"scale: simulated hour {hour}, units {self.tally.invocations:,}", file=sys.stderr, flush=True)
            if what == "dispatch":
                self._dispatch(job, t)
            else:
                self._work(job, t)
        return self.result()

    def _dispatch(self, job: Job, t: float) -> None:
        run = f"{job}-{int(t)}"
        pages = MemoryPages(self.registry.items.values())
        done = Dispatcher(pages, self.queues[job], job, self.clock).dispatch(run)
        calls = done.pages + done.batches
        self.meter.dynamodb += done.pages
        self.meter.dynamodb_reads += done.pages
        self.tally.busy += calls * DISPATCH_CALL_SECONDS * MEMORY_GB
        self.tally.invocations += 1
        self.tally.run_start[(job, run)] = t
        self.tally.run_end[(job, run)] = t + calls * DISPATCH_CALL_SECONDS
        self._at(t, "work", job)

    def _work(self, job: Job, t: float) -> None:
        queue = self.queues[job]
        if len(queue.messages) != self.seen[job] or t >= self.next_visible[job]:
            self.ready[job].extend(queue.due())  # MemoryQueue.due scans them all: only when it may find some
            self.seen[job] = len(queue.messages)
            self.next_visible[job] = min((m.visible_at for m in queue.messages), default=math.inf)
        slots = self.slots[job]
        for i, free_at in enumerate(slots):
            if not self.ready[job]:
                break
            if free_at > t:
                continue
            body = self.ready[job].popleft()
            self.clock.now = t
            self._unit(job, body)
            end = max(self.clock(), t + 0.001) + UNIT_OVERHEAD_SECONDS
            slots[i] = end
            self.tally.busy += (end - t) * MEMORY_GB
            self.tally.invocations += 1
            self._at(end, "work", job)
        busy = sum(1 for q in self.slots.values() for s in q if s > t)
        self.tally.max_concurrency = max(self.tally.max_concurrency, busy)
        if not self.ready[job] and queue.messages:
            wake = self.next_visible[job] if self.seen[job] == len(queue.messages) else t
            wake = max(wake, t + 0.001)
            planned = self.wakes.get(job, -1.0)
            if planned <= t or wake < planned:
                self.wakes[job] = wake
                self._at(wake, "work", job)

    def _unit(self, job: Job, body: str) -> None:
        unit = WorkUnit.from_body(body)
        key = f"{unit.job}/{unit.connection_id}/{unit.run}"
        self.tally.receives[key] += 1
        steps: dict[Job, Callable[[Connection], str]] = {
            Job.REFRESH: self._refresh,
            Job.WATCHDOG: self._watch,
            Job.RECONCILE: self._reconcile,
        }
        start = self.clock()
        worker = Worker(self.registry.get, steps, lambda u, delay: self.queues[job].send(u.to_body(), delay))
        try:
            self.tally.outcomes[f"{job}:{worker.handle(unit)}"] += 1
        except Exception as exc:  # the unit fails alone: SQS receives it again later
            self.tally.outcomes[f"{job}:raised:{type(exc).__name__}"] += 1
            if self.tally.receives[key] >= MAX_RECEIVES:
                self.tally.dead[str(job)] += 1
            else:
                self.queues[job].messages.append(_queued(body, start + VISIBILITY[job]))
        run_key = (job, unit.run)
        self.tally.run_end[run_key] = max(self.tally.run_end.get(run_key, 0.0), self.clock())

    # --- the figures --------------------------------------------------------------------------
    def result(self) -> dict[str, object]:
        return figures(self)


class _NoRequests:
    def request(self, connection_id: str, *, since: object, reason: str, requested_at: object) -> None:
        return None


def _queued(body: str, visible_at: float) -> Queued:
    return Queued(body, visible_at)


def _share(periods: dict[str, set[int]], ids: list[str], total_periods: int) -> float:
    if not ids:
        return 1.0
    full = sum(1 for cid in ids if len(periods.get(cid, set()) & set(range(total_periods))) == total_periods)
    return round(full / len(ids), 6)


def figures(sim: Simulation) -> dict[str, object]:
    config, tally = sim.config, sim.tally
    live = [cid for cid, a in sim.accounts.items() if not a.revoked]
    end = config.seconds
    late = set(tally.late) | {cid for cid in live if sim.expiry[cid] < end}
    most = sim.calendly.max_per_window()
    free = [cid for cid, a in sim.accounts.items() if a.limit == FREE_PLAN_LIMIT]
    paid = [cid for cid, a in sim.accounts.items() if a.limit != FREE_PLAN_LIMIT]
    worst = max((most.get(cid, 0) / sim.accounts[cid].limit for cid in sim.accounts), default=0.0)
    runs: dict[str, float] = {}
    for (job, run), finished in tally.run_end.items():
        runs[str(job)] = max(runs.get(str(job), 0.0), finished - tally.run_start.get((job, run), finished))
    months = DAYS_PER_MONTH * 86_400 / config.seconds
    n = max(1, config.connections)
    budget_requests = sim.budgets.reads + sim.budgets.writes
    return {
        "connections": config.connections,
        "refreshed_before_expiry": round((len(live) - len(late & set(live))) / max(1, len(live)), 6),
        "checked_hourly": _share(tally.checked, live, int(end // CHECKED_EVERY)),
        "reconciled_6h": _share(tally.reconciled, live, max(1, int(end // RECONCILED_EVERY))),
        "max_calls_per_minute": {
            "max_free": max((most.get(cid, 0) for cid in free), default=0),
            "limit_free": FREE_PLAN_LIMIT,
            "max_paid": max((most.get(cid, 0) for cid in paid), default=0),
            "limit_paid": PAID_LIMIT,
            "worst_ratio": round(worst, 4),
            "over_limit": len(sim.calendly.over_limit),
        },
        "throttled_429": sim.calendly.answers.get("429", 0),
        "max_concurrency": tally.max_concurrency,
        "concurrency_per_queue": config.concurrency,
        "run_seconds": {job: round(runs.get(job, 0.0), 1) for job in ("refresh", "watchdog", "reconcile")},
        "per_connection_month": {
            "lambda_gb_s": round(tally.busy * months / n, 4),
            "lambda_requests": round(tally.invocations * months / n, 2),
            "secretsmanager_requests": round(sim.meter.secrets * months / n, 2),
            "dynamodb_requests": round((sim.meter.dynamodb + budget_requests) * months / n, 2),
            "dynamodb_reads": round((sim.meter.dynamodb_reads + sim.budgets.reads) * months / n, 2),
            "dynamodb_registry_requests": round(sim.meter.dynamodb * months / n, 2),  # the CONNECTIONS partition
            "sqs_requests": round(_sqs(sim) * months / n, 2),
        },
        "dead_lettered": sum(tally.dead.values()),
        "simulated_seconds": config.seconds,
    }


def _sqs(sim: Simulation) -> float:
    """Send (batched by ten, re-sends one each), receive and delete per unit."""
    units = sim.tally.invocations
    return units * 2 + math.ceil(units / 10)
