"""A SigV4-signed call to the /v1 API (service ``execute-api``), the same for the local stack and a
deployed one: botocore's SigV4Auth signs, urllib sends. Used by the e2e tests and ``make api-fuzz``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync_dev.local.sigv4 import encoded_url

# What the local stack's AWS_IAM check accepts (calsync_dev.local.config.CREDENTIALS)
LOCAL_CREDENTIALS = Credentials("local", "local")
LOCAL_REGION = "us-east-1"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    credentials: Credentials = LOCAL_CREDENTIALS,
    region: str = LOCAL_REGION,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The request's headers with SigV4's (``Authorization``, ``X-Amz-Date``, the token if any);
    ``url``'s query must be in SigV4's encoding (``encoded_url``)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    request.headers["Host"] = urlsplit(url).netloc
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def call(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    signed: bool = True,
    credentials: Credentials = LOCAL_CREDENTIALS,
    region: str = LOCAL_REGION,
    timeout: float = 30,
) -> Answer:
    """Send one request (signed unless ``signed=False``) and return its answer, whatever the status."""
    url = encoded_url(url)
    headers = {"Content-Type": "application/json"} if body else {}
    if signed:
        headers = sign(method, url, body, credentials=credentials, region=region, headers=headers)
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers.items()), exc.read())
