"""The fan-out's ports: MemoryPages / DynamoConnectionPages, MemoryQueue / SqsWorkQueue and
MemoryBudgets / DynamoBudgets (moto) behave alike; dispatch → queue → worker on moto."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from calsync.connections.aws_budget import DynamoBudgets
from calsync.connections.aws_registry import DynamoConnectionRegistry
from calsync.connections.budget import Allowance, BudgetStore, MemoryBudgets, RateBudget, RateHeaders, RateLimited
from calsync.connections.records import Connection
from calsync.fanout.aws_pages import DynamoConnectionPages
from calsync.fanout.aws_queue import SqsWorkQueue
from calsync.fanout.dispatch import Dispatcher
from calsync.fanout.memory import MemoryPages
from calsync.fanout.ports import ConnectionPages
from calsync.fanout.work import Job, WorkUnit
from calsync.fanout.worker import Worker
from tests.contract.conftest import TABLE, MotoTable, moto_client

NOW = 1_800_000_000.0


def connection(n: int) -> Connection:
    return Connection(
        connection_id=f"c{n:04d}",
        kind="oauth",
        status="active",
        organization=f"https://api.calendly.com/organizations/O{n}",
        owner=None,
        callback_url=f"https://calsync.example/webhooks/calendly/c{n:04d}",
        token_secret=f"calsync/test/tokens/c{n:04d}",
        signing_key_secret=f"calsync/test/signing-keys/c{n:04d}",
        token_expires_at=int(NOW) + 600,
        token_generation="g1",
    )


@pytest.fixture
def budgets(backend: str, request: pytest.FixtureRequest) -> BudgetStore:
    if backend == "fake":
        return MemoryBudgets()
    client = moto_client("dynamodb", request)
    MotoTable(client)
    return DynamoBudgets(TABLE, client)


def test_a_budget_write_applies_only_on_the_version_it_read(budgets: BudgetStore) -> None:
    # Given no record yet
    assert budgets.get("acme") == Allowance()
    # When two writers both read version 0 and write
    assert budgets.put("acme", Allowance(remaining=10, version=1), expected=0) is True
    assert budgets.put("acme", Allowance(remaining=20, version=1), expected=0) is False
    # Then the first one stands, and the next write must name version 1
    assert budgets.get("acme").remaining == 10
    assert budgets.put("acme", Allowance(remaining=9, version=2), expected=1) is True
    assert budgets.put("acme", Allowance(remaining=8, version=2), expected=1) is False
    assert budgets.get("acme") == Allowance(remaining=9, version=2)


def test_a_429_learned_by_one_caller_stops_another(budgets: BudgetStore) -> None:
    now = [NOW]
    first = RateBudget(budgets, "acme", clock=lambda: now[0], sleep=lambda s: None)
    second = RateBudget(budgets, "acme", clock=lambda: now[0], sleep=lambda s: None)
    first.before_call()
    first.after_answer(RateHeaders(429, 50, 0, 40))
    with pytest.raises(RateLimited):
        second.before_call()


@pytest.fixture
def pages_of(backend: str, request: pytest.FixtureRequest) -> Any:
    def make(connections: list[Connection]) -> ConnectionPages:
        if backend == "fake":
            return MemoryPages(connections)
        client = moto_client("dynamodb", request)
        MotoTable(client)
        registry = DynamoConnectionRegistry(TABLE, client)
        for c in connections:
            registry.register(c, now="2026-12-01T00:00:00Z")
        return DynamoConnectionPages(TABLE, client)

    return make


def test_pages_list_every_connection_once_in_order(pages_of: Any) -> None:
    connections = [connection(n) for n in range(250)]
    pages = pages_of(connections)
    seen: list[str] = []
    after = None
    while True:
        page, after = pages.page(limit=100, after=after)
        seen += [c.connection_id for c in page]
        if after is None:
            break
    assert seen == sorted(c.connection_id for c in connections)


def test_dispatch_to_sqs_then_a_worker_per_unit_on_moto(request: pytest.FixtureRequest) -> None:
    # Given 25 connections in the registry and the job's queue
    dynamodb, sqs = moto_client("dynamodb", request), moto_client("sqs", request)
    MotoTable(dynamodb)
    registry = DynamoConnectionRegistry(TABLE, dynamodb)
    for n in range(25):
        registry.register(connection(n), now="2026-12-01T00:00:00Z")
    url = sqs.create_queue(QueueName="watchdog-work")["QueueUrl"]
    queue = SqsWorkQueue(url, sqs)
    # When the dispatch runs (pages of 10, batches of 10)
    done = Dispatcher(
        DynamoConnectionPages(TABLE, dynamodb), queue, Job.WATCHDOG, clock=lambda: NOW, page_size=10
    ).dispatch("r1")
    assert (done.listed, done.sent, done.pages, done.batches) == (25, 25, 3, 3)
    # And a worker takes each unit (one of them put off by its budget: re-sent, not lost)
    checked: list[str] = []

    def step(c: Connection) -> str:
        if c.connection_id == "c0003" and "c0003" not in checked:
            checked.append("c0003")
            raise RateLimited("c0003", 0.5, "api")
        checked.append(c.connection_id)
        return "healthy"

    worker = Worker(registry.get, {Job.WATCHDOG: step}, queue.requeue)
    outcomes: dict[str, list[str]] = {}
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in messages:
            unit = WorkUnit.from_body(message["Body"])
            outcomes.setdefault(unit.connection_id, []).append(worker.handle(unit))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Then every connection was checked once, the put-off one after its delay
    assert set(outcomes) == {f"c{n:04d}" for n in range(25)}
    assert sorted(checked).count("c0003") == 1  # the first try never reached the step's end
    assert outcomes["c0003"][0] == "deferred"
    removed = replace(connection(1), status="removed")
    registry.register(removed, now="2026-12-01T00:00:00Z")
    assert worker.handle(WorkUnit(job=Job.WATCHDOG, connection_id="c0001", run="r2", dispatched_at=NOW)) == "gone"
