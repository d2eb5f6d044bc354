"""API Gateway emulation: the REST API's routes and gateway responses from the template,
each request turned into the proxy event API Gateway would send and handed to the
function the route names."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from calsync_dev.events import proxy_event
from calsync_dev.functions import FunctionError
from calsync_dev.local.config import CREDENTIALS, REGION, STAGE
from calsync_dev.local.sigv4 import MISSING_TOKEN, Refusal, SigV4Verifier

if TYPE_CHECKING:
    from calsync_dev.local.stack import LocalStack

API_MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST's payload limit
LAMBDA_PAYLOAD_BYTES = 6_291_456  # a synchronous invocation's payload: the whole proxy event


# ------------------------------------------------------------------ routes from the template


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    pattern: re.Pattern[str]
    function: str
    required_headers: tuple[str, ...]
    iam: bool = False  # AWS_IAM: a SigV4 signature is checked before anything else


def _iam_schemes(body: dict[str, Any]) -> set[str]:
    """The OpenAPI body's security schemes that are API Gateway's IAM (SigV4) authorization."""
    schemes = body.get("components", {}).get("securitySchemes", {})
    return {name for name, scheme in schemes.items() if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"}


def api_routes(template: dict[str, Any]) -> list[Route]:
    """The REST API's proxy routes from its OpenAPI body (the template's only API)."""
    routes: list[Route] = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Api":
            continue
        body = resource["Properties"].get("DefinitionBody", {})
        validators = body.get("x-amazon-apigateway-request-validators", {})
        iam = _iam_schemes(body)
        default_security = body.get("security", [])
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
                security = operation.get("security", default_security)
                signed = any(name in iam for requirement in security for name in requirement)
                routes.append(Route(method.upper(), path, re.compile(regex), found.group(1), required, signed))
    return routes


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``method`` on ``path`` and its path parameters; None when there is none (API
    Gateway's 403 Missing Authentication Token, for an unknown path and for a method the path lacks)."""
    for route in routes:
        match = route.pattern.match(path)
        if match is not None and route.method in (method, "X-AMAZON-APIGATEWAY-ANY-METHOD"):
            return route, match.groupdict()
    return None


def gateway_responses(template: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Status and body of the API's customised gateway responses."""
    found: dict[str, tuple[int, str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Api":
            for kind, spec in resource["Properties"].get("GatewayResponses", {}).items():
                body = spec.get("ResponseTemplates", {}).get("application/json", "{}")
                found[kind] = (int(spec.get("StatusCode", 500 if "5XX" in kind else 400)), body)
    return found


# ------------------------------------------------------------------ the HTTP server


def local_verifier() -> SigV4Verifier:
    """The IAM check for the local stack's one caller: its own credentials (``local``/``local``,
    the IAM user ``local``), in its region."""
    key, secret = CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    return SigV4Verifier(region=REGION, credentials={key: (secret, "local")})


def api_server(template: dict[str, Any], host: str, port: int, local_stack: LocalStack) -> ApiServer:
    """An API server for the template's routes (not yet serving: call ``serve_forever``)."""

    class Handler(ApiHandler):
        pass

    Handler.routes = api_routes(template)
    Handler.gateway = gateway_responses(template)
    Handler.local_stack = local_stack
    Handler.verifier = local_verifier()
    return ApiServer((host, port), Handler)


class ApiServer(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops connections under concurrent senders
    daemon_threads = False
    block_on_close = True


class ApiHandler(BaseHTTPRequestHandler):
    routes: list[Route]
    gateway: dict[str, tuple[int, str]]
    local_stack: LocalStack
    verifier: SigV4Verifier
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
        if split.path.startswith("/_local/"):
            self._local(split.path, parse_qs(split.query), body)
            return
        found = match_route(self.routes, self.command, split.path)
        if found is None:  # an unknown path, or a method the path lacks: API Gateway's answer to both
            self._reply(
                403, json.dumps({"message": MISSING_TOKEN}), {"x-amzn-ErrorType": "MissingAuthenticationTokenException"}
            )
            return
        route, path_parameters = found
        # API Gateway tells the function the scheme the caller used (the OAuth links name it)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "x-forwarded-proto"}
        headers["X-Forwarded-Proto"] = "http"
        identity: dict[str, Any] = {}
        if route.iam:
            url = f"http://{self.headers.get('Host', '')}{self.path}"
            verdict = self.verifier.verify(self.command, url, self.headers.items(), body)
            if isinstance(verdict, Refusal):
                self._reply(verdict.status, json.dumps({"message": verdict.message}), verdict.headers)
                return
            identity = verdict.identity()
        lowered = {k.lower() for k in headers}
        if any(h.lower() not in lowered for h in route.required_headers):
            self._gateway("BAD_REQUEST_PARAMETERS", 400)
            return
        event = proxy_event(
            method=self.command,
            resource=route.resource,
            path=split.path,
            path_parameters=path_parameters,
            headers=headers,
            query=parse_qs(split.query) or None,
            body=body,
            base64_encoded=not _is_text(headers),
            stage=STAGE,
            source_ip=self.client_address[0],
            identity=identity,
        )
        if len(body) * 2 > LAMBDA_PAYLOAD_BYTES // 3 and len(json.dumps(event).encode()) > LAMBDA_PAYLOAD_BYTES:
            # Lambda refuses an event this large: API Gateway answers 413 itself (docs/large-deliveries.md)
            self._gateway("REQUEST_TOO_LARGE", 413)
            return
        if not self.local_stack.gate.enter(wait=False):  # the emulator is restarting
            self._reply(503, json.dumps({"error": "unavailable", "message": "The AWS emulator is restarting."}))
            return
        try:
            self._invoke(route.function, event)
        finally:
            self.local_stack.gate.leave()

    def _local(self, path: str, query: Mapping[str, list[str]], body: bytes) -> None:
        """The local stack's own endpoints (not part of the API): run a schedule now, and
        the fault kit (``calsync_dev.local.faults``)."""
        parts = path.strip("/").split("/")
        stack = self.local_stack
        if parts[1:2] == ["faults"] and len(parts) == 2:
            status, answer = stack.fault_rules(self.command, body)
            self._reply(status, answer)
            return
        if parts[1:3] == ["reminders", "fire-due"] and self.command == "POST":
            at_text = query.get("at", [""])[0]
            at = datetime.fromisoformat(at_text.replace("Z", "+00:00")) if at_text else datetime.now(UTC)
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            self._reply(200, json.dumps({"fired": stack.fire_due_reminders(at), "at": at.isoformat()}))
            return
        if parts[1:3] == ["emulator", "restart"] and self.command == "POST":
            self._reply(200, json.dumps(stack.restart_emulator()))
            return
        if len(parts) >= 3 and parts[1] in ("schedules", "functions") and parts[2] not in stack.pools:
            self._reply(404, json.dumps({"error": "unknown_function", "message": parts[2]}))
            return
        if parts[1] == "schedules" and len(parts) == 3 and self.command == "POST":
            result = stack.run_scheduled(parts[2])
            self._reply(200, json.dumps({"function": parts[2], "result": result}, default=str))
            return
        if parts[1] == "functions" and parts[3:] == ["kill"] and self.command == "POST":
            pid = stack.pools[parts[2]].kill_busy(
                after_seconds=float(query.get("after_ms", ["0"])[0]) / 1000,
                wait_seconds=float(query.get("wait_seconds", ["60"])[0]),
            )
            self._reply(200, json.dumps({"function": parts[2], "killed": pid}))
            return
        self._reply(404, json.dumps({"error": "unknown_local_endpoint", "message": path}))

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
            body = base64.b64decode(body).decode()
        self._reply(int(result["statusCode"]), body, result.get("headers") or {})

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle


def _is_text(headers: Mapping[str, str]) -> bool:
    """API Gateway passes JSON and text bodies as text, others base64-encoded."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return not content_type or content_type.startswith(("application/json", "text/", "application/x-www-form"))
