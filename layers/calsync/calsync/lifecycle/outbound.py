"""HTTP POSTs to operator-configured endpoints (Slack, the signed forwarder): the standard
library's client, a short timeout, and errors that never name the URL (a Slack webhook URL
is itself a secret)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from calsync.errors import CalsyncError

TIMEOUT_SECONDS = 10.0


class OutboundFailed(CalsyncError):
    """The endpoint did not take the request; ``status`` is its answer (None: no answer)."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"POST failed: {status if status is not None else 'no response'} {reason}")
        self.status = status


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = TIMEOUT_SECONDS) -> int:
    """POST ``body``; the 2xx status, else ``OutboundFailed`` (the caller's queue retries)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise OutboundFailed(None, "the endpoint is not an http(s) URL")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise OutboundFailed(exc.code, exc.reason if isinstance(exc.reason, str) else "error") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise OutboundFailed(None, type(exc).__name__) from None
