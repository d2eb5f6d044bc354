"""The local runtime scales out as Lambda does while a queue has a backlog (several batches of
one queue at once, function instances started on demand) and stays at one poller when idle."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from calsync_dev.functions import FunctionPool
from calsync_dev.provision import FunctionSpec
from calsync_dev.pump import SqsEventSource, poll_until


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


class Counting:
    """A handler that takes a while per batch and records how many batches ran at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.bodies: list[str] = []

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.bodies += [record["body"] for record in event["Records"]]
        return {"batchItemFailures": []}


class CountingReceives:
    """The SQS client, counting receives."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.receives = 0

    def receive_message(self, **kwargs: Any) -> Any:
        self.receives += 1
        return self.sqs.receive_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def _pollers(source: SqsEventSource, stopped: threading.Event, helpers: int) -> list[threading.Thread]:
    backlog = threading.Event()
    threads = [threading.Thread(target=poll_until, args=(source, stopped, print), kwargs={"backlog": backlog})]
    threads += [
        threading.Thread(target=poll_until, args=(source, stopped, print), kwargs={"backlog": backlog, "helper": True})
        for _ in range(helpers)
    ]
    for thread in threads:
        thread.start()
    return threads


def test_a_backlog_is_worked_off_by_several_batches_at_once_each_message_once(sqs: Any) -> None:
    # Given a queue holding 60 messages and a function that takes 0.3 s per batch of 10
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    for start in range(0, 60, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(start, start + 10)]
        )
    handler = Counting(0.3)
    source = SqsEventSource(sqs, url, "arn:aws:sqs:us-east-1:123456789012:work", handler, None, batch_size=10)
    # When its poller and two helpers run until the queue is empty
    stopped = threading.Event()
    threads = _pollers(source, stopped, helpers=2)
    deadline = time.monotonic() + 30
    while len(handler.bodies) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped.set()
    for thread in threads:
        thread.join(5)
    # Then every message was handled exactly once, with more than one batch running at a time
    assert sorted(handler.bodies) == sorted(f"m{n}" for n in range(60))
    assert handler.most >= 2
    assert (
        int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"])
        == 0
    )


def test_an_idle_queue_is_polled_by_its_poller_alone(sqs: Any) -> None:
    # Given an empty queue, a poller and two helpers
    url = sqs.create_queue(QueueName="idle")["QueueUrl"]
    client = CountingReceives(sqs)
    source = SqsEventSource(client, url, "arn:aws:sqs:us-east-1:123456789012:idle", Counting(0), None, batch_size=10)
    stopped = threading.Event()
    threads = _pollers(source, stopped, helpers=2)
    # When they run for 2.5 seconds
    time.sleep(2.5)
    stopped.set()
    for thread in threads:
        thread.join(5)
    # Then only the poller's long polls (1 s each, a 0.2 s pause between) reached the queue
    assert 1 <= client.receives <= 3


def test_a_function_pool_starts_instances_on_demand_up_to_its_maximum(tmp_path: Path) -> None:
    # Given a function that takes 0.5 s and answers with its process id, in a pool of 1 that may grow to 2
    (tmp_path / "app.py").write_text(
        "import os, time\n\ndef lambda_handler(event, context):\n    time.sleep(0.5)\n    return os.getpid()\n"
    )
    spec = FunctionSpec("SlowFunction", tmp_path, "app.lambda_handler", {}, {}, 10)
    pool = FunctionPool(spec, {"POWERTOOLS_METRICS_DISABLED": "true"}, size=1, max_size=2)
    pool.start()
    try:
        assert pool.instances == 1
        # When four invocations arrive at once
        answers: list[int] = []
        callers = [threading.Thread(target=lambda: answers.append(pool.invoke({}))) for _ in range(4)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(60)
        # Then a second instance was started (never a third) and both served invocations
        assert len(answers) == 4
        assert pool.instances == 2
        assert len(set(answers)) == 2
    finally:
        pool.stop()
