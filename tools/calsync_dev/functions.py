"""Run a template function the way Lambda does: each instance its own process, with the
function's own environment, one invocation at a time per instance.

The local stack keeps a small pool of instances per function. Their log lines are
rewritten for people ("12:00:01 ReceiverFunction INFO webhook accepted status=202 ...")
and CloudWatch metric output is switched off.
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Mapping
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from calsync_dev.provision import FunctionSpec

_LOG_NOISE = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "sampling_rate",
        "correlation_id",
    }
)


class FunctionError(Exception):
    """The function raised (Lambda would report an Unhandled error)."""


def format_line(name: str, log: Mapping[str, Any]) -> str:
    """One readable line for one structured log record."""
    stamp = datetime.now().strftime("%H:%M:%S")
    extras = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in log.items() if k not in _LOG_NOISE)
    return f"{stamp} {name:<26} {log.get('level', '')!s:<7} {log.get('message', '')} {extras}".rstrip()


def _configure_logging(name: str) -> None:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from calsync.observability import logger

    class _Readable(LambdaPowertoolsFormatter):
        def serialize(self, log: Any) -> str:
            return format_line(name, log)

    logger.registered_handler.setFormatter(_Readable())


def _instance_main(spec: FunctionSpec, environment: dict[str, str], conn: Connection) -> None:
    # Ctrl-C is for the stack, which finishes in-flight work before stopping instances.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Metrics output is off locally, so "no metrics to publish" is expected, not news.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.clear()
    os.environ.update(environment)
    from calsync_dev.lambda_runtime import LambdaContext, load_handler

    try:
        handler = load_handler(spec, apply_environment=False)
        _configure_logging(spec.logical_id)
    except Exception:
        traceback.print_exc()
        conn.send(("failed", "init"))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            return
        try:
            result = handler(message, LambdaContext(spec.logical_id, timeout_seconds=spec.timeout))
            conn.send(("ok", result))
        except KeyboardInterrupt:
            return
        except Exception as exc:
            print(f"{spec.logical_id} unhandled {type(exc).__name__}:", file=sys.stderr)
            traceback.print_exc()
            conn.send(("error", type(exc).__name__))


# Libraries every function imports (most of a fresh interpreter's second of start-up CPU),
# none of which reads the environment on import: the process that forks the instances imports
# them once. No calsync module and no Powertools (they read settings from the environment): a
# function's own code is imported in its instance, with its environment, as Lambda does.
_PRELOAD = ["boto3", "botocore.session", "pydantic", "httpx"]


@functools.cache
def _process_context() -> Any:
    """How instances start: forked from a server that preloaded the libraries (Linux), so the
    local stack's ~20 instances start in seconds, not tens; else as fresh interpreters."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


class FunctionPool:
    """``size`` warm instances of one function; ``invoke`` takes a free one, starts another while
    fewer than ``max_size`` run (a cold start, as Lambda scales out), else waits for one."""

    def __init__(
        self, spec: FunctionSpec, environment: Mapping[str, str], size: int = 1, *, max_size: int | None = None
    ) -> None:
        self.spec = spec
        self.max_size = max(size, max_size or size)
        self._live = 0  # instances running or starting
        self._environment = {**spec.environment, **environment}
        self._context = _process_context()
        self._idle: queue.Queue[tuple[Any, Connection]] = queue.Queue()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._size = size
        self._busy: dict[int, Any] = {}  # invocation number -> the process running it
        self._invocations = 0
        self._busy_changed = threading.Condition(self._lock)

    def start(self) -> None:
        with self._lock:
            self._live += self._size
        pending = [self._spawn() for _ in range(self._size)]
        for process, conn in pending:
            self._await_ready(process, conn)
            self._idle.put((process, conn))

    def _spawn(self) -> tuple[Any, Connection]:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_instance_main,
            # the whole environment, as a fresh interpreter would inherit it now (a forked
            # instance would otherwise see the fork server's, from when it started)
            args=(self.spec, {**os.environ, **self._environment}, child),
            name=self.spec.logical_id,
            daemon=True,
        )
        process.start()
        child.close()
        with self._lock:
            self._all.append(process)
        return process, parent

    def _await_ready(self, process: Any, conn: Connection) -> None:
        if not conn.poll(120):
            raise RuntimeError(f"{self.spec.logical_id} did not start within 120 s")
        status, _ = conn.recv()
        if status != "ready":
            raise RuntimeError(f"{self.spec.logical_id} failed to initialise (see its traceback above)")

    def _checkout(self) -> tuple[Any, Connection]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._live < self.max_size
            if grow:
                self._live += 1
        if not grow:
            return self._idle.get()
        try:
            process, conn = self._spawn()
            self._await_ready(process, conn)
        except BaseException:
            with self._lock:
                self._live -= 1
            raise
        return process, conn

    @property
    def instances(self) -> int:
        with self._lock:
            return self._live

    def invoke(self, event: Mapping[str, Any]) -> Any:
        process, conn = self._checkout()
        with self._busy_changed:
            self._invocations += 1
            invocation = self._invocations
            self._busy[invocation] = process
            self._busy_changed.notify_all()
        try:
            conn.send(dict(event))
            status, payload = conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            # The instance died (as a Lambda sandbox may): replace it, report the failure.
            process, conn = self._spawn()
            self._await_ready(process, conn)
            raise FunctionError(f"{self.spec.logical_id} instance crashed") from None
        finally:
            with self._busy_changed:
                self._busy.pop(invocation, None)
            self._idle.put((process, conn))
        if status == "error":
            raise FunctionError(f"{self.spec.logical_id} raised {payload}")
        return payload

    def kill_busy(self, *, after_seconds: float = 0, wait_seconds: float = 60) -> int | None:
        """Fault injection (local only): wait up to ``wait_seconds`` for an instance to be
        running an invocation, let it run ``after_seconds`` more, then SIGKILL it, as a
        Lambda sandbox may die mid-batch. The pool replaces it and the invocation fails with
        ``FunctionError``. Returns the killed process id, None if none was busy in time or
        the invocation finished before ``after_seconds``."""
        with self._busy_changed:
            if not self._busy_changed.wait_for(lambda: bool(self._busy), timeout=wait_seconds):
                return None
            invocation = min(self._busy)
        if after_seconds:
            threading.Event().wait(after_seconds)
        with self._lock:
            process = self._busy.get(invocation)
            if process is None:
                return None
            process.kill()
            pid: int = process.pid
            return pid

    def stop(self) -> None:
        while True:
            try:
                _, conn = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(OSError):
                conn.send(None)
        with self._lock:
            processes = list(self._all)
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
