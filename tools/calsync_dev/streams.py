"""Lambda's DynamoDB-stream event source, emulated for the local stack and the tests.

Reads every shard from the start (``TRIM_HORIZON``), keeps records the mapping's filter
admits, and hands the function batches shaped as Lambda does. A batch item failure is
retried from that record on, up to ``max_retries`` times; then the record goes to the
on-failure destination and the shard moves on (as with ``BisectBatchOnFunctionError`` and
``MaximumRetryAttempts``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]
DESCRIBE_EVERY_SECONDS = 5.0


def matches(pattern: Any, value: Any) -> bool:
    """An EventBridge-style filter pattern: nested objects, leaf lists of allowed values."""
    if isinstance(pattern, list):
        return value in pattern
    if isinstance(pattern, Mapping):
        return isinstance(value, Mapping) and all(key in value and matches(p, value[key]) for key, p in pattern.items())
    return bool(pattern == value)


@dataclass
class StreamEventSource:
    streams: Any  # a boto3 dynamodbstreams client
    stream_arn: str
    handler: Handler
    context: Any
    batch_size: int = 100
    max_retries: int = 3
    filters: list[dict[str, Any]] = field(default_factory=list)
    on_failure: Callable[[dict[str, Any]], None] = lambda record: None
    start: str = "TRIM_HORIZON"  # or LATEST: only what is written from now on
    _iterators: dict[str, str | None] = field(default_factory=dict)
    _pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _attempts: dict[str, int] = field(default_factory=dict)
    _shards: list[str] = field(default_factory=list)
    _described: float = -DESCRIBE_EVERY_SECONDS

    @classmethod
    def from_event(cls, streams: Any, event: Mapping[str, Any], handler: Handler, context: Any) -> StreamEventSource:
        """From a function's ``Type: DynamoDB`` event as the template declares it."""
        props = event["Properties"]
        filters = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
        return cls(
            streams,
            props["Stream"],
            handler,
            context,
            batch_size=int(props.get("BatchSize", 100)),
            max_retries=int(props.get("MaximumRetryAttempts", 3)),
            filters=filters,
        )

    def _admitted(self, record: Mapping[str, Any]) -> bool:
        return not self.filters or any(matches(pattern, record) for pattern in self.filters)

    def _fetch(self) -> None:
        now = time.monotonic()
        if now - self._described >= DESCRIBE_EVERY_SECONDS or not self._iterators:
            self._described = now  # shards change rarely: look again now and then, not every poll
            described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            self._shards = [shard["ShardId"] for shard in described.get("Shards", [])]
        for shard_id in self._shards:
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.start
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = page.get("NextShardIterator")
            fresh = [{**r, "eventSourceARN": self.stream_arn} for r in page.get("Records", [])]
            self._pending.setdefault(shard_id, []).extend(r for r in fresh if self._admitted(r))

    def poll(self) -> int:
        """Fetch what is new and hand it over, one batch per shard; the records handled."""
        self._fetch()
        handled = 0
        for pending in self._pending.values():
            if not pending:
                continue
            batch = pending[: self.batch_size]
            try:
                answer = self.handler({"Records": batch}, self.context) or {}
            except Exception:  # a function error: Lambda retries the batch (from its first record)
                answer = {"batchItemFailures": [{"itemIdentifier": batch[0]["dynamodb"]["SequenceNumber"]}]}
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            first = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed), None)
            if first is None:
                del pending[: len(batch)]
                handled += len(batch)
                continue
            del pending[:first]
            handled += first
            record = pending[0]
            key = record["dynamodb"]["SequenceNumber"]
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if self._attempts[key] > self.max_retries:
                self.on_failure(record)
                del pending[0]
        return handled

    def drain(self, rounds: int = 50) -> int:
        """Poll until a round hands nothing over and nothing waits (or ``rounds`` ran out)."""
        total = 0
        for _ in range(rounds):
            handled = self.poll()
            total += handled
            if not handled and not any(self._pending.values()):
                return total
        return total
