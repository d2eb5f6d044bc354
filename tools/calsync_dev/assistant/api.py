"""A small signed client for calsync's /v1 API: SigV4 (botocore's signer, service ``execute-api``) over
the standard library's HTTP, so the assistant is governed by the same IAM policy as an application.

Every failure becomes one :class:`ApiError` with a message fit to show an assistant: the API's own
4xx message (and the parameter it names), API Gateway's 403, a 5xx, or a network error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

SERVICE = "execute-api"
TIMEOUT_SECONDS = 20.0


class ApiError(Exception):
    """A call that did not succeed; ``str()`` is the message for the assistant."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SignedApi:
    """The /v1 API at ``base_url`` (the stage's URL, e.g. ``https://<id>.execute-api.<region>.amazonaws.com/Prod``)."""

    base_url: str
    region: str
    credentials: Credentials | None  # a boto3 session's (refreshed as they expire) or the local stack's
    timeout: float = TIMEOUT_SECONDS

    def get(self, segments: tuple[str, ...], query: Mapping[str, str | int | None] | None = None) -> Any:
        """GET ``/v1/<segments…>`` with ``query`` (``None`` values left out), signed; the JSON body."""
        return self.send("GET", segments, query=query)

    def send(
        self,
        method: str,
        segments: tuple[str, ...],
        *,
        query: Mapping[str, str | int | None] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """``method /v1/<segments…>`` signed, with a JSON ``body`` and an ``Idempotency-Key`` if given; the JSON answer."""
        url = self.url(segments, query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request = AWSRequest(method=method, url=url, headers=headers, data=data)
        if self.credentials is None:
            raise ApiError("no AWS credentials found to sign the call (set a profile or AWS_* variables)")
        try:
            SigV4Auth(self.credentials, SERVICE, self.region).add_auth(request)
        except BotoCoreError as exc:  # e.g. expired or unrefreshable credentials
            raise ApiError(f"could not sign the call: {exc}") from exc
        prepared = urllib.request.Request(url, data=data, headers=dict(request.headers.items()), method=method)  # noqa: S310 - http(s) only, checked in url()
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout) as response:  # noqa: S310 - as above
                return _json(response.read(), response.status)
        except urllib.error.HTTPError as exc:
            raise _refusal(exc.code, exc.read()) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"could not reach the calsync API at {self.base_url}: {reason}") from None

    def url(self, segments: tuple[str, ...], query: Mapping[str, str | int | None] | None = None) -> str:
        if not self.base_url.startswith(("https://", "http://")):
            raise ApiError(f"the API URL must be http(s): {self.base_url}")
        for segment in segments:
            if segment in ("", ".", ".."):
                raise ApiError(f"not a valid id: {segment!r}", status=400)
        path = "/".join(quote(segment, safe="") for segment in ("v1", *segments))
        present = {name: str(value) for name, value in (query or {}).items() if value is not None}
        encoded = urlencode(present, quote_via=quote, safe="")
        return f"{self.base_url.rstrip('/')}/{path}" + (f"?{encoded}" if encoded else "")


def _json(body: bytes, status: int) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(f"the calsync API answered {status} with a body that is not JSON", status=status) from None


def _refusal(status: int, body: bytes) -> ApiError:
    """The API's refusal in words: its ``message`` (and ``parameter``), or API Gateway's ``message``/``Message``."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    details: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    message = details.get("message") or details.get("Message") or body.decode("utf-8", "replace")[:300]
    code = f" {details['error']}" if details.get("error") else ""
    parameter = f" (parameter {details['parameter']})" if details.get("parameter") else ""
    words = f"{status}{code}{parameter}: {message}"
    if status == 403:
        words += " — the call was refused by API Gateway: unsigned, or IAM does not allow these credentials"
    elif status >= 500:
        words = f"the calsync API failed: {words}"
    return ApiError(words, status=status)
