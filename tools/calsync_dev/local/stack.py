"""The local stack's orchestration: start every part in order, stop them in reverse
(intake first, then the queued work, then save the emulator's state)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from calsync_dev.analytics.buffer import LakeBuffer
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.functions import FunctionPool
from calsync_dev.local.config import CREDENTIALS, LOCAL_CONNECTION, REGION, LocalConfig, PortInUse
from calsync_dev.local.emulator import start_emulator, stop_emulator
from calsync_dev.local.gateway import ApiServer, api_server
from calsync_dev.local.lifecycle import LocalLifecycle
from calsync_dev.local.scheduler import Scheduler, schedules
from calsync_dev.local.state import export_state, import_state, put_secret, read_state, write_state
from calsync_dev.local.versions import WrongMotoVersion, check_moto_version
from calsync_dev.provision import Stack, provision
from calsync_dev.pump import LONG_POLL_SECONDS, Handler, event_sources, poll_until, queue_depth
from calsync_dev.template import load

RETRY_DELAY_SECONDS = 1  # local stand-in for waiting out the visibility timeout


class Gate:
    """Work that touches the emulator passes through; ``closed()`` waits for what is in
    flight and holds new work back (the emulator's restart)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._inflight = 0
        self._closed = False

    def enter(self, *, wait: bool) -> bool:
        """Start one piece of work: False (with ``wait=False``) while closed."""
        with self._changed:
            if self._closed and not wait:
                return False
            self._changed.wait_for(lambda: not self._closed)
            self._inflight += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._inflight -= 1
            self._changed.notify_all()

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._inflight == 0)
        try:
            yield
        finally:
            with self._changed:
                self._closed = False
                self._changed.notify_all()


@dataclass
class LocalStack:
    config: LocalConfig
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    template: dict[str, Any] = field(default_factory=load)
    moto_version: str | None = None  # the installed moto's unless given (tests)

    def __post_init__(self) -> None:
        self.stack: Stack | None = None
        self.pools: dict[str, FunctionPool] = {}
        self._emulator: subprocess.Popen[bytes] | None = None
        self._api: ApiServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop_polling = threading.Event()
        self._scheduler = Scheduler(self.pools, self.out)
        self._session: Any = None
        self._accepting = threading.Event()
        self._saved: dict[str, Any] = {}
        self.fake: Any = None
        self._calendly_server: ThreadingHTTPServer | None = None
        self.gate = Gate()
        self._keeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator")
        self.lifecycle: LocalLifecycle | None = None

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        check_moto_version(self.moto_version)
        config = self.config
        config.check_ports_free()
        os.environ.update(CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = config.endpoint_url
        self._emulator = start_emulator(config.host, config.emulator_port)
        import boto3

        self._session = boto3.Session(region_name=REGION)
        self.stack = provision(self._session, template=self.template, parameters=self.config.parameters, region=REGION)
        restored = self._restore()
        self._put_local_signing_key()
        self._start_fake_calendly()
        self._start_functions()
        self._start_event_sources()
        self._start_lifecycle()
        self._start_schedules()
        self._start_api()
        self.out(
            f"calsync local is ready: API {config.api_url}, AWS emulator {config.endpoint_url},"
            f" fake Calendly {config.calendly_url}"
            f" ({restored} items restored)\n"
            f"  lifecycle events: {config.events_file}  (calsync events tail --follow)\n"
            f"  analytics lake: {config.lake_dir}  (calsync stats)\n"
            f"  POST {config.api_url}/webhooks/calendly/{LOCAL_CONNECTION}  (signing key: "
            f"{'CALSYNC_LOCAL_SIGNING_KEY' if config.signing_key != DEFAULT_LOCAL_KEY else DEFAULT_LOCAL_KEY})\n"
            f"  GET {config.api_url}/v1/connections/{LOCAL_CONNECTION}/bookings  (SigV4 for execute-api in {REGION}:"
            f" access key {CREDENTIALS['AWS_ACCESS_KEY_ID']}, secret {CREDENTIALS['AWS_SECRET_ACCESS_KEY']}; docs/api.md)\n"
            "  try: calsync send events/webhooks/invitee_created.json && calsync bookings   (Ctrl-C to stop)"
        )

    def _restore(self) -> int:
        assert self.stack is not None
        self._saved = read_state(self.config.state_file)
        return import_state(self._session, self.stack, self._saved) if self._saved else 0

    def _start_fake_calendly(self) -> None:
        """A stand-in Calendly (OAuth and the API endpoints calsync calls); the OAuth app
        secret points at it, so connect, refresh and the watchdog run locally too."""
        from calsync_dev.fake_calendly import FakeCalendly
        from calsync_dev.local.fake_server import serve

        base = self.config.calendly_url
        self.fake = FakeCalendly(
            api_base=base,
            organization=f"{base}/organizations/LOCALORG0000001",
            user=f"{base}/users/LOCALUSER000001",
            accept_any_pat=True,
        )
        self.fake.restore(self._saved.get("calendly", {}))
        self._calendly_server = serve(self.fake, self.config.host, self.config.calendly_port)
        assert self.stack is not None
        name = self.stack.secrets.get("OAuthAppSecret")
        if name:
            app = {
                "client_id": self.fake.client_id,
                "client_secret": self.fake.client_secret,
                "webhook_signing_key": self.config.signing_key,
            }
            put_secret(self._session.client("secretsmanager"), name, json.dumps(app))

    def _put_local_signing_key(self) -> None:
        """The ``local`` connection: a registry record (the receiver answers registered ids only)
        that the scheduled jobs skip (it has no Calendly token), and the local signing key."""
        from calsync_dev.provision import register_webhook_connection

        assert self.stack is not None
        register_webhook_connection(
            self.stack.functions["ReceiverFunction"].environment,
            LOCAL_CONNECTION,
            self.config.signing_key,
            status="reauth_required",
            dynamodb=self._session.client("dynamodb"),
            secretsmanager=self._session.client("secretsmanager"),
        )

    def _function_environment(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.config.endpoint_url,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "CALENDLY_API_URL": self.config.calendly_url,
            "CALENDLY_TOKEN_URL": f"{self.config.calendly_url}/oauth/token",
            "CALENDLY_AUTHORIZE_URL": f"{self.config.calendly_url}/oauth/authorize",
            "POWERTOOLS_DEV": "false",
            "ERASURE_SWEEP_WAIT_SECONDS": "0",  # the emulator answers an empty long poll only when it ends
        }

    def _start_functions(self) -> None:
        assert self.stack is not None
        environment = self._function_environment()
        pools = {
            name: FunctionPool(
                spec,
                environment,
                size=self.config.receiver_instances if name == "ReceiverFunction" else 1,
                max_size=self.config.batches_per_queue,
            )
            for name, spec in self.stack.functions.items()
        }
        starters = [threading.Thread(target=pool.start, name=f"start-{name}") for name, pool in pools.items()]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        self.pools.update(pools)

    def _start_event_sources(self) -> None:
        assert self.stack is not None
        sources = event_sources(self.stack, self._session, self._invoker, retry_visibility_seconds=RETRY_DELAY_SECONDS)
        for name, source in sources:
            # Lambda runs several batches of a queue at once while it has a backlog (five pollers to
            # begin with); here ``batches_per_queue``: one poller, and helpers while batches come full.
            backlog = threading.Event()
            main = functools.partial(poll_until, backlog=backlog)
            self._spawn(f"poll-{name}", main, source, self._stop_polling, self.out, self.gate)
            # (never more than the event source's MaximumConcurrency, as Lambda's scaling config)
            for n in range(
                1, min(self.config.batches_per_queue, source.max_concurrency or self.config.batches_per_queue)
            ):
                helper = functools.partial(poll_until, backlog=backlog, helper=True)
                self._spawn(f"poll-{name}-{n}", helper, source, self._stop_polling, self.out, self.gate)

    def _start_lifecycle(self) -> None:
        """The table's stream → the publisher → the bus → ``events.jsonl`` and the lake; reminders when due."""
        self.lifecycle = LocalLifecycle(
            self._session,
            self.config.endpoint_url,
            self._current_stack,
            lambda name, event: self.pools[name].invoke(event),
            self.out,
            self.config.events_file,
            forward_url=os.environ.get("CALSYNC_LOCAL_FORWARD_URL") or None,
            lake=LakeBuffer(
                self.config.lake_dir,
                max_records=self.config.lake_flush_records,
                max_seconds=self.config.lake_flush_seconds,
            ),
        )
        self.lifecycle.provision()
        self.lifecycle.pump_streams()  # read the streams from here on (what was restored was published before)
        self._spawn("lifecycle", self.lifecycle.run, self._stop_polling, self.gate)

    def _current_stack(self) -> Stack:
        assert self.stack is not None
        return self.stack

    def fire_due_reminders(self, at: Any) -> int:
        assert self.lifecycle is not None
        return self.lifecycle.fire_due(at)

    def _invoker(self, name: str) -> Handler:
        pool = self.pools[name]
        return lambda event, _context: pool.invoke(event)

    def _start_schedules(self) -> None:
        assert self.stack is not None
        for name, every in schedules(self.stack.functions):
            self._spawn(f"schedule-{name}", self._scheduler.every, name, every)

    def run_scheduled(self, name: str) -> Any:
        return self._scheduler.run(name)

    def restart_emulator(self) -> dict[str, int]:
        """Fault injection (local only): save the emulator's state, stop it, start a fresh
        one and restore, as ``make run`` does across runs. Webhooks get 503 meanwhile (the
        sender retries) and the event sources pause; nothing in flight is cut off."""
        # The emulator dies with the thread that started it (PR_SET_PDEATHSIG), so start it
        # from a thread that lives as long as the stack, not from a request's thread.
        return self._keeper.submit(self._restart_emulator).result()

    def _restart_emulator(self) -> dict[str, int]:
        assert self.stack is not None
        assert self._emulator is not None
        with self.gate.closed():
            self._settle_in_flight()
            state = export_state(self._session, self.stack)
            stop_emulator(self._emulator)
            self._emulator = start_emulator(self.config.host, self.config.emulator_port)
            self.stack = provision(
                self._session, template=self.template, parameters=self.config.parameters, region=REGION
            )
            restored = import_state(self._session, self.stack, state)
            if self.lifecycle is not None:
                self.lifecycle.provision()
        queued = sum(len(messages) for messages in state["queues"].values())
        self.out(f"calsync local: emulator restarted ({restored} items, {queued} queued messages restored)")
        return {"items": restored, "messages": queued}

    def _settle_in_flight(self, timeout: float = 30) -> None:
        """Wait for messages made invisible by a failed attempt (retried after
        RETRY_DELAY_SECONDS) to be visible again: the export only sees visible ones."""
        assert self.stack is not None
        sqs = self._session.client("sqs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hidden = sum(
                queue_depth(sqs, url) - queue_depth(sqs, url, in_flight=False) for url in self.stack.queue_urls.values()
            )
            if not hidden:
                return
            time.sleep(0.2)

    def fault_rules(self, method: str, body: bytes) -> tuple[int, str]:
        """Forward ``/_local/faults`` to the emulator's fault rules (``calsync_dev.local.faults``)."""
        import urllib.error
        import urllib.request

        from calsync_dev.local.faults import CONTROL_PATH

        request = urllib.request.Request(  # noqa: S310 - the emulator on loopback
            f"{self.config.endpoint_url}{CONTROL_PATH}", data=body or None, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def _start_api(self) -> None:
        server = api_server(self.template, self.config.host, self.config.api_port, self)
        self._api = server
        self._accepting.set()
        self._spawn("api", server.serve_forever)

    def _spawn(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- stop -----------------------------------------------------------------------------

    def queued(self) -> int:
        """Messages in the source queues (DLQs not counted): work still to do."""
        assert self.stack is not None
        sqs = self._session.client("sqs")
        return sum(queue_depth(sqs, self.stack.queue_urls[logical]) for logical in self.stack.redrive)

    def stop(self, drain_seconds: float = 60.0) -> None:
        """Intake first, then the queued work, then save the emulator's state."""
        self._accepting.clear()
        if self._api is not None:
            self._api.shutdown()
            self._api.server_close()  # waits for in-flight requests (block_on_close)
        self._scheduler.stop()
        if self.stack is not None:
            deadline = time.monotonic() + drain_seconds
            while time.monotonic() < deadline and self.queued():
                time.sleep(0.3)
        self._stop_polling.set()
        for thread in self._threads:
            thread.join(timeout=LONG_POLL_SECONDS + 10)  # a poll in flight ends within its wait
        if self.stack is not None and self.config.state_file is not None:
            state = export_state(self._session, self.stack)
            if self.fake is not None:
                state["calendly"] = self.fake.export()
            write_state(self.config.state_file, state)
            saved = sum(len(items) for items in state["tables"].values())
            self.out(f"calsync local stopped; {saved} items saved to {self.config.state_file}")
        for pool in self.pools.values():
            pool.stop()
        if self._calendly_server is not None:
            self._calendly_server.shutdown()
            self._calendly_server.server_close()
        if self._emulator is not None:
            stop_emulator(self._emulator)
        self._keeper.shutdown()


def run(config: LocalConfig | None = None, *, moto_version: str | None = None) -> int:
    """Start in the foreground; Ctrl-C (or SIGTERM) stops cleanly."""
    try:
        check_moto_version(moto_version)
    except WrongMotoVersion as exc:
        print(f"calsync local: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(config or LocalConfig.from_env(), moto_version=moto_version)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            raise SystemExit(130)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except PortInUse as exc:
        print(f"calsync local: {exc}", file=sys.stderr)
        return 2
    try:
        while not stopping.wait(0.5):
            pass
        stack.out("calsync local: stopping (finishing accepted deliveries; Ctrl-C again to abort)")
    finally:
        stack.stop()
    return 0
