"""The composition root: the one place that joins domain code to its adapters.

Plain factories take settings and, optionally, ready-made boto3 clients (tests, the CLI's
``--stack`` session, the local stack) and return the services a function needs. Handlers
cache the result per cold start. Adapters are imported inside each factory, so a function
loads only what it uses (the receiver never imports httpx).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from calsync.aws import clients
from calsync.calendly.limits import INTERACTIVE, RECONCILE, CallLimits
from calsync.config import (
    ConnectionSettings,
    ForwarderSettings,
    ProcessorSettings,
    PublisherSettings,
    ReceiverSettings,
    ReconcilerSettings,
    ReminderSettings,
    SlackSettings,
    WatchdogSettings,
)
from calsync.intake.delivery import QUEUE_MESSAGE_MAX_BYTES
from calsync.intake.receive import ReceiverLimits
from calsync.intake.routing import QueueKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.bookings.aws_bookings import DynamoBookingsRepository
    from calsync.calendly.client import CalendlyClient
    from calsync.calendly.oauth import LazyOAuth, OAuthClient
    from calsync.connections.aws_registry import DynamoConnectionRegistry
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
    from calsync.connections.connect import Connector
    from calsync.connections.each import Failure
    from calsync.connections.gaps import Gap
    from calsync.connections.records import Connection
    from calsync.connections.refresh import Refresher, TokenCallLimits
    from calsync.connections.watchdog import Health, Watchdog
    from calsync.erasure.aws_tombstones import Tombstones
    from calsync.intake.aws_bodies import S3DeliveryBodies
    from calsync.intake.aws_queues import SqsDeliveryQueue
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_ledger import DynamoLedger
    from calsync.lifecycle.aws_scheduler import SchedulerReminders
    from calsync.lifecycle.aws_stream import TableImages
    from calsync.reconcile.aws_requests import SqsReconcileRequests
    from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings
    from calsync.reconcile.budget import Budget
    from calsync.reconcile.report import Report
    from calsync.reconcile.run import IsErased, Reconciler
    from calsync.reconcile.scheduled import Jobs


type RemainingMs = Callable[[], int]  # the invocation's time left (the Lambda context's get_remaining_time_in_millis)


def seconds(remaining_ms: RemainingMs) -> Callable[[], float]:
    """The scheduled jobs' ``time_left`` (``connections.each``)."""
    return lambda: remaining_ms() / 1000


# --- receiver ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receiver:
    keys: SecretsManagerSigningKeys
    queue: SqsDeliveryQueue
    limits: ReceiverLimits


def delivery_bodies(bucket: str | None, *, s3: S3Client | None = None) -> S3DeliveryBodies | None:
    """The bucket of bodies too large for a queue message (None where none is configured)."""
    from calsync.intake.aws_bodies import S3DeliveryBodies

    return S3DeliveryBodies(bucket, s3) if bucket else None


def delivery_queue(
    queue_urls: Mapping[QueueKind, str],
    *,
    sqs: SQSClient | None = None,
    bodies_bucket: str | None = None,
    max_message_bytes: int = QUEUE_MESSAGE_MAX_BYTES,
) -> SqsDeliveryQueue:
    """The intake queues; a body too large for a message goes to ``bodies_bucket`` (by key)."""
    from calsync.intake.aws_queues import SqsDeliveryQueue

    return SqsDeliveryQueue(queue_urls, sqs, bodies=delivery_bodies(bodies_bucket), max_message_bytes=max_message_bytes)


def _intake(settings: ReceiverSettings | ReconcilerSettings, sqs: SQSClient | None) -> SqsDeliveryQueue:
    bucket, limit = settings.delivery_bodies_bucket, settings.queue_message_max_bytes
    return delivery_queue(settings.queue_urls, sqs=sqs, bodies_bucket=bucket, max_message_bytes=limit)


def receiver(
    settings: ReceiverSettings,
    *,
    sqs: SQSClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
    dynamodb: DynamoDBClient | None = None,
) -> Receiver:
    from calsync.connections.aws_registry import DynamoConnectionIds
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys

    clients.use(clients.RECEIVER)  # a hanging AWS call is a 503 within ~5 s (aws/clients.py)
    return Receiver(
        # An id not in the cache costs a key-only read of its registry record; Secrets Manager
        # is read for registered connections only (forged ids cannot starve real ones).
        keys=SecretsManagerSigningKeys(
            settings.signing_key_prefix,
            ttl_seconds=settings.signing_key_cache_seconds,
            client=secretsmanager,
            exists=DynamoConnectionIds(settings.bookings_table_name, dynamodb).exists,
        ),
        queue=_intake(settings, sqs),
        limits=ReceiverLimits(settings.signature_tolerance_seconds, settings.max_body_bytes),
    )


# --- processors -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Processor:
    repository: DynamoBookingsRepository
    archive_ttl: timedelta
    tombstones: Tombstones  # its ``is_erased`` refuses deliveries about erased people
    bodies: S3DeliveryBodies | None = None  # bodies too large for a message, read back by key


def bookings_repository(table_name: str, *, dynamodb: DynamoDBClient | None = None) -> DynamoBookingsRepository:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository

    return DynamoBookingsRepository(table_name, dynamodb)


def processor(
    settings: ProcessorSettings,
    *,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> Processor:
    clients.use(clients.BATCH)
    return Processor(
        repository=bookings_repository(settings.bookings_table_name, dynamodb=dynamodb),
        archive_ttl=timedelta(days=settings.archive_ttl_days),
        tombstones=tombstones(
            settings.bookings_table_name,
            settings.erasure_key_secret_name,
            dynamodb=dynamodb,
            secretsmanager=secretsmanager,
        ),
        bodies=delivery_bodies(settings.delivery_bodies_bucket),
    )


# --- erasure (processors, the reconciler, ``calsync erase``) -----------------------------------


def tombstones(
    table_name: str,
    erasure_key_secret_name: str,
    *,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
) -> Tombstones:
    """Erased people: ``.is_erased(email, at)`` is the check the processors and the reconciler
    use (one GetItem; the hash key read once per cold start)."""
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.erasure.aws_tombstones import Tombstones

    key = CachedJsonSecret(erasure_key_secret_name, client=secretsmanager, ttl_seconds=float("inf"), what="erasure key")
    return Tombstones(table_name, key, dynamodb)


# --- lifecycle publisher ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminders:
    images: TableImages
    bus: EventBridgePublisher


def reminders(
    settings: ReminderSettings, *, dynamodb: DynamoDBClient | None = None, events: EventBridgeClient | None = None
) -> Reminders:
    """The reminder function's services: read the booking back, publish on the bus."""
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_stream import TableImages

    clients.use(clients.BATCH)
    return Reminders(
        TableImages(settings.bookings_table_name, dynamodb), EventBridgePublisher(settings.event_bus_name, events)
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Publisher:
    images: TableImages
    bus: EventBridgePublisher
    schedules: SchedulerReminders
    leads: tuple[int, ...]
    ended_window: timedelta  # a booking first stored after its end: Booking Ended at once if that recent
    clock: Callable[[], datetime] = utc_now  # what reminders are planned against (tests pass their own)


def publisher(
    settings: PublisherSettings,
    *,
    dynamodb: DynamoDBClient | None = None,
    events: EventBridgeClient | None = None,
    scheduler: EventBridgeSchedulerClient | None = None,
) -> Publisher:
    """The lifecycle publisher's services: what reminders have, and where they are scheduled."""
    from calsync.lifecycle.aws_scheduler import SchedulerReminders

    base = reminders(settings, dynamodb=dynamodb, events=events)
    return Publisher(
        images=base.images,
        bus=base.bus,
        schedules=SchedulerReminders(
            settings.schedule_group_name,
            settings.reminder_target_arn,
            settings.scheduler_role_arn,
            scheduler,
            dead_letter_arn=settings.reminder_dlq_arn,
        ),
        leads=settings.reminder_lead_seconds,
        ended_window=timedelta(days=settings.late_ended_window_days),
    )


# --- consumers: Slack and the signed HTTP forwarder ---------------------------------------------


def slack_endpoint(settings: SlackSettings, *, secretsmanager: SecretsManagerClient | None = None) -> CachedJsonSecret:
    from calsync.aws.secret_json import CachedJsonSecret

    clients.use(clients.BATCH)
    return CachedJsonSecret(settings.slack_secret_name, client=secretsmanager, what="slack")


def forward_endpoint(
    settings: ForwarderSettings, *, secretsmanager: SecretsManagerClient | None = None
) -> CachedJsonSecret:
    from calsync.aws.secret_json import CachedJsonSecret

    clients.use(clients.BATCH)
    return CachedJsonSecret(settings.forward_secret_name, client=secretsmanager, what="forward")


SLACK_CONSUMER, FORWARD_CONSUMER = "slack", "forward"  # their claims' key prefixes (template.yaml's IAM)


def delivery_ledger(
    settings: SlackSettings | ForwarderSettings, consumer: str, *, dynamodb: DynamoDBClient | None = None
) -> DynamoLedger:
    """Where a consumer claims each event it delivers, so it delivers each ``event_id`` once."""
    from calsync.lifecycle.aws_ledger import DynamoLedger

    return DynamoLedger(settings.bookings_table_name, consumer, dynamodb)


# --- connections (refresher, watchdog, OAuth callback, CLI) -----------------------------------


@dataclass(frozen=True, slots=True)
class Connections:
    settings: ConnectionSettings
    registry: DynamoConnectionRegistry
    tokens: SecretsManagerTokenStore
    signing_keys: SecretsManagerSigningKeys
    oauth_app: SecretsManagerOAuthApp
    calendly_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. a test transport
    # How long one Calendly call may take (calendly/limits.py): fits the OAuth callback's 30 s.
    calendly_limits: CallLimits = INTERACTIVE

    def connector(self, clock: Callable[[], float] = time.time) -> Connector:
        from calsync.connections.connect import Connector

        return Connector(self.registry, self.tokens, self.signing_keys, clock=clock)

    def oauth_client(self, limits: TokenCallLimits | None = None) -> OAuthClient:
        """The token endpoint with the OAuth app's credentials (reads the app secret);
        ``limits`` bound how long one token request may take (the refresher's budget)."""
        from calsync.calendly.oauth import OAuthClient

        app = self.oauth_app.get()
        bounded: dict[str, Any] = self.calendly_limits.options()
        if limits is not None:
            bounded = {
                "timeout": limits.read_seconds,
                "connect_timeout": limits.connect_seconds,
                "max_retries": limits.max_retries,
                "max_rate_limit_wait": limits.max_rate_limit_wait,
            }
        return OAuthClient(
            app.client_id,
            app.client_secret,
            token_url=self.settings.calendly_token_url,
            **{**bounded, **self.calendly_options},
        )

    def lazy_oauth(self, limits: TokenCallLimits | None = None) -> LazyOAuth:
        from calsync.calendly.oauth import LazyOAuth

        return LazyOAuth(lambda: self.oauth_client(limits))

    @contextmanager
    def refresher(
        self, remaining_ms: RemainingMs, *, owner: str, report: Callable[[str, Connection, str], None]
    ) -> Iterator[Refresher]:
        """The token refresher (its token endpoint, within the refresher's limits, closed after)."""
        from calsync.connections.refresh import TOKEN_CALL, Refresher

        with self.lazy_oauth(TOKEN_CALL) as oauth:
            yield Refresher(self.registry, self.tokens, oauth, owner, time_left=seconds(remaining_ms), report=report)

    def calendly_with_token(self, token: str) -> CalendlyClient:
        from calsync.calendly.client import CalendlyClient

        return CalendlyClient(
            lambda: token,
            base_url=self.settings.calendly_api_url,
            **{**self.calendly_limits.options(), **self.calendly_options},
        )

    def calendly_for(self, connection: Connection, limits: CallLimits | None = None, **options: Any) -> CalendlyClient:
        """A client backed by the connection's stored token (cached briefly, refetched on a 401),
        within ``limits`` (default: the service's); ``options`` for the client (e.g. the
        reconciler's budget hooks)."""
        from calsync.calendly.client import CalendlyClient
        from calsync.connections.aws_tokens import CachedToken

        cached = CachedToken(self.tokens, connection.connection_id)
        return CalendlyClient(
            cached.get,
            on_unauthorized=cached.refetch,
            base_url=self.settings.calendly_api_url,
            **{**(limits or self.calendly_limits).options(), **self.calendly_options, **options},
        )

    def signing_key_for(self, connection: Connection) -> str | None:
        """PAT subscriptions are created with calsync's own key; OAuth ones use the app's."""
        if connection.kind != "pat":
            return None
        keys = self.signing_keys.keys_for(connection.connection_id)
        return keys[0].decode() if keys else None


def connections(
    settings: ConnectionSettings,
    *,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
    calendly_options: Mapping[str, Any] | None = None,
) -> Connections:
    from calsync.connections.aws_registry import DynamoConnectionRegistry
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys

    return Connections(
        settings=settings,
        registry=DynamoConnectionRegistry(settings.bookings_table_name, dynamodb),
        tokens=SecretsManagerTokenStore(settings.token_secret_prefix, client=secretsmanager),
        # Connect writes these keys and may read them back at once: cache for a second only.
        signing_keys=SecretsManagerSigningKeys(settings.signing_key_prefix, ttl_seconds=1, client=secretsmanager),
        oauth_app=SecretsManagerOAuthApp(settings.oauth_app_secret_name, client=secretsmanager),
        calendly_options=dict(calendly_options or {}),
    )


def reconcile_requests(
    settings: WatchdogSettings | ReconcilerSettings, *, sqs: SQSClient | None = None
) -> SqsReconcileRequests:
    """The reconcile-requests queue: the watchdog asks for gap reconciles there, the reconciler
    sends its continuations."""
    from calsync.reconcile.aws_requests import SqsReconcileRequests

    return SqsReconcileRequests(settings.reconcile_requests_queue_url, sqs)


@dataclass(frozen=True, slots=True)
class Watching:
    connections: Connections
    requests: SqsReconcileRequests
    gap_margin: timedelta

    def watchdog(
        self,
        remaining_ms: RemainingMs,
        *,
        report: Callable[[Health, Connection, str], None],
        report_gap: Callable[[Connection, Gap, str | None], None],
    ) -> Watchdog:
        from calsync.connections.watchdog import Watchdog

        c = self.connections
        return Watchdog(
            c.registry,
            c.calendly_for,
            c.signing_key_for,
            self.requests,
            gap_margin=self.gap_margin,
            time_left=seconds(remaining_ms),
            report=report,
            report_gap=report_gap,
        )


def watching(
    settings: WatchdogSettings,
    *,
    dynamodb: DynamoDBClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
    sqs: SQSClient | None = None,
) -> Watching:
    """The subscription watchdog's services."""
    return Watching(
        connections(settings, dynamodb=dynamodb, secretsmanager=secretsmanager),
        reconcile_requests(settings, sqs=sqs),
        timedelta(seconds=settings.gap_margin_seconds),
    )


# --- reconciler -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reconciling:
    settings: ReconcilerSettings
    connections: Connections
    stored: DynamoStoredBookings
    state: DynamoReconcileState
    queue: SqsDeliveryQueue
    requests: SqsReconcileRequests
    tombstones: Tombstones

    def reconciler_for(
        self,
        connection: Connection,
        budget: Budget,
        *,
        is_erased: IsErased | None = None,
        on_event: Callable[[Any], None] | None = None,
    ) -> tuple[Reconciler, CalendlyClient]:
        """A reconciler on the connection's token whose client spends ``budget`` on every
        request (retries included) and waits out a 429 only within its deadline. Close the
        client when done."""
        from calsync.reconcile.run import Reconciler

        client = self.connections.calendly_for(
            connection, limits=RECONCILE, on_request=budget.spend, sleep=budget.sleep
        )
        reconciler = Reconciler(
            calendly=client,
            stored=self.stored,
            queue=self.queue,
            budget=budget,
            is_erased=is_erased or self.tombstones.is_erased,
            on_event=on_event,
        )
        return reconciler, client

    def jobs(
        self,
        remaining_ms: RemainingMs,
        *,
        report: Callable[[Report], None],
        failed: Callable[[Connection, Failure], None],
    ) -> Jobs:
        """The function's scheduled and requested runs, within the invocation's remaining time."""
        from calsync.reconcile.scheduled import Jobs

        s = self.settings
        return Jobs(
            self.connections.registry,
            self.reconciler_for,
            self.state,
            self.requests,
            api_calls=s.reconcile_api_calls,
            upcoming_days=s.reconcile_upcoming_days,
            recent_days=s.reconcile_recent_days,
            time_left=seconds(remaining_ms),
            report=report,
            failed=failed,
        )


def reconciling(
    settings: ReconcilerSettings,
    *,
    dynamodb: DynamoDBClient | None = None,
    sqs: SQSClient | None = None,
    secretsmanager: SecretsManagerClient | None = None,
    calendly_options: Mapping[str, Any] | None = None,
) -> Reconciling:
    """The reconciler's services (the function, ``calsync reconcile`` and the tests)."""
    from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings

    return Reconciling(
        settings=settings,
        connections=connections(
            settings, dynamodb=dynamodb, secretsmanager=secretsmanager, calendly_options=calendly_options
        ),
        stored=DynamoStoredBookings(bookings_repository(settings.bookings_table_name, dynamodb=dynamodb)),
        state=DynamoReconcileState(settings.bookings_table_name, dynamodb),
        queue=_intake(settings, sqs),
        requests=reconcile_requests(settings, sqs=sqs),
        tombstones=tombstones(
            settings.bookings_table_name,
            settings.erasure_key_secret_name,
            dynamodb=dynamodb,
            secretsmanager=secretsmanager,
        ),
    )
