"""Fault injection for the local stack: explicit, on demand, local-only (nothing here ships).

The AWS emulator (moto server) runs behind ``FaultMiddleware``: a small WSGI wrapper that,
before moto sees a request, checks it against the *rules* a developer has armed and, for
the next ``count`` matching AWS calls, answers an AWS error instead (or first waits
``delay_ms``). A rule matches on the service and operation as the JSON protocol names them
in ``X-Amz-Target`` (``DynamoDB_20120810.PutItem`` → service ``dynamodb``, operation
``PutItem``; ``AmazonSQS.SendMessage`` → ``sqs``/``SendMessage``): boto3 speaks JSON to both.

Arm rules over HTTP on the emulator itself (or through the local API, which forwards
``/_local/faults`` there)::

    POST /_calsync/faults   {"service": "dynamodb", "operations": ["PutItem", "UpdateItem"],
                             "error": "ProvisionedThroughputExceededException", "count": 8}
    POST /_calsync/faults   {"service": "sqs", "operations": ["SendMessage"], "error": "ServiceUnavailable",
                             "count": 4}
    POST /_calsync/faults   {"service": "dynamodb", "operations": ["UpdateItem"], "delay_ms": 150, "count": 40}
    GET  /_calsync/faults   → {"rules": [... with "remaining" and "hits"]}
    DELETE /_calsync/faults → clears every rule

``error`` is an AWS error code; its status and retry class follow AWS (throttling codes are
400 and retryable, ``ServiceUnavailable``/``InternalError``/``InternalFailure`` are 5xx): the
SDK's own retries therefore consume matches too: calsync's clients make the attempts their
function's limits say (``calsync.aws.clients``: the receiver 2, the others 3), so ``count: 2``
fails one receiver call outright. A rule with ``delay_ms`` and no ``error`` only slows the
calls down (to widen a window, e.g. to kill a processor mid-batch).

The rest of the fault kit lives on the local API (``calsync_dev.local.gateway``):
``POST /_local/functions/<FunctionLogicalId>/kill`` (SIGKILL an instance while it is running
an invocation, as a Lambda sandbox may die mid-batch) and ``POST /_local/emulator/restart``
(save the emulator's state, restart it, restore). From Python, ``Faults(api_url)`` wraps all
three; tests/e2e/test_local_faults.py shows each in use.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

CONTROL_PATH = "/_calsync/faults"
DUE_PATH = "/_calsync/schedules/due"  # GET ?group=G&at=ISO: one-time schedules due by then (moto never fires them)
CALLS_PATH = "/_calsync/calls"  # GET: every AWS call since start (or the last DELETE), by operation; with
# ?cpu=1 also the emulator's CPU milliseconds answering them (where its one core goes)

_SERVER_ERRORS = {"ServiceUnavailable": 503, "InternalError": 500, "InternalFailure": 500, "InternalServerError": 500}
_TARGET_PREFIXES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "secretsmanager": "secretsmanager"}


@dataclass
class FaultRule:
    """Answer ``error`` (and/or wait ``delay_ms``) for the next ``count`` matching calls."""

    service: str
    operations: Sequence[str] = ()  # empty: every operation of the service
    error: str | None = None
    count: int = 1
    delay_ms: int = 0
    message: str = "injected by calsync local faults"
    hits: int = field(default=0)

    @property
    def remaining(self) -> int:
        return self.count - self.hits

    def matches(self, service: str, operation: str) -> bool:
        return self.remaining > 0 and service == self.service and (not self.operations or operation in self.operations)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "operations": list(self.operations), "remaining": self.remaining}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        rule = cls(
            service=str(data["service"]).lower(),
            operations=tuple(str(op) for op in data.get("operations") or ()),
            error=str(data["error"]) if data.get("error") else None,
            count=int(data.get("count", 1)),
            delay_ms=int(data.get("delay_ms", 0)),
        )
        if rule.count < 1 or rule.delay_ms < 0 or (rule.error is None and rule.delay_ms == 0):
            raise ValueError("a rule needs count >= 1 and an error or a delay_ms")
        return rule


def operation_of(environ: Mapping[str, Any]) -> tuple[str, str] | None:
    """(service, operation) of a JSON-protocol AWS request, from ``X-Amz-Target``."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    prefix, _, operation = target.partition(".")
    service = _TARGET_PREFIXES.get(prefix)
    return (service, operation) if service and operation else None


def error_response(rule: FaultRule, service: str) -> tuple[int, dict[str, str], bytes]:
    """What AWS answers with ``rule.error`` (JSON protocol, as botocore parses it)."""
    code = rule.error or "InternalError"
    status = _SERVER_ERRORS.get(code, 400)
    prefix = {"dynamodb": "com.amazonaws.dynamodb.v20120810#", "sqs": "com.amazonaws.sqs#"}.get(service, "")
    body = json.dumps({"__type": f"{prefix}{code}", "message": rule.message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "calsync-fault"}
    if service == "sqs":  # SQS is "awsQueryCompatible": botocore takes the code from this header
        headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
    return status, headers, body


def due_schedules(group: str, at: datetime) -> list[dict[str, Any]]:
    """The ``at(...)`` schedules of ``group`` due by ``at``: name and target input, read from the
    emulator's own state (one question, instead of ListSchedules pages and a GetSchedule each)."""
    from moto.scheduler.models import scheduler_backends

    due = []
    for regions in list(scheduler_backends.values()):
        for backend in list(regions.values()):
            found = backend.schedule_groups.get(group)
            for schedule in list(found.schedules.values()) if found is not None else []:
                expression = str(schedule.schedule_expression)
                if not expression.startswith("at("):
                    continue
                when = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
                if when <= at:
                    due.append({"name": schedule.name, "at": when.isoformat(), "input": schedule.target.get("Input")})
    return sorted(due, key=lambda d: (d["at"], d["name"]))


class FaultMiddleware:
    """WSGI wrapper for the emulator: the control endpoint, then the armed rules, then moto."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.rules: list[FaultRule] = []
        self.calls: dict[str, int] = {}
        self.millis: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _target(environ: Mapping[str, Any]) -> str:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target:  # REST-style APIs (Scheduler, the query protocol): method and first path segment
            target = f"{environ.get('REQUEST_METHOD', 'GET')} /{str(environ.get('PATH_INFO', '/')).split('/')[1]}"
        return target

    def _count(self, target: str, started: float) -> None:
        millis = (time.thread_time() - started) * 1000
        with self._lock:
            self.calls[target] = self.calls.get(target, 0) + 1
            self.millis[target] = self.millis.get(target, 0.0) + millis

    def _calls(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            if environ.get("REQUEST_METHOD") == "DELETE":
                self.calls.clear()
                self.millis.clear()
            answer: dict[str, Any] = {"total": sum(self.calls.values()), "calls": dict(self.calls)}
            if "cpu=1" in str(environ.get("QUERY_STRING", "")):
                answer["cpu_ms"] = {target: round(ms, 1) for target, ms in self.millis.items()}
            data = json.dumps(answer).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _due(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        at = datetime.fromisoformat(query.get("at", [""])[0].replace("Z", "+00:00") or datetime.now(UTC).isoformat())
        data = json.dumps({"due": due_schedules(query.get("group", [""])[0], at)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _take(self, service: str, operation: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(service, operation):
                    rule.hits += 1
                    return rule
        return None

    def _control(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        status = "200 OK"
        with self._lock:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    self.rules.append(FaultRule.from_json(json.loads(environ["wsgi.input"].read(length) or b"{}")))
                except (ValueError, KeyError, TypeError) as exc:
                    status = "400 Bad Request"
                    answer: dict[str, Any] = {"error": "invalid_rule", "message": str(exc)}
            elif method == "DELETE":
                self.rules.clear()
            if status.startswith("200"):
                answer = {"rules": [rule.as_json() for rule in self.rules]}
        data = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return self._control(environ, start_response)
        if environ.get("PATH_INFO") == CALLS_PATH:
            return self._calls(environ, start_response)
        if environ.get("PATH_INFO") == DUE_PATH:
            return self._due(environ, start_response)
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            return self.app(environ, start_response)
        started = time.thread_time()  # CPU of this request's thread: wall time would count GIL waits
        try:
            return self._answer(environ, start_response)
        finally:
            self._count(self._target(environ), started)

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        called = operation_of(environ) if self.rules else None
        rule = self._take(*called) if called else None
        if rule is not None:
            if rule.delay_ms:
                time.sleep(rule.delay_ms / 1000)
            if rule.error is not None:
                assert called is not None
                status, headers, body = error_response(rule, called[0])
                environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # drain the request
                start_response(f"{status} Fault", [*headers.items(), ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)


def emulator_app() -> FaultMiddleware:
    """The emulator as the local stack serves it: the fault kit in front of moto, whose
    DynamoDB answers one request at a time and whose queues hand a message to one receiver
    (``calsync_dev.local.atomic``)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from calsync_dev.local.atomic import SerialDynamoDB, serial_receives

    serial_receives()
    return FaultMiddleware(SerialDynamoDB(DomainDispatcherApplication(create_backend_app)))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m calsync_dev.local.faults -H host -p port``: moto's server, behind the middleware."""
    import argparse
    import os
    import signal
    import sys

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    from calsync_dev.local import speedups
    from calsync_dev.local.versions import check_moto_version

    check_moto_version()  # the patches below are written against one moto
    speedups.apply()
    app = emulator_app()
    if os.environ.get("CALSYNC_EMULATOR_PROFILE"):
        _profile_into(os.environ["CALSYNC_EMULATOR_PROFILE"])
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


def _profile_into(path: str) -> None:
    """Diagnosis only (``CALSYNC_EMULATOR_PROFILE=<file>``): profile the emulator (Python 3.12+'s
    cProfile sees every thread) and write ``pstats`` to ``path`` at exit (``python -m pstats``)."""
    import atexit
    import cProfile

    profile = cProfile.Profile()

    def dump() -> None:
        profile.disable()
        profile.dump_stats(path)

    profile.enable()
    atexit.register(dump)


# ------------------------------------------------------------------ the client side


class Faults:
    """Drive the fault kit of a running local stack over HTTP (its API URL)."""

    def __init__(self, api_url: str, *, timeout: float = 120) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the local stack's loopback API
            f"{self.api_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def arm(
        self,
        service: str,
        operations: Sequence[str] = (),
        *,
        error: str | None = None,
        count: int = 1,
        delay_ms: int = 0,
    ) -> None:
        rule = {"service": service, "operations": list(operations), "error": error, "count": count}
        self._call("POST", "/_local/faults", {**rule, "delay_ms": delay_ms})

    def rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self._call("GET", "/_local/faults")["rules"]
        return rules

    def clear(self) -> None:
        self._call("DELETE", "/_local/faults")

    @staticmethod
    def _kill_path(function: str, after_ms: int, wait_seconds: float) -> str:
        return f"/_local/functions/{function}/kill?after_ms={after_ms}&wait_seconds={wait_seconds}"

    def kill_busy(self, function: str, *, after_ms: int = 0, wait_seconds: float = 60) -> dict[str, Any]:
        """SIGKILL an instance of ``function`` ``after_ms`` into its next (or current) invocation."""
        answer: dict[str, Any] = self._call("POST", self._kill_path(function, after_ms, wait_seconds))
        return answer

    def restart_emulator(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/_local/emulator/restart")
        return answer


if __name__ == "__main__":
    main()
