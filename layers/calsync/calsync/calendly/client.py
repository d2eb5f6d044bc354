"""The Calendly API v2 client (the OAuth token endpoint is ``calendly.oauth``; what both
share — retries, error bodies, redaction, the lazily opened ``httpx.Client`` — is
``calendly.http``; these three are the only modules that import httpx).

The API client retries what may succeed later: 5xx answers and network errors (jittered
exponential back-off, base 0.5 s, cap 8 s, ``max_retries`` retries) and 429s (waiting
``X-RateLimit-Reset`` seconds, bounded by ``max_rate_limit_wait``). Everything else raises a
``CalendlyError`` subclass at once. Secrets never reach an exception message, a ``repr`` or a
log line. No network and no ``httpx.Client`` at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from calsync.calendly.bodies import WebhookSubscriptionCreate
from calsync.calendly.errors import (
    ERROR_BY_STATUS,
    CalendlyError,
)
from calsync.calendly.http import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    PAGE_SIZE,
    HttpOwner,
    Retrier,
    api_error_fields,
    api_time,
    json_or_none,
    logger,
    next_page_token,
    parse_model,
    uuid_of,
)
from calsync.calendly.models import (
    EventType,
    Invitee,
    InviteeNoShow,
    OrganizationMembership,
    Pagination,
    RoutingForm,
    RoutingFormSubmission,
    ScheduledEvent,
    User,
    WebhookSubscription,
)


class CalendlyClient(HttpOwner):
    """Calendly API v2 with a Bearer token from ``token_provider``.

    On a 401, ``on_unauthorized`` (if given) is called once to force-refetch the token, and the
    request is retried once with it. List methods return lazy iterators over every page.
    ``on_request`` (if given) is called before every HTTP request, retries included: a
    budget of API calls counts there and may stop the client by raising. ``on_answer`` (if given)
    sees every answer's status and headers (``X-RateLimit-Limit/Remaining/Reset``, ``Retry-After``):
    the connection's shared rate budget learns from them.
    """

    def __init__(
        self,
        token_provider: Callable[[], str],
        *,
        on_unauthorized: Callable[[], str] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        on_request: Callable[[], None] | None = None,
        on_answer: Callable[[int, Mapping[str, str]], None] | None = None,
    ) -> None:
        self._token_provider = token_provider
        self._on_unauthorized = on_unauthorized
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        if isinstance(timeout, httpx.Timeout):
            self._timeout = timeout
        else:
            self._timeout = httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout)
        self._retrier = Retrier(
            max_retries=max_retries,
            sleep=sleep,
            max_rate_limit_wait=max_rate_limit_wait,
            on_send=on_request,
            on_answer=on_answer,
        )
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
            title, message, details = api_error_fields(response, (*known, *secrets))
            error = ERROR_BY_STATUS.get(response.status_code, CalendlyError)
            logger.info(
                "calendly request refused",
                extra={"request": f"{method} {path}", "status": response.status_code, "title": title},
            )
            raise error(response.status_code, title, message, details)

    def _get_resource[M: BaseModel](self, model: type[M], path: str) -> M:
        body = json_or_none(self._request("GET", path))
        resource = body.get("resource") if isinstance(body, dict) else None
        return parse_model(model, resource, f"GET {path}")

    def _paginate[M: BaseModel](self, model: type[M], path: str, params: Mapping[str, str | None]) -> Iterator[M]:
        query: dict[str, str | int] = {key: value for key, value in params.items() if value is not None}
        query["count"] = PAGE_SIZE
        seen: set[str] = set()
        while True:
            body = json_or_none(self._request("GET", path, params=query))
            if not isinstance(body, dict):
                raise CalendlyError(None, "Unexpected response", f"GET {path}: not a JSON object")
            collection = body.get("collection") or []
            if not isinstance(collection, list):
                raise CalendlyError(None, "Unexpected response", f"GET {path}: collection is not a list")
            for item in collection:
                yield parse_model(model, item, f"GET {path}")
            token = next_page_token(parse_model(Pagination, body.get("pagination") or {}, f"GET {path}"))
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
        return self._get_resource(User, f"/users/{uuid_of(uuid_or_uri, 'users')}")

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
            "min_start_time": api_time(min_start_time),
            "max_start_time": api_time(max_start_time),
            "status": status,
            "invitee_email": invitee_email,
            "sort": sort,
        }
        return self._paginate(ScheduledEvent, "/scheduled_events", params)

    def get_scheduled_event(self, uuid_or_uri: str) -> ScheduledEvent:
        return self._get_resource(ScheduledEvent, f"/scheduled_events/{uuid_of(uuid_or_uri, 'scheduled_events')}")

    def list_event_invitees(
        self, event: str, *, status: str | None = None, email: str | None = None
    ) -> Iterator[Invitee]:
        path = f"/scheduled_events/{uuid_of(event, 'scheduled_events')}/invitees"
        return self._paginate(Invitee, path, {"status": status, "email": email})

    def get_invitee_no_show(self, uuid_or_uri: str) -> InviteeNoShow:
        return self._get_resource(InviteeNoShow, f"/invitee_no_shows/{uuid_of(uuid_or_uri, 'invitee_no_shows')}")

    def list_routing_forms(self, *, organization: str, sort: str | None = None) -> Iterator[RoutingForm]:
        return self._paginate(RoutingForm, "/routing_forms", {"organization": organization, "sort": sort})

    def list_routing_form_submissions(self, form: str, *, sort: str | None = None) -> Iterator[RoutingFormSubmission]:
        return self._paginate(RoutingFormSubmission, "/routing_form_submissions", {"form": form, "sort": sort})

    def get_routing_form_submission(self, uuid_or_uri: str) -> RoutingFormSubmission:
        return self._get_resource(
            RoutingFormSubmission, f"/routing_form_submissions/{uuid_of(uuid_or_uri, 'routing_form_submissions')}"
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
            WebhookSubscription, f"/webhook_subscriptions/{uuid_of(uuid_or_uri, 'webhook_subscriptions')}"
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
        body = json_or_none(response)
        resource = body.get("resource") if isinstance(body, dict) else None
        return parse_model(WebhookSubscription, resource, "POST /webhook_subscriptions")

    def delete_webhook_subscription(self, uuid_or_uri: str) -> None:
        self._request("DELETE", f"/webhook_subscriptions/{uuid_of(uuid_or_uri, 'webhook_subscriptions')}")

    # -- data compliance

    def delete_invitee_data(self, emails: Iterable[str]) -> None:
        """Ask Calendly to delete these invitees' data (``POST /data_compliance/deletion/invitees``,
        202; asynchronous, up to 7 days). Enterprise plans only: others answer 403
        (``CalendlyPermissionError``) or 404 (``CalendlyNotFound``)."""
        self._request("POST", "/data_compliance/deletion/invitees", json={"emails": list(emails)})

    # -- scheduling (acting for a connection: calsync.actions)

    def _post_resource[M: BaseModel](self, model: type[M], path: str, body: dict[str, Any]) -> M:
        resource = json_or_none(self._request("POST", path, json=body))
        return parse_model(model, resource.get("resource") if isinstance(resource, dict) else None, f"POST {path}")

    def create_invitee(self, body: dict[str, Any]) -> Invitee:
        """Book: ``POST /invitees`` (the Scheduling API, ``scheduled_events:write``), ``body`` as
        ``calendly.scheduling.InviteeCreate.to_json()`` makes it; 201 with the new invitee."""
        return self._post_resource(Invitee, "/invitees", body)

    def get_invitee(self, event: str, invitee: str) -> Invitee:
        event_uuid, invitee_uuid = uuid_of(event, "scheduled_events"), uuid_of(invitee, "invitees")
        return self._get_resource(Invitee, f"/scheduled_events/{event_uuid}/invitees/{invitee_uuid}")

    def cancel_scheduled_event(self, event: str, reason: str | None = None) -> None:
        """``POST /scheduled_events/{uuid}/cancellation`` (every invitee of the event)."""
        body = {"reason": reason} if reason else {}
        self._request("POST", f"/scheduled_events/{uuid_of(event, 'scheduled_events')}/cancellation", json=body)

    def create_invitee_no_show(self, invitee_uri: str) -> InviteeNoShow:
        """``POST /invitee_no_shows`` ``{"invitee"}``: mark the invitee as a no-show."""
        return self._post_resource(InviteeNoShow, "/invitee_no_shows", {"invitee": invitee_uri})

    def delete_invitee_no_show(self, uuid_or_uri: str) -> None:
        """``DELETE /invitee_no_shows/{uuid}``: clear the mark."""
        self._request("DELETE", f"/invitee_no_shows/{uuid_of(uuid_or_uri, 'invitee_no_shows')}")
