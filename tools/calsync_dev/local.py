"""`make run`: all of calsync on one machine, without Docker or an AWS account.

- an AWS emulator (moto server) on http://127.0.0.1:5000;
- template.yaml's queues (with redrive), tables (keys, indexes, TTL) and the local
  connection's signing-key secret, created from the template itself;
- the REST API's routes on http://127.0.0.1:3000, each request turned into the proxy event
  API Gateway would send (request validator and gateway responses included) and handed to
  the function the template names, run with the template's environment;
- the SQS event-source mappings: batch size from the template, partial batch failures
  honoured, the DLQ after the queue's maxReceiveCount;
- the schedules: scheduled functions invoked at their rate, and on demand with
  ``POST /_local/schedules/<FunctionLogicalId>``.

Ctrl-C stops intake first, lets every accepted delivery be processed, then saves the
emulator's tables, queues and secrets to ``.calsync/local-state.json`` so the next
``make run`` starts where this one stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from calsync_dev.events import DEFAULT_LOCAL_KEY, proxy_event
from calsync_dev.functions import FunctionError, FunctionPool
from calsync_dev.lambda_runtime import LambdaContext
from calsync_dev.pump import SqsEventSource, queue_depth
from calsync_dev.template import ROOT, Stack, load, provision

STAGE = "local"
LOCAL_CONNECTION = "local"
REGION = "us-east-1"
API_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST's payload limit
RETRY_DELAY_SECONDS = 1  # local stand-in for waiting out the visibility timeout
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}


class PortInUse(Exception):
    pass


@dataclass(frozen=True)
class LocalConfig:
    host: str = "127.0.0.1"
    emulator_port: int = 5000
    api_port: int = 3000
    calendly_port: int = 3001
    signing_key: str = DEFAULT_LOCAL_KEY
    state_file: Path | None = ROOT / ".calsync" / "local-state.json"
    receiver_instances: int = 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LocalConfig:
        state = environ.get("CALSYNC_LOCAL_STATE", str(ROOT / ".calsync" / "local-state.json"))
        return cls(
            host=environ.get("CALSYNC_HOST", "127.0.0.1"),
            emulator_port=int(environ.get("CALSYNC_EMULATOR_PORT", "5000")),
            api_port=int(environ.get("CALSYNC_API_PORT", "3000")),
            calendly_port=int(environ.get("CALSYNC_CALENDLY_PORT", "3001")),
            signing_key=environ.get("CALSYNC_LOCAL_SIGNING_KEY", DEFAULT_LOCAL_KEY),
            state_file=Path(state) if state else None,
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def calendly_url(self) -> str:
        return f"http://{self.host}:{self.calendly_port}"


def check_port_free(host: str, port: int, what: str, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is fine
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(
                f"port {port} ({what}) is already in use: stop what holds it, or set {variable} to another port"
            ) from None


# ------------------------------------------------------------------ routes from the template


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: str
    required_headers: tuple[str, ...]


def api_routes(template: dict[str, Any]) -> list[Route]:
    """The REST API's proxy routes from its OpenAPI body (the template's only API)."""
    routes: list[Route] = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Api":
            continue
        body = resource["Properties"].get("DefinitionBody", {})
        validators = body.get("x-amazon-apigateway-request-validators", {})
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                uri = operation.get("x-amazon-apigateway-integration", {}).get("uri", {})
                text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
                found = re.search(r"functions/\$\{(\w+)\.Arn\}/invocations", text if isinstance(text, str) else "")
                if not found:
                    continue
                validator = validators.get(operation.get("x-amazon-apigateway-request-validator", ""), {})
                required = tuple(
                    p["name"]
                    for p in operation.get("parameters", [])
                    if p.get("in") == "header" and p.get("required") and validator.get("validateRequestParameters")
                )
                regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
                routes.append(Route(method.upper(), path, re.compile(regex), found.group(1), required))
    return routes


def gateway_responses(template: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Status and body of the API's customised gateway responses."""
    found: dict[str, tuple[int, str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Api":
            for kind, spec in resource["Properties"].get("GatewayResponses", {}).items():
                body = spec.get("ResponseTemplates", {}).get("application/json", "{}")
                found[kind] = (int(spec.get("StatusCode", 500 if "5XX" in kind else 400)), body)
    return found


def parse_rate(expression: str) -> float:
    """Seconds between runs for ``rate(N unit)``."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"unsupported schedule expression {expression!r} (only rate(...) runs locally)")
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


# ------------------------------------------------------------------ emulator state


def export_state(session: Any, stack: Stack) -> dict[str, Any]:
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    secrets = session.client("secretsmanager")
    state: dict[str, Any] = {"tables": {}, "queues": {}, "secrets": {}}
    for logical, name in stack.tables.items():
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            items.extend(page["Items"])
        state["tables"][logical] = items
    for logical, url in stack.queue_urls.items():
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", []):
            messages.extend({"Body": m["Body"], "MessageAttributes": m.get("MessageAttributes", {})} for m in batch)
        state["queues"][logical] = messages
    for page in secrets.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            value = secrets.get_secret_value(SecretId=entry["Name"], VersionStage="AWSCURRENT")
            state["secrets"][entry["Name"]] = value.get("SecretString")
    return state


def import_state(session: Any, stack: Stack, state: Mapping[str, Any]) -> int:
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    secrets = session.client("secretsmanager")
    restored = 0
    for logical, items in state.get("tables", {}).items():
        if logical not in stack.tables:
            continue
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {stack.tables[logical]: requests}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        restored += len(items)
    for logical, messages in state.get("queues", {}).items():
        for message in messages if logical in stack.queue_urls else []:
            sqs.send_message(
                QueueUrl=stack.queue_urls[logical],
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
    for name, value in state.get("secrets", {}).items():
        if value is not None:
            _put_secret(secrets, name, value)
    return restored


def _put_secret(client: Any, name: str, value: str) -> None:
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


# ------------------------------------------------------------------ the stack


@dataclass
class LocalStack:
    config: LocalConfig
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    template: dict[str, Any] = field(default_factory=load)

    def __post_init__(self) -> None:
        self.stack: Stack | None = None
        self.pools: dict[str, FunctionPool] = {}
        self._emulator: Any = None
        self._api: _ApiServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop_polling = threading.Event()
        self._stop_schedules = threading.Event()
        self._session: Any = None
        self._accepting = threading.Event()
        self._saved: dict[str, Any] = {}
        self.fake: Any = None
        self._calendly_server: ThreadingHTTPServer | None = None

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        check_port_free(config.host, config.emulator_port, "AWS emulator", "CALSYNC_EMULATOR_PORT")
        check_port_free(config.host, config.api_port, "API", "CALSYNC_API_PORT")
        check_port_free(config.host, config.calendly_port, "fake Calendly", "CALSYNC_CALENDLY_PORT")
        os.environ.update(CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = config.endpoint_url
        self._start_emulator()
        import boto3

        self._session = boto3.Session(region_name=REGION)
        self.stack = provision(self._session, template=self.template, parameters={"Stage": STAGE}, region=REGION)
        restored = self._restore()
        self._put_local_signing_key()
        self._start_fake_calendly()
        self._start_functions()
        self._start_event_sources()
        self._start_schedules()
        self._start_api()
        self.out(
            f"calsync local is ready: API {config.api_url}, AWS emulator {config.endpoint_url},"
            f" fake Calendly {config.calendly_url}"
            f" ({restored} items restored)\n"
            f"  POST {config.api_url}/webhooks/calendly/{LOCAL_CONNECTION}  (signing key: "
            f"{'CALSYNC_LOCAL_SIGNING_KEY' if config.signing_key != DEFAULT_LOCAL_KEY else DEFAULT_LOCAL_KEY})\n"
            "  try: calsync send events/webhooks/invitee_created.json && calsync bookings   (Ctrl-C to stop)"
        )

    def _start_emulator(self) -> None:
        """moto in server mode, in a process of its own (its own GIL, so it keeps up under
        load); in its own session so Ctrl-C reaches only us, and we stop it after saving."""
        self._emulator = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.config.host, "-p", str(self.config.emulator_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.config.endpoint_url}/moto-api/", timeout=2):  # noqa: S310
                    return
            except OSError:
                if self._emulator.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the AWS emulator (moto server) did not start") from None
                time.sleep(0.1)

    def _restore(self) -> int:
        state_file = self.config.state_file
        if state_file is None or not state_file.exists():
            return 0
        assert self.stack is not None
        self._saved = json.loads(state_file.read_text())
        return import_state(self._session, self.stack, self._saved)

    def _start_fake_calendly(self) -> None:
        """A stand-in Calendly (OAuth and the API endpoints calsync calls); the OAuth app
        secret points at it, so connect, refresh and the watchdog run locally too."""
        from calsync_dev.fake_calendly import FakeCalendly, serve

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
            _put_secret(self._session.client("secretsmanager"), name, json.dumps(app))

    def _put_local_signing_key(self) -> None:
        from calsync.store.secrets import encode_keys

        assert self.stack is not None
        prefix = self.stack.functions["ReceiverFunction"].environment["SIGNING_KEY_PREFIX"]
        _put_secret(
            self._session.client("secretsmanager"),
            f"{prefix}{LOCAL_CONNECTION}",
            encode_keys(self.config.signing_key),
        )

    def _function_environment(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.config.endpoint_url,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "CALENDLY_API_URL": self.config.calendly_url,
            "CALENDLY_TOKEN_URL": f"{self.config.calendly_url}/oauth/token",
            "POWERTOOLS_DEV": "false",
        }

    def _start_functions(self) -> None:
        assert self.stack is not None
        environment = self._function_environment()
        pools = {
            name: FunctionPool(
                spec, environment, size=self.config.receiver_instances if name == "ReceiverFunction" else 1
            )
            for name, spec in self.stack.functions.items()
        }
        starters = [threading.Thread(target=pool.start, name=f"start-{name}") for name, pool in pools.items()]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        self.pools = pools

    def _start_event_sources(self) -> None:
        assert self.stack is not None
        url_by_arn = {arn: self.stack.queue_urls[logical] for logical, arn in self.stack.queue_arns.items()}
        for name, spec in self.stack.functions.items():
            for event in spec.events.values():
                if event.get("Type") != "SQS":
                    continue
                props = event["Properties"]
                arn = props["Queue"]
                source = SqsEventSource(
                    self._session.client("sqs"),
                    url_by_arn[arn],
                    arn,
                    self._invoker(name),
                    LambdaContext(name),
                    batch_size=int(props.get("BatchSize", 10)),
                    retry_visibility_seconds=RETRY_DELAY_SECONDS,
                )
                self._spawn(f"poll-{name}", self._poll, source)

    def _invoker(self, name: str) -> Callable[[dict[str, Any], Any], Any]:
        pool = self.pools[name]
        return lambda event, _context: pool.invoke(event)

    def _poll(self, source: SqsEventSource) -> None:
        while not self._stop_polling.is_set():
            try:
                if source.poll_once(wait_seconds=1).received == 0:
                    self._stop_polling.wait(0.2)
            except Exception as exc:  # the emulator going away at shutdown, or a transient error
                if not self._stop_polling.is_set():
                    self.out(f"event source for {source.queue_url.rsplit('/', 1)[-1]}: {type(exc).__name__}")
                    self._stop_polling.wait(1)

    def _start_schedules(self) -> None:
        assert self.stack is not None
        for name, spec in self.stack.functions.items():
            for event in spec.events.values():
                if event.get("Type") not in ("Schedule", "ScheduleV2"):
                    continue
                props = event["Properties"]
                every = parse_rate(props.get("Schedule") or props.get("ScheduleExpression", ""))
                self._spawn(f"schedule-{name}", self._every, name, every)

    def _every(self, name: str, seconds: float) -> None:
        while not self._stop_schedules.wait(seconds):
            self.run_scheduled(name)

    def run_scheduled(self, name: str) -> Any:
        event = {
            "version": "0",
            "id": str(time.time_ns()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{name}"],
            "detail": {},
        }
        try:
            return self.pools[name].invoke(event)
        except FunctionError as exc:
            self.out(f"{name}: scheduled run failed: {exc}")
            return None

    def _start_api(self) -> None:
        routes = api_routes(self.template)
        responses = gateway_responses(self.template)
        stack = self

        class Handler(_ApiHandler):
            pass

        Handler.routes = routes
        Handler.gateway = responses
        Handler.local_stack = stack
        server = _ApiServer((self.config.host, self.config.api_port), Handler)
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
        self._stop_schedules.set()
        if self.stack is not None:
            deadline = time.monotonic() + drain_seconds
            while time.monotonic() < deadline and self.queued():
                time.sleep(0.3)
        self._stop_polling.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.stack is not None and self.config.state_file is not None:
            state = export_state(self._session, self.stack)
            if self.fake is not None:
                state["calendly"] = self.fake.export()
            self.config.state_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.config.state_file.with_suffix(".tmp")
            temporary.write_text(json.dumps(state))
            temporary.replace(self.config.state_file)
            saved = sum(len(items) for items in state["tables"].values())
            self.out(f"calsync local stopped; {saved} items saved to {self.config.state_file}")
        for pool in self.pools.values():
            pool.stop()
        if self._calendly_server is not None:
            self._calendly_server.shutdown()
            self._calendly_server.server_close()
        if self._emulator is not None:
            self._emulator.terminate()
            try:
                self._emulator.wait(10)
            except subprocess.TimeoutExpired:
                self._emulator.kill()


class _ApiServer(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops connections under concurrent senders
    daemon_threads = False
    block_on_close = True


class _ApiHandler(BaseHTTPRequestHandler):
    routes: list[Route]
    gateway: dict[str, tuple[int, str]]
    local_stack: LocalStack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: str, headers: Mapping[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        sent = {k.lower() for k in (headers or {})}
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _gateway(self, kind: str, fallback_status: int) -> None:
        status, body = self.gateway.get(kind, (fallback_status, '{"message": "gateway error"}'))
        self._reply(status, body)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > API_MAX_BODY_BYTES:
            self._gateway("REQUEST_TOO_LARGE", 413)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if split.path.startswith("/_local/schedules/") and self.command == "POST":
            name = split.path.rsplit("/", 1)[-1]
            if name not in self.local_stack.pools:
                self._reply(404, json.dumps({"error": "unknown_function", "message": name}))
                return
            result = self.local_stack.run_scheduled(name)
            self._reply(200, json.dumps({"function": name, "result": result}, default=str))
            return
        for route in self.routes:
            match = route.pattern.match(split.path)
            if match is None:
                continue
            if route.method not in (self.command, "X-AMAZON-APIGATEWAY-ANY-METHOD"):
                self._gateway("DEFAULT_4XX", 403)
                return
            headers = {k: v for k, v in self.headers.items()}
            lowered = {k.lower() for k in headers}
            if any(h.lower() not in lowered for h in route.required_headers):
                self._gateway("BAD_REQUEST_PARAMETERS", 400)
                return
            event = proxy_event(
                method=self.command,
                resource=route.resource,
                path=split.path,
                path_parameters=match.groupdict(),
                headers=headers,
                query=parse_qs(split.query) or None,
                body=body,
                base64_encoded=not _is_text(headers),
                stage=STAGE,
                source_ip=self.client_address[0],
            )
            self._invoke(route.function, event)
            return
        self._reply(403, json.dumps({"message": "Missing Authentication Token"}))

    def _invoke(self, function: str, event: dict[str, Any]) -> None:
        try:
            result = self.local_stack.pools[function].invoke(event)
        except FunctionError:
            self._gateway("DEFAULT_5XX", 502)
            return
        if not isinstance(result, dict) or "statusCode" not in result:
            self._gateway("DEFAULT_5XX", 502)
            return
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            body = base64.b64decode(body).decode()
        self._reply(int(result["statusCode"]), body, result.get("headers") or {})

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle


def _die_with_parent() -> None:
    """Linux: the emulator gets SIGTERM if the stack's process dies without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _is_text(headers: Mapping[str, str]) -> bool:
    """API Gateway passes JSON and text bodies as text, others base64-encoded."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return not content_type or content_type.startswith(("application/json", "text/", "application/x-www-form"))


def run(config: LocalConfig | None = None) -> int:
    """Start in the foreground; Ctrl-C (or SIGTERM) stops cleanly."""
    stack = LocalStack(config or LocalConfig.from_env())
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
