"""A small stateful Calendly: the OAuth token endpoint and the API endpoints calsync calls.

It behaves as Calendly documents: access tokens last 2 h, refresh tokens are single use
(reuse → 400 invalid_grant), a subscription URL may exist once per organization (409),
lists paginate, PKCE is checked when the authorization asked for it. Tests drive it through
``httpx.MockTransport``/respx; the local stack serves it over HTTP (``calsync_dev.local.fake_server``).

Tokens carry scopes (``scopes``, space-separated as in a token response; ``None`` issues
pre-2026-03 tokens that carry none and may do anything): a call outside them is 403, as
Calendly answers. ``subscription_counts`` records how many subscriptions the organization has
after every create and delete (a replacement must never reach 0).

``fail_next(path, mode)`` makes the next request to ``path`` go wrong the ways a real server
can: ``unavailable`` (503, not processed), ``processed_502`` (processed, then 502), ``lost``
(processed, then no answer: a read timeout / dropped connection), ``invalid_body`` (processed,
then a 200 that is not what the endpoint returns).

Scheduled events, invitees, routing forms and submissions list as Calendly lists them
(``calsync_dev.fake_lists``); the Scheduling API (book, cancel, no-shows) is ``calsync_dev.fake_scheduling``. ``rate_limit_every=N`` answers every Nth API request 429 with ``X-RateLimit-Reset``
(``rate_limit_reset`` seconds); ``POST /_fake/rate-limit {"every": N, "reset": s}`` arms it
over HTTP (``every: 0`` turns it off); ``POST /_fake/submissions`` adds a routing-form submission.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from calsync_dev import fake_lists as lists
from calsync_dev import fake_oauth as oauth
from calsync_dev import fake_scheduling as scheduling
from calsync_dev import fake_subscriptions as subscriptions
from calsync_dev.fake_scopes import DEFAULT_SCOPES, PLAN_REFUSES, lacking

API = "https://api.calendly.com"
FAULTS = ("unavailable", "processed_502", "lost", "invalid_body")
LOST = -1  # handle()'s status for "the answer never arrives"


@dataclass
class FakeCalendly:
    api_base: str = API
    client_id: str = "local-client-id"
    client_secret: str = "local-client-secret"  # noqa: S105 - the fake's own
    clock: Callable[[], float] = time.time
    organization: str = f"{API}/organizations/ORG000000000001"
    user: str = f"{API}/users/USER00000000001"
    personal_access_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token -> still valid
    codes: dict[str, str | None] = field(default_factory=dict)  # code -> PKCE challenge (None: no PKCE)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signing_keys: dict[str, str | None] = field(default_factory=dict)  # subscription uri -> key
    calls: list[tuple[str, str]] = field(default_factory=list)
    refresh_uses: dict[str, int] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # scheduled event uri -> resource
    invitees: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # event uri -> uri -> invitee
    submissions: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # form uri -> uri -> submission
    event_types: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # event type uri -> resource (GET /event_types)
    routing_forms_plan: bool = True  # False: the plan has no routing forms (Calendly answers 403)
    plan: str = "paid"  # fake_scopes.PLAN_REFUSES: the webhook events it refuses ("free", "standard")
    accept_any_pat: bool = False  # the local stack: any "pat-..." token is a valid PAT
    faults: list[tuple[str, str]] = field(default_factory=list)  # (path, mode), see fail_next
    token_lifetime: int = 7200  # expires_in of the tokens it issues (Calendly: 2 h)
    scopes: str | None = DEFAULT_SCOPES  # of the tokens it issues from now on (None: legacy, unscoped)
    token_scopes: dict[str, str | None] = field(default_factory=dict)  # token -> scopes it was issued with
    subscription_counts: list[int] = field(default_factory=list)  # the organization's, after each change
    code_verifiers: list[str] = field(default_factory=list)  # PKCE verifiers received
    rate_limit_every: int = 0  # every Nth API request answers 429 (0: never)
    rate_limit_reset: float = 0.0  # the X-RateLimit-Reset those answers carry (seconds)
    rate_limited: int = 0  # how many 429s it answered
    # Every answer says the user's limit as Calendly does (X-RateLimit-Limit/Remaining/Reset; 500 a
    # minute on paid plans, 50 on Free); the window is counted, not enforced (rate_limit_every does that).
    api_limit: int = 500
    _window: tuple[float, int] = (0.0, 0)  # (its start, wall clock; requests in it)
    _api_requests: int = 0
    revoked: list[str] = field(default_factory=list)  # tokens POST /oauth/revoke was asked for
    deletion_requests: list[list[str]] = field(default_factory=list)  # data-compliance deletions asked for
    enterprise: bool = True  # data-compliance deletion is an Enterprise feature (else 403)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=itertools.count)

    # -- set-up helpers -----------------------------------------------------------------

    def issue_code(self, challenge: str | None = None) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = challenge
        return code

    def fail_next(self, path: str, mode: str, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` fail as ``mode`` says (module doc)."""
        if mode not in FAULTS:
            raise ValueError(f"unknown fault {mode!r}: one of {', '.join(FAULTS)}")
        self.faults.extend([(path, mode)] * times)

    def add_booking(self, webhook_payload: dict[str, Any]) -> None:
        """Record what a webhook payload describes (invitee + embedded scheduled event), as
        the API would then list it."""
        invitee = {k: v for k, v in webhook_payload.items() if k != "scheduled_event"}
        event = dict(webhook_payload["scheduled_event"])
        self.events[event["uri"]] = event
        self.invitees.setdefault(event["uri"], {})[invitee["uri"]] = invitee

    def add_submission(self, webhook_payload: dict[str, Any]) -> None:
        """Record a routing-form submission (a ``routing_form_submission.created`` payload), as
        ``GET /routing_form_submissions?form=`` would then list it."""
        self.submissions.setdefault(webhook_payload["routing_form"], {})[webhook_payload["uri"]] = webhook_payload

    def export(self) -> dict[str, Any]:
        """What the local stack saves across restarts."""
        return {
            "access_tokens": self.access_tokens,
            "refresh_tokens": self.refresh_tokens,
            "subscriptions": self.subscriptions,
            "signing_keys": self.signing_keys,
        }

    def restore(self, state: dict[str, Any]) -> None:
        for name in ("access_tokens", "refresh_tokens", "subscriptions", "signing_keys"):
            getattr(self, name).update(state.get(name, {}))

    def issue_tokens(self, *, expires_in: int | None = None) -> dict[str, Any]:
        access, refresh = f"at-{secrets.token_hex(12)}", f"rt-{secrets.token_hex(12)}"
        now = int(self.clock())
        expires_in = self.token_lifetime if expires_in is None else expires_in
        self.access_tokens[access] = now + expires_in
        self.refresh_tokens[refresh] = True
        self.token_scopes[access] = self.scopes
        return {
            "token_type": "Bearer",
            "access_token": access,
            "refresh_token": refresh,
            **({"scope": self.scopes} if self.scopes is not None else {}),
            "created_at": now,
            "expires_in": expires_in,
            "owner": self.user,
            "organization": self.organization,
        }

    def secret_values(self) -> dict[str, list[str]]:
        """Every secret value this fake issued or was sent, by kind."""
        return {
            "access_tokens": list(self.access_tokens),
            "refresh_tokens": list(self.refresh_tokens),
            "personal_access_tokens": list(self.personal_access_tokens),
            "client_secret": [self.client_secret],
            "signing_keys": [key for key in self.signing_keys.values() if key],
            "code_verifiers": list(self.code_verifiers),
            "revoked": list(self.revoked),
        }

    def add_pat(self, scopes: str | None = DEFAULT_SCOPES) -> str:
        token = f"pat-{secrets.token_hex(16)}"
        self.personal_access_tokens.add(token)
        self.token_scopes[token] = scopes
        return token

    def _allowed(self, bearer: str, method: str, path: str) -> str | None:
        """The scope a call needs that the token lacks, or None (``calsync_dev.fake_scopes``)."""
        return lacking(self.token_scopes.get(bearer), method, path)

    def _count_subscriptions(self, organization: str | None) -> None:
        self.subscription_counts.append(
            sum(1 for s in self.subscriptions.values() if s["organization"] == organization)
        )

    # -- the HTTP surface -----------------------------------------------------------------

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """``(status, payload)``; status ``LOST`` means: answer nothing (drop the connection)."""
        with self._lock:
            path = urlsplit(url).path
            fault = next((f for f in self.faults if f[0] == path), None)
            if fault is None:
                try:
                    return self._handle(method, url, headers, body)
                except lists.BadRequest as exc:
                    return 400, {"title": "Invalid Argument", "message": str(exc)}
            self.faults.remove(fault)
            if fault[1] == "unavailable":
                self.calls.append((method, path))
                return 503, {"title": "Service Unavailable", "message": "try again later"}
            self._handle(method, url, headers, body)  # processed; what it answered never arrives
            if fault[1] == "processed_502":
                return 502, {"title": "Bad Gateway", "message": "upstream error"}
            if fault[1] == "lost":
                return LOST, None
            return 200, {"unexpected": "body"}

    def _handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        split = urlsplit(url)
        self.calls.append((method, split.path))
        if split.path == "/oauth/token" and method == "POST":
            return self._token(headers, body)
        if split.path == "/oauth/revoke" and method == "POST":
            return self._revoke(body)
        if split.path == "/oauth/authorize" and method == "GET":
            # No consent screen: the owner "approves" at once, as a redirect with a code.
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            if query.get("client_id") != self.client_id or not query.get("redirect_uri"):
                return 400, {"error": "invalid_request", "error_description": "unknown client or redirect"}
            code = self.issue_code(query.get("code_challenge"))
            target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
            return 302, {"location": target}
        if split.path == "/_fake/faults" and method == "POST":
            # Local-only: {"path": ..., "mode": ..., "times": n} arms fail_next.
            return self._arm(json.loads(body or b"{}"))
        if split.path == "/_fake/token-lifetime" and method == "POST":
            # Local-only: issue shorter-lived tokens from now on (a refresh becomes due).
            self.token_lifetime = int(json.loads(body)["expires_in"])
            return 200, {"expires_in": self.token_lifetime}
        if split.path == "/_fake/secrets" and method == "GET":
            # Local-only: every secret it issued or received, for the secrets-in-logs check.
            return 200, {"secrets": self.secret_values()}
        if split.path == "/_fake/rate-limit" and method == "POST":
            # Local-only: {"every": n, "reset": seconds} answers every nth API request 429.
            request = json.loads(body or b"{}")
            self.rate_limit_every = int(request.get("every", 0))
            self.rate_limit_reset = float(request.get("reset", 0))
            self._api_requests = 0
            return 200, {"every": self.rate_limit_every, "reset": self.rate_limit_reset}
        if split.path == "/_fake/subscriptions" and method == "POST":
            # Local-only: {"callback_url": ..., "state": "disabled", "retry_started_at": ...} sets
            # those fields on the subscriptions whose callback URL starts with callback_url.
            return self._set_subscriptions(json.loads(body or b"{}"))
        if split.path == "/_fake/bookings" and method == "POST":
            # Local-only: make the API list a booking (a webhook payload), e.g. one whose
            # webhook was lost, to try `calsync backfill`.
            self.add_booking(json.loads(body))
            return 201, {"status": "added"}
        if split.path == "/_fake/event_types" and method == "POST":
            # Local-only: make the API list an event type (a GET /event_types item or an
            # event_type.* payload), e.g. one renamed without its webhook, for the reconcile.
            resource = json.loads(body)
            self.event_types[resource["uri"]] = resource
            return 201, {"status": "added"}
        if split.path == "/_fake/plan" and method == "POST":  # local-only: {"plan": "free"|"standard"|"paid"}
            plan = str(json.loads(body).get("plan", "paid"))
            if plan not in PLAN_REFUSES:
                return 400, {"title": "Invalid Argument", "message": f"plan: one of {', '.join(PLAN_REFUSES)}"}
            self.plan = plan
            return 200, {"plan": plan}
        if split.path == "/_fake/submissions" and method == "POST":
            # Local-only: make the API list a routing-form submission (a webhook payload).
            self.add_submission(json.loads(body))
            return 201, {"status": "added"}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if not self._authorized(bearer):
            return 401, {"title": "Unauthenticated", "message": "The access token is invalid"}
        missing = self._allowed(bearer, method, split.path)
        if missing is not None:
            return 403, {"title": "Permission Denied", "message": f"This request requires the {missing} scope"}
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if self.rate_limit_every:
            self._api_requests += 1
            if self._api_requests % self.rate_limit_every == 0:
                self.rate_limited += 1
                return 429, {"title": "Too Many Requests", "message": "rate limit exceeded"}
        if split.path == "/users/me" and method == "GET":
            return 200, {"resource": self._user()}
        if (scheduled := scheduling.handle(self, method, split.path, body)) is not None:
            return scheduled
        if split.path == "/event_types" and method == "GET":  # the organization's, by name (Calendly's default sort)
            mine = query.get("organization") in (None, self.organization)
            items = sorted(self.event_types.values(), key=lambda e: (str(e.get("name")), e["uri"])) if mine else []
            return 200, self._page(items, query, split.path)
        if split.path == "/scheduled_events" and method == "GET":
            mine = query.get("organization") in (None, self.organization)
            return 200, self._page(lists.scheduled_events(self.events, query) if mine else [], query, split.path)
        if split.path.startswith("/scheduled_events/") and split.path.endswith("/invitees") and method == "GET":
            items = lists.event_invitees(self.invitees, split.path.split("/")[2])
            return 200, self._page(items, query, split.path)
        if split.path.startswith("/routing_form") and method == "GET" and split.path.count("/") == 1:
            return self._routing(split.path, query)
        if split.path == "/data_compliance/deletion/invitees" and method == "POST":
            return self._delete_invitees(json.loads(body or b"{}"))
        if split.path == "/webhook_subscriptions" and method == "GET":
            items = [s for s in self.subscriptions.values() if s["organization"] == query.get("organization")]
            return 200, {"collection": items, "pagination": {"count": len(items), "next_page": None}}
        if split.path == "/webhook_subscriptions" and method == "POST":
            return self._subscribe(json.loads(body or b"{}"), bearer)
        if split.path.startswith("/webhook_subscriptions/"):
            uri = f"{self.api_base}{split.path}"
            if uri not in self.subscriptions:
                return 404, {"title": "Resource Not Found", "message": "The server could not find the resource"}
            if method == "DELETE":
                organization = self.subscriptions.pop(uri)["organization"]
                self._count_subscriptions(organization)
                return 204, None
            return 200, {"resource": self.subscriptions[uri]}
        return 404, {"title": "Resource Not Found", "message": f"no fake for {method} {split.path}"}

    def _routing(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """``GET /routing_forms?organization=`` and ``GET /routing_form_submissions?form=``,
        sorted by ``created_at`` (``sort=created_at:desc`` newest first)."""
        if not self.routing_forms_plan:
            return 403, {"title": "Permission Denied", "message": "Routing forms are not available on this plan"}
        items = lists.routing(self.submissions, self.organization, path, query)
        return (200, self._page(items, query, path)) if items is not None else (400, lists.FORM_REQUIRED)

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], path: str) -> dict[str, Any]:
        return lists.page(items, query, f"{self.api_base}{path}")

    def _set_subscriptions(self, request: dict[str, Any]) -> tuple[int, Any]:
        prefix = request.get("callback_url")
        changes: dict[str, Any] = {k: request[k] for k in ("state", "retry_started_at") if k in request}
        if not isinstance(prefix, str) or not changes:
            return 400, {"title": "Invalid Argument", "message": "callback_url and state or retry_started_at"}
        changed = [s for s in self.subscriptions.values() if s["callback_url"].startswith(prefix)]
        for subscription in changed:
            subscription.update(changes)
        return 200, {"changed": len(changed)}

    def _delete_invitees(self, request: dict[str, Any]) -> tuple[int, Any]:
        if not self.enterprise:
            return 403, {"title": "Permission Denied", "message": "This feature requires an Enterprise plan"}
        emails = request.get("emails")
        if not isinstance(emails, list) or not emails or not all(isinstance(e, str) for e in emails):
            return 400, {"title": "Invalid Argument", "message": "emails: a non-empty list of addresses"}
        self.deletion_requests.append(list(emails))
        return 202, {}

    def _arm(self, request: dict[str, Any]) -> tuple[int, Any]:
        path, mode, times = request.get("path"), request.get("mode"), request.get("times", 1)
        if not isinstance(path, str) or mode not in FAULTS or not isinstance(times, int) or times < 1:
            return 400, {"title": "Invalid Argument", "message": f"path, mode (one of {', '.join(FAULTS)}), times"}
        self.faults.extend([(path, str(mode))] * times)
        return 201, {"status": "armed"}

    def _authorized(self, bearer: str) -> bool:
        if bearer in self.personal_access_tokens or (self.accept_any_pat and bearer.startswith("pat-")):
            return True
        expires = self.access_tokens.get(bearer)
        return expires is not None and expires > self.clock()

    def _user(self) -> dict[str, Any]:
        return {
            "uri": self.user,
            "name": "Local Owner",
            "slug": "local-owner",
            "email": "owner@example.com",
            "scheduling_url": "https://calendly.com/local-owner",
            "timezone": "UTC",
            "current_organization": self.organization,
            "resource_type": "User",
        }

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        return oauth.token(self, headers, body)

    def _revoke(self, body: bytes) -> tuple[int, Any]:
        return oauth.revoke(self, body)

    def _subscribe(self, request: dict[str, Any], bearer: str = "") -> tuple[int, Any]:
        return subscriptions.subscribe(self, request, bearer)

    # -- adapters -------------------------------------------------------------------------

    def httpx_handler(self, request: Any) -> Any:
        """For ``httpx.MockTransport`` / respx ``side_effect``."""
        import httpx

        status, payload = self.handle(
            request.method, str(request.url), {k.lower(): v for k, v in request.headers.items()}, request.content
        )
        if status == LOST:
            raise httpx.ReadTimeout("the fake lost the answer", request=request)
        headers = self.headers_for(status)
        return (
            httpx.Response(status, json=payload, headers=headers)
            if payload is not None
            else httpx.Response(status, headers=headers)
        )

    def headers_for(self, status: int) -> dict[str, str]:
        if status == 429:
            return {"X-RateLimit-Reset": f"{self.rate_limit_reset:g}"}
        now = time.time()
        start, used = self._window if now - self._window[0] < 60 else (now, 0)
        self._window = (start, used + 1)
        return {
            "X-RateLimit-Limit": str(self.api_limit),
            "X-RateLimit-Remaining": str(max(0, self.api_limit - used - 1)),
            "X-RateLimit-Reset": str(max(1, round(start + 60 - now))),
        }
