"""An in-test stand-in for calsync's /v1 API, as API Gateway and the read handlers answer it.

It checks every request's SigV4 signature (its own implementation of the algorithm, independent of
botocore's signer: a wrong key, region or service, an unsigned call or a changed query is API
Gateway's 403), accepts only routes, methods and query parameters openapi/calsync-v1.yaml declares,
and refuses to be given an answer the contract does not allow for that route and status. So tests
against it cannot drift from the contract the real API is tested against.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "calsync-v1.yaml"
SPEC: dict[str, Any] = yaml.safe_load(CONTRACT.read_text())
_BASE = "urn:calsync-v1"
_REGISTRY: Registry = Registry().with_resource(_BASE, Resource.from_contents(SPEC, default_specification=DRAFT202012))
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r" ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})"
)


def _deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """The contract's (path template, operation) for a request path, or None if it declares none."""
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            parameters = [_deref(p) for p in item.get("parameters", []) + item[method.lower()].get("parameters", [])]
            return template, {**item[method.lower()], "parameters": parameters}
    return None


def check_answer(method: str, path: str, status: int, body: Any) -> None:
    """Raise unless the contract allows ``body`` as ``status`` for this route."""
    found = operation(method, path)
    assert found is not None, f"the contract has no {method} {path}"
    template, op = found
    response = _deref(op["responses"].get(str(status)))
    assert response is not None, f"the contract gives {method} {template} no {status}"
    schema = response["content"]["application/json"]["schema"]
    pointer = schema.get("$ref", None)
    assert pointer, f"{method} {template} {status}: expected a $ref schema"
    Draft202012Validator({"$ref": _BASE + pointer}, registry=_REGISTRY).validate(body)


def signature_problem(
    method: str, target: str, headers: dict[str, str], body: bytes, *, access_key: str, secret_key: str, region: str
) -> str | None:
    """Why this request's SigV4 signature is not valid for these credentials (None: it is)."""
    found = _AUTH.fullmatch(headers.get("authorization", ""))
    if found is None:
        return "Missing Authentication Token"
    if found["key"] != access_key:
        return "The security token included in the request is invalid."
    if found["region"] != region or found["service"] != "execute-api":
        return f"Credential should be scoped to a valid region and service: {found['region']}/{found['service']}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(found["date"]):
        return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
    names = found["signed"].split(";")
    if "host" not in names or any(name not in headers for name in names):
        return "Authorization header requires signing the host and every header it names"
    path, _, query = target.partition("?")
    pairs = sorted(
        (quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
        for k, _, v in (part.partition("=") for part in query.split("&") if part)
    )
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/~"),  # the path as sent, URI-encoded once more (every service but S3)
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names),
            found["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{found['date']}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (found["date"], region, "execute-api", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, found["signature"]):
        return "The request signature we calculated does not match the signature you provided."
    return None


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    signed_by: str | None  # the access key, when the signature was valid


@dataclass
class FakeV1Api:
    access_key: str = "local"
    secret_key: str = "local"
    region: str = "us-east-1"
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)  # request path -> (status, body)
    seen: list[Seen] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # requests the contract does not declare
    server: ThreadingHTTPServer | None = None

    def answer(self, path: str, body: Any, status: int = 200) -> None:
        """Answer GET ``path`` (any query) with ``body``: only a body the contract allows."""
        check_answer("GET", path, status, body)
        self.answers[path] = (status, body)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def start(self) -> FakeV1Api:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        split = urlsplit(request.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        problem = signature_problem(
            request.command,
            request.path,
            headers,
            b"",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )
        self.seen.append(Seen(request.command, split.path, query, None if problem else self.access_key))
        if problem is not None:
            return self._reply(request, 403, {"message": problem})
        found = operation(request.command, split.path)
        if found is None:
            self.problems.append(f"{request.command} {split.path}: not in the contract")
            return self._reply(request, 403, {"message": "Missing Authentication Token"})
        declared = {p["name"] for p in found[1]["parameters"] if p["in"] == "query"}
        if undeclared := sorted(set(query) - declared):
            self.problems.append(f"{request.command} {found[0]}: undeclared query parameters {undeclared}")
        status, body = self.answers.get(split.path, (404, {"error": "not_found", "message": "no such thing"}))
        self._reply(request, status, body)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
