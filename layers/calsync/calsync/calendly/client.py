"""HTTP clients for the Calendly API v2 and Calendly OAuth: the only module that imports httpx.

The API client retries what may succeed later: 5xx answers and network errors (jittered
exponential back-off, base 0.5 s, cap 8 s, ``max_retries`` retries) and 429s (waiting
``X-RateLimit-Reset`` seconds, bounded by ``max_rate_limit_wait``). The OAuth token endpoint
spends single-use grants (codes, refresh tokens), so it re-sends only a request that cannot
have been processed: a connection that was never made, and a 429. A request that was sent and
got no usable answer (read timeout, dropped connection, 5xx) raises ``TokenOutcomeUnknown``; a
2xx that is not a token response raises ``TokenResponseInvalid``. Everything else raises a
``CalendlyError`` subclass at once. Secrets (access and refresh tokens, the client secret, webhook signing keys,
authorization codes) never reach an exception message, a ``repr`` or a log line: they are
redacted from any error text Calendly echoes back.

No network and no ``httpx.Client`` at import: each client builds its ``httpx.Client`` on first use.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from calsync.calendly.errors import (
    ERROR_BY_STATUS,
    CalendlyAuthError,
    CalendlyConflict,
    CalendlyError,
    CalendlyNotFound,
    CalendlyPermissionError,
    CalendlyRateLimited,
    CalendlyUnavailable,
    InvalidGrant,
    OAuthError,
    TokenOutcomeUnknown,
    TokenResponseInvalid,
)
from calsync.calendly.models import (
    CalendlyErrorBody,
    ErrorDetail,
    EventType,
    Invitee,
    InviteeNoShow,
    OAuthErrorBody,
    OAuthToken,
    OrganizationMembership,
    Pagination,
    RoutingFormSubmission,
    ScheduledEvent,
    User,
    WebhookSubscription,
    WebhookSubscriptionCreate,
)

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


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _safe_url(request: httpx.Request) -> str:
    """Scheme, host and path only: query strings may carry personal data (emails)."""
    url = request.url
    return f"{url.scheme}://{url.host}{url.path}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# Transport errors raised before any byte of the request left: re-sending cannot spend a grant.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Retrier:
    """Sends one request, retrying 5xx, network errors and 429 as the module doc says."""

    def __init__(
        self,
        *,
        max_retries: int,
        sleep: Callable[[float], None],
        max_rate_limit_wait: float,
        at_most_once: bool = False,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.sleep = sleep
        self.max_rate_limit_wait = max_rate_limit_wait
        # True: a request that may have been processed is never re-sent (single-use grants).
        self.at_most_once = at_most_once

    @staticmethod
    def backoff(attempt: int) -> float:
        """Equal-jitter exponential back-off: in [d/2, d] with d = min(cap, base * 2**attempt)."""
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
        return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 - jitter, not security

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        for header in ("X-RateLimit-Reset", "Retry-After"):
            raw = response.headers.get(header)
            if raw is None:
                continue
            try:
                seconds = float(raw)
            except ValueError:
                continue
            if seconds == seconds:  # not NaN
                return min(max(seconds, 0.0), self.max_rate_limit_wait)
        return min(self.backoff(attempt), self.max_rate_limit_wait)

    def send(
        self, client: httpx.Client, build: Callable[[], httpx.Request], secrets: tuple[str, ...]
    ) -> httpx.Response:
        """The first answer that is neither 5xx nor 429, else raise once the retries are spent."""
        failures = 0
        rate_limited = 0
        while True:
            request = build()
            where = f"{request.method} {_safe_url(request)}"
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
                    detail = _redact(f"{kind} ({exc}) on {where} after {failures + 1} attempts", secrets)
                    # Not chained: the httpx error holds the request, Authorization header and all.
                    raise CalendlyUnavailable(None, "Network error", detail) from None
                delay = self.backoff(failures)
                failures += 1
                logger.info("calendly network error, retrying", extra={"request": where, "error": kind, "delay": delay})
                self.sleep(delay)
                continue
            status = response.status_code
            if status == 429:
                reset = self.rate_limit_wait(response, rate_limited)
                if rate_limited >= self.max_retries:
                    logger.warning("calendly rate limit outlasted retries", extra={"request": where})
                    title, message, details = _api_error_fields(response, secrets)
                    raise CalendlyRateLimited(status, title, message, details, retry_after=reset)
                rate_limited += 1
                logger.info("calendly rate limited, waiting", extra={"request": where, "delay": reset})
                self.sleep(reset)
                continue
            if status >= 500 and self.at_most_once:
                logger.warning("calendly server error, not re-sent", extra={"request": where, "status": status})
                title, message, details = _api_error_fields(response, secrets)
                raise TokenOutcomeUnknown(status, title, message, details)
            if status >= 500:
                if failures >= self.max_retries:
                    logger.warning("calendly unavailable", extra={"request": where, "status": status})
                    title, message, details = _api_error_fields(response, secrets)
                    raise CalendlyUnavailable(status, title, message, details)
                delay = self.backoff(failures)
                failures += 1
                logger.info(
                    "calendly server error, retrying", extra={"request": where, "status": status, "delay": delay}
                )
                self.sleep(delay)
                continue
            return response


def _api_error_fields(response: httpx.Response, secrets: Iterable[str]) -> tuple[str, str, tuple[ErrorDetail, ...]]:
    """``(title, message, details)`` from an API error body, redacted; the reason phrase if unparsable."""
    secrets = tuple(secrets)
    try:
        body = CalendlyErrorBody.model_validate(_json(response))
    except ValidationError:
        return _redact(response.reason_phrase or "HTTP error", secrets), f"HTTP {response.status_code}", ()
    details = tuple(
        detail.model_copy(update={"message": _redact(detail.message, secrets)}) if detail.message else detail
        for detail in body.details
    )
    return _redact(body.title, secrets), _redact(body.message, secrets), details


def _parse[M: BaseModel](model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # The error text would quote the payload (personal data): keep only where it failed.
        places = ", ".join(".".join(str(part) for part in error["loc"]) or "<root>" for error in exc.errors()[:5])
        raise CalendlyError(
            None, "Unexpected response", f"{model.__name__} from {where}: invalid at {places}"
        ) from None


def _uuid(value: str, kind: str) -> str:
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


def _time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _next_token(pagination: Pagination) -> str | None:
    """``next_page_token``; older responses carry the token only inside ``next_page``."""
    if pagination.next_page_token:
        return pagination.next_page_token
    if pagination.next_page:
        tokens = parse_qs(urlsplit(pagination.next_page).query).get("page_token")
        if tokens and tokens[0]:
            return tokens[0]
    return None


# --- the API client ---------------------------------------------------------------------------


class _HttpOwner:
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


class CalendlyClient(_HttpOwner):
    """Calendly API v2 with a Bearer token from ``token_provider``.

    On a 401, ``on_unauthorized`` (if given) is called once to force-refetch the token, and the
    request is retried once with it. List methods return lazy iterators over every page.
    """

    def __init__(
        self,
        token_provider: Callable[[], str],
        *,
        on_unauthorized: Callable[[], str] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
    ) -> None:
        self._token_provider = token_provider
        self._on_unauthorized = on_unauthorized
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retrier = _Retrier(max_retries=max_retries, sleep=sleep, max_rate_limit_wait=max_rate_limit_wait)
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"CalendlyClient(base_url={self._base_url!r})"

    @property
    def _client(self) -> httpx.Client:
        return self._connection(base_url=self._base_url)

    # -- transport

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: dict[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> httpx.Response:
        token = self._token_provider()
        refetched = False
        while True:
            known = (token, *secrets)

            def build(bearer: str = token) -> httpx.Request:
                return self._client.build_request(
                    method, path, params=params, json=json, headers={"Authorization": f"Bearer {bearer}"}
                )

            response = self._retrier.send(self._client, build, known)
            if response.status_code == 401 and self._on_unauthorized is not None and not refetched:
                logger.info("calendly answered 401, refetching the token", extra={"request": f"{method} {path}"})
                refetched = True
                secrets = (*secrets, token)
                token = self._on_unauthorized()
                continue
            if response.is_success:
                return response
            title, message, details = _api_error_fields(response, (*known, *secrets))
            error = ERROR_BY_STATUS.get(response.status_code, CalendlyError)
            logger.info(
                "calendly request refused",
                extra={"request": f"{method} {path}", "status": response.status_code, "title": title},
            )
            raise error(response.status_code, title, message, details)

    def _get_resource[M: BaseModel](self, model: type[M], path: str) -> M:
        body = _json(self._request("GET", path))
        resource = body.get("resource") if isinstance(body, dict) else None
        return _parse(model, resource, f"GET {path}")

    def _paginate[M: BaseModel](self, model: type[M], path: str, params: Mapping[str, str | None]) -> Iterator[M]:
        query: dict[str, str | int] = {key: value for key, value in params.items() if value is not None}
        query["count"] = PAGE_SIZE
        seen: set[str] = set()
        while True:
            body = _json(self._request("GET", path, params=query))
            if not isinstance(body, dict):
                raise CalendlyError(None, "Unexpected response", f"GET {path}: not a JSON object")
            collection = body.get("collection") or []
            if not isinstance(collection, list):
                raise CalendlyError(None, "Unexpected response", f"GET {path}: collection is not a list")
            for item in collection:
                yield _parse(model, item, f"GET {path}")
            token = _next_token(_parse(Pagination, body.get("pagination") or {}, f"GET {path}"))
            if token is None:
                return
            if token in seen:
                raise CalendlyError(None, "Pagination loop", f"GET {path}: a page token came back twice")
            seen.add(token)
            query["page_token"] = token

    # -- users and organizations

    def get_current_user(self) -> User:
        return self._get_resource(User, "/users/me")

    def get_user(self, uuid_or_uri: str) -> User:
        return self._get_resource(User, f"/users/{_uuid(uuid_or_uri, 'users')}")

    def list_organization_memberships(
        self, *, organization: str | None = None, user: str | None = None, email: str | None = None
    ) -> Iterator[OrganizationMembership]:
        if organization is None and user is None:
            raise ValueError("organization or user is required")
        params = {"organization": organization, "user": user, "email": email}
        return self._paginate(OrganizationMembership, "/organization_memberships", params)

    # -- event types and scheduled events

    def list_event_types(
        self, *, organization: str | None = None, user: str | None = None, active: bool | None = None
    ) -> Iterator[EventType]:
        if organization is None and user is None:
            raise ValueError("organization or user is required")
        params = {
            "organization": organization,
            "user": user,
            "active": None if active is None else str(active).lower(),
        }
        return self._paginate(EventType, "/event_types", params)

    def list_scheduled_events(
        self,
        *,
        organization: str | None = None,
        user: str | None = None,
        min_start_time: datetime | str | None = None,
        max_start_time: datetime | str | None = None,
        status: str | None = None,
        invitee_email: str | None = None,
        sort: str | None = None,
    ) -> Iterator[ScheduledEvent]:
        if organization is None and user is None:
            raise ValueError("organization or user is required")
        params = {
            "organization": organization,
            "user": user,
            "min_start_time": _time(min_start_time),
            "max_start_time": _time(max_start_time),
            "status": status,
            "invitee_email": invitee_email,
            "sort": sort,
        }
        return self._paginate(ScheduledEvent, "/scheduled_events", params)

    def get_scheduled_event(self, uuid_or_uri: str) -> ScheduledEvent:
        return self._get_resource(ScheduledEvent, f"/scheduled_events/{_uuid(uuid_or_uri, 'scheduled_events')}")

    def list_event_invitees(
        self, event: str, *, status: str | None = None, email: str | None = None
    ) -> Iterator[Invitee]:
        path = f"/scheduled_events/{_uuid(event, 'scheduled_events')}/invitees"
        return self._paginate(Invitee, path, {"status": status, "email": email})

    def get_invitee_no_show(self, uuid_or_uri: str) -> InviteeNoShow:
        return self._get_resource(InviteeNoShow, f"/invitee_no_shows/{_uuid(uuid_or_uri, 'invitee_no_shows')}")

    def get_routing_form_submission(self, uuid_or_uri: str) -> RoutingFormSubmission:
        return self._get_resource(
            RoutingFormSubmission, f"/routing_form_submissions/{_uuid(uuid_or_uri, 'routing_form_submissions')}"
        )

    # -- webhook subscriptions

    def list_webhook_subscriptions(
        self, organization: str, scope: str, user: str | None = None
    ) -> Iterator[WebhookSubscription]:
        if scope == "user" and user is None:
            raise ValueError("user is required when scope is 'user'")
        params = {"organization": organization, "scope": scope, "user": user}
        return self._paginate(WebhookSubscription, "/webhook_subscriptions", params)

    def get_webhook_subscription(self, uuid_or_uri: str) -> WebhookSubscription:
        return self._get_resource(
            WebhookSubscription, f"/webhook_subscriptions/{_uuid(uuid_or_uri, 'webhook_subscriptions')}"
        )

    def create_webhook_subscription(
        self,
        url: str,
        events: Iterable[str],
        organization: str,
        scope: str,
        user: str | None = None,
        signing_key: str | None = None,
    ) -> WebhookSubscription:
        """Subscribe ``url``; ``CalendlyConflict`` if a subscription for it already exists."""
        request = WebhookSubscriptionCreate.model_validate(
            {
                "url": url,
                "events": list(events),
                "organization": organization,
                "scope": scope,
                "user": user,
                "signing_key": signing_key,
            }
        )
        secrets = (signing_key,) if signing_key else ()
        response = self._request("POST", "/webhook_subscriptions", json=request.to_json(), secrets=secrets)
        body = _json(response)
        resource = body.get("resource") if isinstance(body, dict) else None
        return _parse(WebhookSubscription, resource, "POST /webhook_subscriptions")

    def delete_webhook_subscription(self, uuid_or_uri: str) -> None:
        self._request("DELETE", f"/webhook_subscriptions/{_uuid(uuid_or_uri, 'webhook_subscriptions')}")


# --- the OAuth client -------------------------------------------------------------------------


class OAuthClient(_HttpOwner):
    """``POST https://auth.calendly.com/oauth/token`` with HTTP Basic client authentication."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._transport = transport
        if isinstance(timeout, httpx.Timeout):
            self._timeout = timeout
        else:
            self._timeout = httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout)
        self._retrier = _Retrier(
            max_retries=max_retries, sleep=sleep, max_rate_limit_wait=max_rate_limit_wait, at_most_once=True
        )
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self._client_id!r}, token_url={self._token_url!r})"

    @property
    def _client(self) -> httpx.Client:
        return self._connection()

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        """Trade an authorization code (plus the PKCE verifier, if one was used) for tokens."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return self._token(form, secrets=(code, code_verifier or ""))

    def refresh(self, refresh_token: str) -> OAuthToken:
        """A new access token (and a new refresh token: the old one stops working)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, secrets=(refresh_token,))

    def _token(self, form: dict[str, str], secrets: tuple[str, ...]) -> OAuthToken:
        known = (self._client_secret, *secrets)
        auth = httpx.BasicAuth(self._client_id, self._client_secret)

        def build() -> httpx.Request:
            request = self._client.build_request("POST", self._token_url, data=form)
            return next(auth.sync_auth_flow(request))

        response = self._retrier.send(self._client, build, known)
        body = _json(response)
        if response.is_success:
            try:
                token = _parse(OAuthToken, body, "POST oauth/token")
            except CalendlyError as exc:
                logger.warning("calendly oauth answer unreadable", extra={"grant_type": form["grant_type"]})
                raise TokenResponseInvalid(response.status_code, "Invalid token response", exc.message) from None
            logger.info("calendly oauth token issued", extra={"grant_type": form["grant_type"]})
            return token
        try:
            error = OAuthErrorBody.model_validate(body)
        except ValidationError:
            title, message, _ = _api_error_fields(response, known)
            raise OAuthError(response.status_code, title, message) from None
        description = _redact(error.error_description, known) if error.error_description else None
        kind = InvalidGrant if error.error == "invalid_grant" else OAuthError
        logger.info(
            "calendly oauth refused",
            extra={"grant_type": form["grant_type"], "status": response.status_code, "error": error.error},
        )
        raise kind(response.status_code, _redact(error.error, known), description)


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "CalendlyAuthError",
    "CalendlyClient",
    "CalendlyConflict",
    "CalendlyError",
    "CalendlyNotFound",
    "CalendlyPermissionError",
    "CalendlyRateLimited",
    "CalendlyUnavailable",
    "InvalidGrant",
    "OAuthClient",
    "OAuthError",
    "OAuthToken",
    "TokenOutcomeUnknown",
    "TokenResponseInvalid",
]
