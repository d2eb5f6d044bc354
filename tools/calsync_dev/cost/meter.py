"""Counts every AWS request the functions make, by hooking botocore's events on the clients.

Register on the session the functions' clients come from (before they are built: a client
copies its session's handlers); then run each handler through ``Meter.wrap``. Only calls made
inside a wrapped handler count (the harness's own polling is not the functions' bill); the
event sources' requests that AWS bills (SQS receive and delete) are modelled per batch.

DynamoDB units are computed here from the items before and after each write (read through a
client of a separate session, which these hooks do not see) and from what each read returns,
by ``units``' rules, not taken from the emulator's ``ConsumedCapacity``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from calsync_dev.cost.units import Item, Table, item_size, read_units

CHUNK_64KB = 64 * 1024
_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_current: ContextVar[str | None] = ContextVar("calsync_cost_function", default=None)


@dataclass
class Usage:
    """What one function did over the run."""

    invocations: int = 0
    durations_ms: list[float] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # "service:Operation"
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (service, operation, params)
    write_units: int = 0
    write_units_by_index: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    sqs_billed: int = 0  # SQS requests as billed (per 64 KB chunk)
    events_billed: int = 0  # PutEvents entries as billed (per 64 KB chunk)
    events_bytes: int = 0
    log_bytes: int = 0
    log_lines: int = 0
    metrics: set[tuple[str, str, tuple[str, ...]]] = field(default_factory=set)
    secret_reads: Counter[str] = field(default_factory=Counter)  # GetSecretValue by SecretId

    @property
    def billed_ms(self) -> int:
        """Billed duration: each invocation at the function's median duration, rounded up to
        the millisecond as Lambda bills. The median, not the sum: the first call in a process
        pays imports (Lambda's init, billed per cold start, not per delivery) and this machine
        is shared, so single calls stall."""
        if not self.durations_ms:
            return 0
        return self.invocations * max(1, math.ceil(statistics.median(self.durations_ms)))


class Meter:
    def __init__(self, tables: Mapping[str, Table], inspector: Any, *, platform_log: Callable[[str, str, float], str]):
        self.tables = dict(tables)  # by table name
        self.inspector = inspector  # a DynamoDB client the hooks do not see
        self.platform_log = platform_log  # (function, request id, ms) -> START/END/REPORT
        self.usage: dict[str, Usage] = {}
        self.write_log: list[tuple[str, str, int]] = []  # (function, what, units) per write

    def of(self, function: str) -> Usage:
        return self.usage.setdefault(function, Usage())

    # -- hooks ----------------------------------------------------------------------------

    def attach(self, events: Any) -> None:
        events.register("before-parameter-build", self._before)
        events.register("after-call", self._after)

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        function = _current.get()
        if function is None:
            return
        context["cost.function"] = function
        context["cost.params"] = params
        service = model.service_model.service_name
        if service == "dynamodb" and model.name in _WRITES:
            table = self.tables[params["TableName"]]
            key = params.get("Key") or {k: params["Item"][k] for k in table.keys}
            context["cost.old"] = self._get(params["TableName"], key)
            context["cost.key"] = key

    def _get(self, table: str, key: Mapping[str, Any]) -> Item | None:
        found: Item | None = self.inspector.get_item(TableName=table, Key=dict(key), ConsistentRead=True).get("Item")
        return found

    def _after(self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        function = context.get("cost.function")
        if function is None:
            return
        usage = self.of(function)
        service, operation = model.service_model.service_name, model.name
        params: dict[str, Any] = context["cost.params"]
        usage.requests[f"{service}:{operation}"] += 1
        usage.calls.append((service, operation, params))
        failed = "Error" in parsed
        if service == "dynamodb":
            self._dynamodb(usage, function, operation, params, parsed, context, failed=failed)
        elif service == "secretsmanager" and operation == "GetSecretValue":
            usage.secret_reads[str(params.get("SecretId"))] += 1
        elif service == "sqs":
            usage.sqs_billed += _sqs_chunks(operation, params)
        elif service == "events" and operation == "PutEvents":
            for entry in params.get("Entries", []):
                size = sum(len(str(entry.get(k, "")).encode()) for k in ("Source", "DetailType", "Detail"))
                size += sum(len(str(r).encode()) for r in entry.get("Resources", []))
                usage.events_billed += max(1, math.ceil(size / CHUNK_64KB))
                usage.events_bytes += size

    def _dynamodb(
        self,
        usage: Usage,
        function: str,
        operation: str,
        params: Mapping[str, Any],
        parsed: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        failed: bool,
    ) -> None:
        table_name = params.get("TableName", "")
        table = self.tables.get(table_name)
        if table is None and operation != "BatchGetItem":
            return
        if operation in _WRITES and table is not None:
            condition_failed = failed and parsed["Error"].get("Code") == "ConditionalCheckFailedException"
            if failed and not condition_failed:
                return
            old = context.get("cost.old")
            new = None if operation == "DeleteItem" or condition_failed else self._get(table_name, context["cost.key"])
            cost = table.write(old, new, applied=not condition_failed)
            usage.write_units += cost.total
            usage.write_units_by_index["table"] += cost.table
            usage.write_units_by_index.update(cost.indexes)
            what = f"{operation}{' (condition failed)' if condition_failed else ''} {_item_type(new or old)}"
            self.write_log.append((function, what, cost.total))
            return
        if failed:
            return
        if operation == "BatchGetItem":  # each item read is rounded up on its own
            for name, request in params.get("RequestItems", {}).items():
                for item in parsed.get("Responses", {}).get(name, []):
                    usage.read_units += read_units(item_size(item), consistent=bool(request.get("ConsistentRead")))
            return
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            item = parsed.get("Item")
            if "ProjectionExpression" in params and item:
                item = self._get(table_name, params["Key"])
            usage.read_units += read_units(item_size(item), consistent=consistent)
        elif operation in ("Query", "Scan") and table is not None:
            index = table.index(params["IndexName"]) if "IndexName" in params else None
            items = parsed.get("Items", [])
            size = sum(item_size(index.entry(i, table.keys) if index else i) for i in items)
            usage.read_units += read_units(size, consistent=consistent and index is None)

    # -- invocations ----------------------------------------------------------------------

    def wrap(self, function: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def invoke(event: Any, context: Any) -> Any:
            with self.invocation(function):
                return handler(event, context)

        return invoke

    @contextlib.contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        usage = self.of(function)
        token = _current.set(function)
        with _captured_output() as out:
            start = time.perf_counter()
            try:
                yield
            finally:
                elapsed_ms = (time.perf_counter() - start) * 1000
                _current.reset(token)
        usage.invocations += 1
        usage.durations_ms.append(elapsed_ms)
        text = out.getvalue() + self.platform_log(function, str(uuid.uuid4()), elapsed_ms)
        usage.log_bytes += len(text.encode())
        usage.log_lines += text.count("\n")
        usage.metrics |= emf_metrics(out.getvalue())


def _item_type(item: Item | None) -> str:
    kind = (item or {}).get("type") or (item or {}).get("t")
    return str(next(iter(kind.values()))) if isinstance(kind, Mapping) else "?"


def _sqs_chunks(operation: str, params: Mapping[str, Any]) -> int:
    """SQS bills each request per 64 KB of payload (a batch's payloads together)."""
    if operation == "SendMessage":
        return max(1, math.ceil(_message_size(params) / CHUNK_64KB))
    if operation == "SendMessageBatch":
        return max(1, math.ceil(sum(_message_size(e) for e in params.get("Entries", [])) / CHUNK_64KB))
    return 1


def _message_size(message: Mapping[str, Any]) -> int:
    size = len(str(message.get("MessageBody", "")).encode())
    for name, attribute in message.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        size += len(str(attribute.get("StringValue", attribute.get("BinaryValue", ""))).encode())
    return size


def emf_metrics(output: str) -> set[tuple[str, str, tuple[str, ...]]]:
    """Distinct (namespace, metric, dimension values) in the EMF lines of a function's output:
    each is a custom metric CloudWatch bills per month."""
    import json

    found: set[tuple[str, str, tuple[str, ...]]] = set()
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimensions in directive.get("Dimensions", [[]]) or [[]]:
                values = tuple(f"{d}={record.get(d)}" for d in dimensions)
                for metric in directive.get("Metrics", []):
                    found.add((directive.get("Namespace", ""), metric["Name"], values))
    return found


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Everything a function writes while it runs: stdout and stderr (``print``, EMF) and
    every logging stream handler (Powertools Logger keeps the stream it was built with)."""
    out = io.StringIO()
    handlers = [
        h
        for lg in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
        for h in getattr(lg, "handlers", [])
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        # pytest's capture handlers are not CloudWatch (under pytest they would count lines twice)
        and not type(h).__module__.startswith("_pytest")
    ]
    streams = [(h, h.setStream(out)) for h in handlers]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            yield out
    finally:
        for handler, stream in streams:
            if stream is not None:
                handler.setStream(stream)
