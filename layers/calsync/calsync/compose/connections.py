"""Connections: the registry, tokens, signing keys, the OAuth app, Calendly clients on a connection's token; the refresher, the watchdog and the OAuth callback build from here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.calendly.limits import INTERACTIVE, CallLimits
from calsync.compose.intake import signing_keys
from calsync.connections.each import RemainingMs, seconds_left

if TYPE_CHECKING:
    from calsync.calendly.client import CalendlyClient
    from calsync.calendly.oauth import LazyOAuth, OAuthClient
    from calsync.connections.aws_registry import DynamoConnectionRegistry
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
    from calsync.connections.budget import RateBudget
    from calsync.connections.connect import Connector
    from calsync.connections.disconnect import Disconnector
    from calsync.connections.gaps import Gap
    from calsync.connections.records import Connection
    from calsync.connections.refresh import Refresher, TokenCallLimits
    from calsync.connections.watchdog import Health, Watchdog
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys
    from calsync.reconcile.aws_requests import SqsReconcileRequests


@dataclass(frozen=True, slots=True)
class Connections:
    settings: config.ConnectionSettings
    registry: DynamoConnectionRegistry
    tokens: SecretsManagerTokenStore
    signing_keys: SecretsManagerSigningKeys
    oauth_app: SecretsManagerOAuthApp
    calendly_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. a test transport
    # How long one Calendly call may take (calendly/limits.py): fits the OAuth callback's 30 s.
    calendly_limits: CallLimits = INTERACTIVE
    # The connections' shared Calendly budgets (connections.budget): when set, every client
    # ``calendly_for`` builds asks the connection's budget before each request and teaches it
    # every answer's X-RateLimit-* headers (the fanned-out workers; the CLI goes without).
    rate_budget: Callable[[str], RateBudget] | None = None

    def connector(self, clock: Callable[[], float] = time.time) -> Connector:
        from calsync.connections.connect import Connector

        return Connector(self.registry, self.tokens, self.signing_keys, clock=clock)

    def oauth_client(self, limits: TokenCallLimits | None = None) -> OAuthClient:
        """The token endpoint with the OAuth app's credentials (reads the app secret), within ``limits``."""
        from calsync.calendly.oauth import OAuthClient

        app, bounded = self.oauth_app.get(), (limits or self.calendly_limits).options()
        options = {**bounded, **self.calendly_options}
        return OAuthClient(app.client_id, app.client_secret, token_url=self.settings.calendly_token_url, **options)

    def lazy_oauth(self, limits: TokenCallLimits | None = None) -> LazyOAuth:
        from calsync.calendly.oauth import LazyOAuth

        return LazyOAuth(lambda: self.oauth_client(limits))

    def calendly_with_token(self, token: str) -> CalendlyClient:
        return self._calendly(lambda: token)

    def calendly_for(self, connection: Connection, limits: CallLimits | None = None, **options: Any) -> CalendlyClient:
        """A client on the connection's stored token (cached briefly, refetched on a 401), within
        ``limits`` (default: the service's); ``options`` for the client (the reconciler's hooks)."""
        from calsync.connections.aws_tokens import CachedToken

        cached = CachedToken(self.tokens, connection.connection_id)
        if self.rate_budget is not None:
            options = with_budget(self.rate_budget(connection.connection_id), options)
        return self._calendly(cached.get, limits, on_unauthorized=cached.refetch, **options)

    def _calendly(self, token: Callable[[], str], limits: CallLimits | None = None, **options: Any) -> CalendlyClient:
        from calsync.calendly.client import CalendlyClient

        bounded = (limits or self.calendly_limits).options()
        url = self.settings.calendly_api_url
        return CalendlyClient(token, base_url=url, **{**bounded, **self.calendly_options, **options})

    def signing_key_for(self, connection: Connection) -> str | None:
        """PAT subscriptions are created with calsync's own key; OAuth ones use the app's."""
        if connection.kind != "pat":
            return None
        keys = self.signing_keys.keys_for(connection.connection_id)
        return keys[0].decode() if keys else None

    @contextmanager
    def refresher(
        self, remaining_ms: RemainingMs, *, owner: str, report: Callable[[str, Connection, str], None]
    ) -> Iterator[Refresher]:
        """The token refresher (its token endpoint, within the refresher's limits, closed after)."""
        from calsync.connections.refresh import TOKEN_CALL, Refresher

        with self.lazy_oauth(TOKEN_CALL) as oauth:
            yield Refresher(
                self.registry,
                self.tokens,
                oauth,
                owner,
                time_left=seconds_left(remaining_ms),
                report=report,
                token_budget=self.rate_budget,
            )


def with_budget(budget: RateBudget, options: dict[str, Any]) -> dict[str, Any]:
    """Client options that ask ``budget`` before each request (then any ``on_request`` given:
    a reconcile run's own budget) and teach it each answer's rate-limit headers."""
    from calsync.connections.budget import RateHeaders

    also: Callable[[], None] | None = options.get("on_request")

    def before() -> None:
        budget.before_call()
        if also is not None:
            also()

    def answered(status: int, headers: Mapping[str, str]) -> None:
        budget.after_answer(RateHeaders.from_headers(status, headers))

    return {**options, "on_request": before, "on_answer": answered}


def connection_registry(table_name: str, **aws: Unpack[Aws]) -> DynamoConnectionRegistry:
    from calsync.connections.aws_registry import DynamoConnectionRegistry

    return DynamoConnectionRegistry(table_name, aws.get("dynamodb"))


def connections(
    settings: config.ConnectionSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    **aws: Unpack[Aws],
) -> Connections:
    from calsync.compose.fanout import rate_budget_for, rate_budgets
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore

    secretsmanager = aws.get("secretsmanager")
    # Fanned out (a work queue set): every Calendly call goes through the connection's shared budget.
    budget = rate_budget_for(rate_budgets(settings, **aws), settings) if settings.work_queue_url else None
    return Connections(
        settings=settings,
        registry=connection_registry(settings.bookings_table_name, dynamodb=aws.get("dynamodb")),
        tokens=SecretsManagerTokenStore(settings.token_secret_prefix, client=secretsmanager),
        # Connect writes these keys and may read them back at once: cache for a second only.
        signing_keys=signing_keys(settings.signing_key_prefix, ttl_seconds=1, secretsmanager=secretsmanager),
        oauth_app=SecretsManagerOAuthApp(settings.oauth_app_secret_name, client=secretsmanager),
        calendly_options=dict(calendly_options or {}),
        rate_budget=budget,
    )


def disconnector(
    settings: config.ConnectionSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
    **aws: Unpack[Aws],
) -> Disconnector:
    """The disconnect use case (``DELETE /v1/connections/{id}``, ``calsync disconnect``)."""
    from calsync.connections.aws_tenant_data import DynamoTenantData
    from calsync.connections.aws_tokens import SecretsManagerSecrets
    from calsync.connections.disconnect import Disconnector

    c = connections(settings, calendly_options=calendly_options, **aws)
    return Disconnector(
        c.registry,
        c.tokens,
        SecretsManagerSecrets(client=aws.get("secretsmanager")),
        calendly_for=c.calendly_for,
        revoker=c.oauth_client,
        data=DynamoTenantData(settings.bookings_table_name, aws.get("dynamodb")),
        clock=clock,
    )


def reconcile_requests(
    settings: config.WatchdogSettings | config.ReconcilerSettings, **aws: Unpack[Aws]
) -> SqsReconcileRequests:
    """The reconcile-requests queue: the watchdog asks for gap reconciles, the reconciler continues."""
    from calsync.reconcile.aws_requests import SqsReconcileRequests

    return SqsReconcileRequests(settings.reconcile_requests_queue_url, aws.get("sqs"))


def watchdog(
    settings: config.WatchdogSettings,
    *,
    report: Callable[[Health, Connection, str], None],
    report_gap: Callable[[Connection, Gap, str | None], None],
    **aws: Unpack[Aws],
) -> Watchdog:
    """The subscription watchdog (``run(time_left)`` checks every connection)."""
    from calsync.connections.watchdog import Watchdog

    c, margin = connections(settings, **aws), timedelta(seconds=settings.gap_margin_seconds)
    requests = reconcile_requests(settings, **aws)
    return Watchdog(
        c.registry, c.calendly_for, c.signing_key_for, requests, margin, report=report, report_gap=report_gap
    )


@dataclass(frozen=True, slots=True)
class ConnectApi:
    """``POST /v1/connections``: where pending authorizations go, the OAuth app, a connection's
    status, the allowed ``return_to`` origins and Calendly's authorize URL."""

    registry: DynamoConnectionRegistry
    oauth_app: SecretsManagerOAuthApp
    status_of: Callable[[str], str | None]
    return_origins: frozenset[str]
    authorize_url: str


def connect_api(settings: config.ConnectApiSettings, **aws: Unpack[Aws]) -> ConnectApi:
    from calsync.connections.aws_registry import DynamoConnectionStatus
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp
    from calsync.connections.return_to import parse_origins

    dynamodb = aws.get("dynamodb")
    return ConnectApi(
        registry=connection_registry(settings.bookings_table_name, dynamodb=dynamodb),
        oauth_app=SecretsManagerOAuthApp(settings.oauth_app_secret_name, client=aws.get("secretsmanager")),
        status_of=DynamoConnectionStatus(settings.bookings_table_name, dynamodb).status,
        return_origins=parse_origins(settings.connect_return_origins),
        authorize_url=settings.calendly_authorize_url,
    )
