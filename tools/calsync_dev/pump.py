"""An SQS event-source mapping, as Lambda runs one: poll, invoke with a real SQS batch
event, delete what succeeded, leave reported failures for redelivery (and, after the
queue's maxReceiveCount, for the DLQ). Used by integration tests and the local stack
(``event_sources`` reads its mappings from the template, ``poll_until`` runs one)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from calsync_dev.lambda_runtime import LambdaContext
from calsync_dev.provision import Stack

Handler = Callable[[dict[str, Any], Any], Any]
LONG_POLL_SECONDS = 1  # 5 s made the emulator's restart outlast the senders' retries (e2e restart test)


@dataclass(frozen=True)
class PollResult:
    received: int
    failed: int


def queue_depth(sqs: Any, url: str, *, in_flight: bool = True) -> int:
    """Messages waiting in a queue, plus those received but not yet deleted (``in_flight``).
    Asks for ``All``: the emulator (moto) recomputes every attribute, each a scan of the queue,
    once per name asked for (six times for two names), but only once for ``All``."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attrs[name]) for name in (names if in_flight else names[:1]))


def to_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "dataType": value.get("DataType", "String"),
            "stringListValues": [],
            "binaryListValues": [],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Handler,
        context: Any,
        *,
        batch_size: int = 10,
        batching_window_seconds: float = 0,
        retry_visibility_seconds: int = 0,
        max_concurrency: int | None = None,
    ) -> None:
        self.sqs = sqs
        # The event source's ScalingConfig.MaximumConcurrency: at most this many batches at once
        self.max_concurrency = max_concurrency
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.handler = handler
        self.context = context
        self.batch_size = batch_size
        self.batching_window_seconds = batching_window_seconds
        self.retry_visibility_seconds = retry_visibility_seconds

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(count, 10),
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def poll_once(self, wait_seconds: int = 0, *, gather: bool = False) -> PollResult:
        """One batch: what one receive returns; with ``gather``, as Lambda's event-source mapping
        does with ``MaximumBatchingWindowInSeconds``: once a message is in, keep receiving until
        the batch is full or the window has passed (one invocation, one delete, per batch)."""
        messages = self._receive(self.batch_size, wait_seconds)
        if not messages:
            return PollResult(0, 0)
        if gather and self.batching_window_seconds > 0:
            deadline = time.monotonic() + self.batching_window_seconds
            while len(messages) < self.batch_size and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.25))  # what arrives meanwhile joins this batch, at one receive per pause
                messages += self._receive(self.batch_size - len(messages), 0)
        event = {"Records": [to_lambda_record(m, self.queue_arn) for m in messages]}
        try:
            result = self.handler(event, self.context) or {}
            failed_ids = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            failed_ids = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in messages:
            if message["MessageId"] in failed_ids:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility_seconds,
                )
        return PollResult(len(messages), len(failed_ids))

    def drain(self, max_polls: int = 100) -> int:
        """Poll until the queue gives nothing; returns how many messages were handled."""
        total = 0
        for _ in range(max_polls):
            result = self.poll_once()
            if result.received == 0:
                return total
            total += result.received
        return total


# ------------------------------------------------------------------ the local stack's mappings


def event_sources(
    stack: Stack, session: Any, handler_for: Callable[[str], Handler], *, retry_visibility_seconds: int = 0
) -> Iterator[tuple[str, SqsEventSource]]:
    """(function, its event source) for every SQS event of the template's functions."""
    url_by_arn = {arn: stack.queue_urls[logical] for logical, arn in stack.queue_arns.items()}
    for name, spec in stack.functions.items():
        for event in spec.events.values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            arn = props["Queue"]
            yield (
                name,
                SqsEventSource(
                    session.client("sqs"),
                    url_by_arn[arn],
                    arn,
                    handler_for(name),
                    LambdaContext(name),
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    retry_visibility_seconds=retry_visibility_seconds,
                    max_concurrency=_max_concurrency(props),
                ),
            )


def _max_concurrency(props: dict[str, Any]) -> int | None:
    value = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


class Gate(Protocol):
    def enter(self, *, wait: bool) -> bool: ...
    def leave(self) -> None: ...


def poll_until(
    source: SqsEventSource,
    stopped: threading.Event,
    out: Callable[[str], None],
    gate: Gate | None = None,
    *,
    backlog: threading.Event | None = None,
    helper: bool = False,
) -> None:
    """Poll as Lambda's event-source mapping does, until ``stopped`` is set; each poll
    passes ``gate`` (the local stack holds polls back while it restarts the emulator).

    Lambda runs several batches of one queue at once while it has a backlog. With ``backlog``,
    the main poller (``helper=False``) sets it while its batches come back full and clears it
    when one does not; a ``helper`` polls only while it is set (so an idle queue costs one
    poller's receives, not one per helper)."""
    while not stopped.is_set():
        if helper and backlog is not None and not backlog.wait(0.5):
            continue
        if gate is not None:
            gate.enter(wait=True)
        try:
            # Long polling, as Lambda's pollers do, but short: the emulator's restart closes the
            # gate and waits for every poll in flight, while webhook senders get 503s.
            received = source.poll_once(wait_seconds=0 if helper else LONG_POLL_SECONDS, gather=True).received
            if backlog is not None and not helper:
                (backlog.set if received >= source.batch_size else backlog.clear)()
            if received == 0:
                stopped.wait(0.2)
        except Exception as exc:  # the emulator going away at shutdown, or a transient error
            if not stopped.is_set():
                out(f"event source for {source.queue_url.rsplit('/', 1)[-1]}: {type(exc).__name__}")
                stopped.wait(1)
        finally:
            if gate is not None:
                gate.leave()
