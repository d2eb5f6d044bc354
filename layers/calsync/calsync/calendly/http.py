"""What both Calendly clients share: one ``httpx.Client`` each (opened lazily), retries of
what may succeed later (jittered back-off for 5xx and network errors, ``X-RateLimit-Reset``
waits for 429), error bodies turned into ``CalendlyError``s, and redaction: no secret reaches
an exception, a ``repr`` or a log line."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from calsync import timefmt
from calsync.calendly.bodies import CalendlyErrorBody, ErrorDetail
from calsync.calendly.errors import (
    CalendlyError,
    CalendlyRateLimited,
    CalendlyUnavailable,
    TokenOutcomeUnknown,
)
from calsync.calendly.models import Pagination

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.calendly.com"
DEFAULT_TOKEN_URL = "https://auth.calendly.com/oauth/token"  # noqa: S105 - a URL, not a password
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_RATE_LIMIT_WAIT = 60.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
PAGE_SIZE = 100
USER_AGENT = "calsync (+https://github.com/calsync)"
_REDACTED = "[REDACTED]"
_UUID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


# --- shared helpers ---------------------------------------------------------------------------


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def safe_url(request: httpx.Request) -> str:
    """Scheme, host and path only: query strings may carry personal data (emails)."""
    url = request.url
    return f"{url.scheme}://{url.host}{url.path}"


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# Transport errors raised before any byte of the request left: re-sending cannot spend a grant.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Retrier:
    """Sends one request, retrying 5xx, network errors and 429 as the module doc says."""

    def __init__(
        self,
        *,
        max_retries: int,
        sleep: Callable[[float], None],
        max_rate_limit_wait: float,
        at_most_once: bool = False,
        on_send: Callable[[], None] | None = None,
        on_answer: Callable[[int, Mapping[str, str]], None] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.sleep = sleep
        self.max_rate_limit_wait = max_rate_limit_wait
        # True: a request that may have been processed is never re-sent (single-use grants).
        self.at_most_once = at_most_once
        # Called before every request leaves, retries included (a caller's budget of API
        # calls); what it raises propagates unchanged, before anything is sent.
        self.on_send = on_send
        # Called with every answer's status and headers, 429s and 5xx included, before they are
        # acted on: a per-connection rate budget learns ``X-RateLimit-*`` there (connections.budget).
        self.on_answer = on_answer

    @staticmethod
    def backoff(attempt: int) -> float:
        """Equal-jitter exponential back-off: in [d/2, d] with d = min(cap, base * 2**attempt)."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
        return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - jitter, not security

    @staticmethod
    def reported_reset(response: httpx.Response) -> float | None:
        """When a 429 says to come back (``X-RateLimit-Reset``, else ``Retry-After``), in seconds."""
        for header in ("X-RateLimit-Reset", "Retry-After"):
            raw = response.headers.get(header)
            if raw is None:
                continue
            try:
                seconds = float(raw)
            except ValueError:
                continue
            if seconds == seconds:  # not NaN
                return max(seconds, 0.0)
        return None

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        reported = self.reported_reset(response)
        return min(self.backoff(attempt) if reported is None else reported, self.max_rate_limit_wait)

    def send(
        self, client: httpx.Client, build: Callable[[], httpx.Request], secrets: tuple[str, ...]
    ) -> httpx.Response:
        """The first answer that is neither 5xx nor 429, else raise once the retries are spent."""
        failures = 0
        rate_limited = 0
        while True:
            request = build()
            where = f"{request.method} {safe_url(request)}"
            if self.on_send is not None:
                self.on_send()
            try:
                response = client.send(request)
            except httpx.TransportError as exc:
                kind = type(exc).__name__
                if self.at_most_once and not isinstance(exc, NEVER_SENT):
                    logger.warning("calendly answer lost, not re-sent", extra={"request": where, "error": kind})
                    raise TokenOutcomeUnknown(
                        None, "Answer lost", f"{kind} on {where}; the request may have been processed"
                    ) from None
                if failures >= self.max_retries:
                    logger.warning("calendly request failed", extra={"request": where, "error": kind})
                    detail = redact(f"{kind} ({exc}) on {where} after {failures + 1} attempts", secrets)
                    # Not chained: the httpx error holds the request, Authorization header and all.
                    raise CalendlyUnavailable(None, "Network error", detail) from None
                delay = self.backoff(failures)
                failures += 1
                logger.info("calendly network error, retrying", extra={"request": where, "error": kind, "delay": delay})
                self.sleep(delay)
                continue
            status = response.status_code
            if self.on_answer is not None:
                self.on_answer(status, response.headers)
            if status == 429:
                reset = self.rate_limit_wait(response, rate_limited)
                if rate_limited >= self.max_retries:
                    logger.warning("calendly rate limit outlasted retries", extra={"request": where})
                    title, message, details = api_error_fields(response, secrets)
                    # Calendly's own reset, not the (bounded) wait: a caller may have to wait longer.
                    reported = self.reported_reset(response)
                    retry_after = reset if reported is None else reported
                    raise CalendlyRateLimited(status, title, message, details, retry_after=retry_after)
                rate_limited += 1
                logger.info("calendly rate limited, waiting", extra={"request": where, "delay": reset})
                self.sleep(reset)
                continue
            if status >= 500 and self.at_most_once:
                logger.warning("calendly server error, not re-sent", extra={"request": where, "status": status})
                title, message, details = api_error_fields(response, secrets)
                raise TokenOutcomeUnknown(status, title, message, details)
            if status >= 500:
                if failures >= self.max_retries:
                    logger.warning("calendly unavailable", extra={"request": where, "status": status})
                    title, message, details = api_error_fields(response, secrets)
                    raise CalendlyUnavailable(status, title, message, details)
                delay = self.backoff(failures)
                failures += 1
                logger.info(
                    "calendly server error, retrying", extra={"request": where, "status": status, "delay": delay}
                )
                self.sleep(delay)
                continue
            return response


def api_error_fields(response: httpx.Response, secrets: Iterable[str]) -> tuple[str, str, tuple[ErrorDetail, ...]]:
    """``(title, message, details)`` from an API error body, redacted; the reason phrase if unparsable."""
    secrets = tuple(secrets)
    try:
        body = CalendlyErrorBody.model_validate(json_or_none(response))
    except ValidationError:
        return redact(response.reason_phrase or "HTTP error", secrets), f"HTTP {response.status_code}", ()
    details = tuple(
        detail.model_copy(update={"message": redact(detail.message, secrets)}) if detail.message else detail
        for detail in body.details
    )
    return redact(body.title, secrets), redact(body.message, secrets), details


def parse_model[M: BaseModel](model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # The error text would quote the payload (personal data): keep only where it failed.
        places = ", ".join(".".join(str(part) for part in error["loc"]) or "<root>" for error in exc.errors()[:5])
        raise CalendlyError(
            None, "Unexpected response", f"{model.__name__} from {where}: invalid at {places}"
        ) from None


def uuid_of(value: str, kind: str) -> str:
    """The UUID itself, or the last segment of a ``https://…/{kind}/{uuid}`` URI; anything else is refused."""
    candidate = value
    if "/" in value:
        parts = urlsplit(value)
        segments = parts.path.rstrip("/").split("/")
        if parts.scheme not in ("http", "https") or not parts.netloc or len(segments) < 2 or segments[-2] != kind:
            raise ValueError(f"not a Calendly UUID or {kind} URI: {value!r}")
        candidate = segments[-1]
    if not _UUID.fullmatch(candidate):
        raise ValueError(f"not a Calendly UUID or {kind} URI: {value!r}")
    return candidate


def api_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return timefmt.sortable(value)


def next_page_token(pagination: Pagination) -> str | None:
    """``next_page_token``; older responses carry the token only inside ``next_page``."""
    if pagination.next_page_token:
        return pagination.next_page_token
    if pagination.next_page:
        tokens = parse_qs(urlsplit(pagination.next_page).query).get("page_token")
        if tokens and tokens[0]:
            return tokens[0]
    return None


# --- the API client ---------------------------------------------------------------------------


class HttpOwner:
    """One lazily opened ``httpx.Client`` per API client; ``with`` / ``close()`` release it."""

    _http: httpx.Client | None
    _transport: httpx.BaseTransport | None
    _timeout: httpx.Timeout

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _connection(self, **options: Any) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                follow_redirects=False,
                **options,
            )
        return self._http
