"""The composition root: the one place that joins domain code to its adapters.

Plain factories take settings and, optionally, ready-made boto3 clients (``Aws``: tests, the
CLI's ``--stack`` session, the local stack) and return the services a function needs. Handlers
cache the result per cold start. Adapters are imported inside each factory, so a function
loads only what it uses (the receiver never imports httpx).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

from calsync import config
from calsync.aws import clients
from calsync.aws.clients import Aws
from calsync.calendly.limits import INTERACTIVE, RECONCILE, CallLimits
from calsync.connections.each import RemainingMs, seconds_left
from calsync.intake.delivery import QUEUE_MESSAGE_MAX_BYTES
from calsync.intake.receive import ReceiverLimits
from calsync.intake.routing import QueueKind

if TYPE_CHECKING:
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.bookings.aws_bookings import DynamoBookingsRepository
    from calsync.calendly.client import CalendlyClient
    from calsync.calendly.oauth import LazyOAuth, OAuthClient
    from calsync.connections.aws_registry import DynamoConnectionRegistry
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
    from calsync.connections.connect import Connector
    from calsync.connections.gaps import Gap
    from calsync.connections.records import Connection
    from calsync.connections.refresh import Refresher, TokenCallLimits
    from calsync.connections.watchdog import Health, Watchdog
    from calsync.erasure.aws_tombstones import DynamoTombstones
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
    from calsync.reconcile.run import Reconciler
    from calsync.reconcile.scheduled import Jobs


# --- receiver ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receiver:
    keys: SecretsManagerSigningKeys
    queue: SqsDeliveryQueue
    limits: ReceiverLimits


def delivery_bodies(bucket: str | None, **aws: Unpack[Aws]) -> S3DeliveryBodies | None:
    """The bucket of bodies too large for a queue message (None where none is configured)."""
    from calsync.intake.aws_bodies import S3DeliveryBodies

    return S3DeliveryBodies(bucket, aws.get("s3")) if bucket else None


def delivery_queue(
    queue_urls: Mapping[QueueKind, str],
    *,
    bodies_bucket: str | None = None,
    max_message_bytes: int = QUEUE_MESSAGE_MAX_BYTES,
    **aws: Unpack[Aws],
) -> SqsDeliveryQueue:
    """The intake queues; a body too large for a message goes to ``bodies_bucket`` (by key)."""
    from calsync.intake.aws_queues import SqsDeliveryQueue

    bodies = delivery_bodies(bodies_bucket, **aws)
    return SqsDeliveryQueue(queue_urls, aws.get("sqs"), bodies=bodies, max_message_bytes=max_message_bytes)


def _intake(settings: config.ReceiverSettings | config.ReconcilerSettings, aws: Aws) -> SqsDeliveryQueue:
    bucket, limit = settings.delivery_bodies_bucket, settings.queue_message_max_bytes
    return delivery_queue(settings.queue_urls, bodies_bucket=bucket, max_message_bytes=limit, **aws)


def signing_keys(
    prefix: str, *, ttl_seconds: float, exists: Callable[[str], bool] | None = None, **aws: Unpack[Aws]
) -> SecretsManagerSigningKeys:
    """Webhook signing keys, cached ``ttl_seconds``; ``exists`` vets an id before Secrets Manager."""
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys

    return SecretsManagerSigningKeys(prefix, ttl_seconds=ttl_seconds, client=aws.get("secretsmanager"), exists=exists)


def receiver(settings: config.ReceiverSettings, **aws: Unpack[Aws]) -> Receiver:
    from calsync.connections.aws_registry import DynamoConnectionIds

    clients.use(clients.RECEIVER)  # a hanging AWS call is a 503 within ~5 s (aws/clients.py)
    # An unknown id costs a key-only registry read: forged ids never reach Secrets Manager.
    registered = DynamoConnectionIds(settings.bookings_table_name, aws.get("dynamodb")).exists
    ttl = settings.signing_key_cache_seconds
    return Receiver(
        keys=signing_keys(settings.signing_key_prefix, ttl_seconds=ttl, exists=registered, **aws),
        queue=_intake(settings, aws),
        limits=ReceiverLimits(settings.signature_tolerance_seconds, settings.max_body_bytes),
    )


# --- processors and erasure -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Processor:
    repository: DynamoBookingsRepository
    archive_ttl: timedelta
    tombstones: DynamoTombstones  # its ``is_erased`` refuses deliveries about erased people
    bodies: S3DeliveryBodies | None = None  # bodies too large for a message, read back by key


def bookings_repository(table_name: str, **aws: Unpack[Aws]) -> DynamoBookingsRepository:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository

    return DynamoBookingsRepository(table_name, aws.get("dynamodb"))


def processor(settings: config.ProcessorSettings, **aws: Unpack[Aws]) -> Processor:
    clients.use(clients.BATCH)
    return Processor(
        repository=bookings_repository(settings.bookings_table_name, dynamodb=aws.get("dynamodb")),
        archive_ttl=timedelta(days=settings.archive_ttl_days),
        tombstones=tombstones(settings.bookings_table_name, settings.erasure_key_secret_name, **aws),
        bodies=delivery_bodies(settings.delivery_bodies_bucket),
    )


def tombstones(table_name: str, erasure_key_secret_name: str, **aws: Unpack[Aws]) -> DynamoTombstones:
    """Erased people: ``.is_erased(email, at)`` (one GetItem; the hash key read once per cold start)."""
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.erasure.aws_tombstones import DynamoTombstones

    secretsmanager = aws.get("secretsmanager")
    key = CachedJsonSecret(erasure_key_secret_name, client=secretsmanager, ttl_seconds=float("inf"), what="erasure key")
    return DynamoTombstones(table_name, key, aws.get("dynamodb"))


# --- lifecycle: publisher, reminders, consumers ----------------------------------------------
@dataclass(frozen=True, slots=True)
class Reminders:
    images: TableImages
    bus: EventBridgePublisher


def reminders(settings: config.ReminderSettings, **aws: Unpack[Aws]) -> Reminders:
    """The reminder function's services: read the booking back, publish on the bus."""
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_stream import TableImages

    clients.use(clients.BATCH)
    images = TableImages(settings.bookings_table_name, aws.get("dynamodb"))
    return Reminders(images, EventBridgePublisher(settings.event_bus_name, aws.get("events")))


@dataclass(frozen=True, slots=True)
class Publisher(Reminders):
    schedules: SchedulerReminders
    leads: tuple[int, ...]
    ended_window: timedelta  # a booking first stored after its end: Booking Ended at once if that recent
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # reminders are planned on it


def publisher(settings: config.PublisherSettings, **aws: Unpack[Aws]) -> Publisher:
    """The lifecycle publisher's services: what reminders have, and where they are scheduled."""
    from calsync.lifecycle.aws_scheduler import SchedulerReminders

    base = reminders(settings, **aws)
    return Publisher(
        base.images,
        base.bus,
        schedules=SchedulerReminders(
            settings.schedule_group_name,
            settings.reminder_target_arn,
            settings.scheduler_role_arn,
            aws.get("scheduler"),
            dead_letter_arn=settings.reminder_dlq_arn,
        ),
        leads=settings.reminder_lead_seconds,
        ended_window=timedelta(days=settings.late_ended_window_days),
    )


SLACK_CONSUMER, FORWARD_CONSUMER = "slack", "forward"  # their claims' key prefixes (template.yaml's IAM)


@dataclass(frozen=True, slots=True)
class Consumer:
    endpoint: CachedJsonSecret  # where it delivers (the operator's secret)
    ledger: DynamoLedger  # where it claims each event, so it delivers each ``event_id`` once


def consumer(settings: config.SlackSettings | config.ForwarderSettings, **aws: Unpack[Aws]) -> Consumer:
    """The Slack notifier's or the signed HTTP forwarder's services."""
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.lifecycle.aws_ledger import DynamoLedger

    clients.use(clients.BATCH)
    if isinstance(settings, config.SlackSettings):
        secret, name = settings.slack_secret_name, SLACK_CONSUMER
    else:
        secret, name = settings.forward_secret_name, FORWARD_CONSUMER
    endpoint = CachedJsonSecret(secret, client=aws.get("secretsmanager"), what=name)
    return Consumer(endpoint, DynamoLedger(settings.bookings_table_name, name, aws.get("dynamodb")))


# --- connections (refresher, watchdog, OAuth callback, CLI) -----------------------------------
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
                self.registry, self.tokens, oauth, owner, time_left=seconds_left(remaining_ms), report=report
            )


def connection_registry(table_name: str, **aws: Unpack[Aws]) -> DynamoConnectionRegistry:
    from calsync.connections.aws_registry import DynamoConnectionRegistry

    return DynamoConnectionRegistry(table_name, aws.get("dynamodb"))


def connections(
    settings: config.ConnectionSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    **aws: Unpack[Aws],
) -> Connections:
    from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore

    secretsmanager = aws.get("secretsmanager")
    return Connections(
        settings=settings,
        registry=connection_registry(settings.bookings_table_name, dynamodb=aws.get("dynamodb")),
        tokens=SecretsManagerTokenStore(settings.token_secret_prefix, client=secretsmanager),
        # Connect writes these keys and may read them back at once: cache for a second only.
        signing_keys=signing_keys(settings.signing_key_prefix, ttl_seconds=1, secretsmanager=secretsmanager),
        oauth_app=SecretsManagerOAuthApp(settings.oauth_app_secret_name, client=secretsmanager),
        calendly_options=dict(calendly_options or {}),
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


# --- reconciler -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconciling:
    settings: config.ReconcilerSettings
    connections: Connections
    stored: DynamoStoredBookings
    state: DynamoReconcileState
    queue: SqsDeliveryQueue
    requests: SqsReconcileRequests
    tombstones: DynamoTombstones

    def reconciler_for(
        self,
        connection: Connection,
        budget: Budget,
        *,
        on_event: Callable[[Any], None] | None = None,
    ) -> tuple[Reconciler, CalendlyClient]:
        """A reconciler whose client spends ``budget`` on every request (retries included) and
        waits out a 429 only within its deadline. Close the client when done."""
        from calsync.reconcile.run import Reconciler

        client = self.connections.calendly_for(connection, RECONCILE, on_request=budget.spend, sleep=budget.sleep)
        erased = self.tombstones.is_erased
        return Reconciler(client, self.stored, self.queue, budget, erased, on_event=on_event), client

    def jobs(self, remaining_ms: RemainingMs, *, report: Callable[[Report], None]) -> Jobs:
        """The function's scheduled and requested runs, within the invocation's remaining time."""
        from calsync.reconcile.scheduled import Jobs

        s, ports = self.settings, (self.connections.registry, self.reconciler_for, self.state, self.requests)
        limits = (s.reconcile_api_calls, s.reconcile_upcoming_days, s.reconcile_recent_days, seconds_left(remaining_ms))
        return Jobs(*ports, *limits, report=report)


def reconciling(
    settings: config.ReconcilerSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    **aws: Unpack[Aws],
) -> Reconciling:
    """The reconciler's services (the function, ``calsync reconcile`` and the tests)."""
    from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings

    dynamodb, secretsmanager = aws.get("dynamodb"), aws.get("secretsmanager")
    return Reconciling(
        settings=settings,
        connections=connections(settings, calendly_options=calendly_options, **aws),
        stored=DynamoStoredBookings(bookings_repository(settings.bookings_table_name, dynamodb=dynamodb)),
        state=DynamoReconcileState(settings.bookings_table_name, dynamodb),
        queue=_intake(settings, aws),
        requests=reconcile_requests(settings, **aws),
        tombstones=tombstones(
            settings.bookings_table_name,
            settings.erasure_key_secret_name,
            dynamodb=dynamodb,
            secretsmanager=secretsmanager,
        ),
    )


# --- operator use cases (erase, replay; reconcile over a range: ``reconciling`` + reconcile.manual) ---
# What ``calsync erase`` / ``replay`` / ``reconcile`` run, and what a function (or the /v1 API) may call.

if TYPE_CHECKING:
    from calsync.erasure.erase import ErasureStores
    from calsync.replay.replay import Replaying


def erasure(
    table_name: str,
    erasure_key_secret_name: str,
    queues: Mapping[str, str],
    *,
    bodies_bucket: str | None = None,
    wait_seconds: int = 1,
    **aws: Unpack[Aws],
) -> ErasureStores:
    """Everything ``erasure.erase`` sweeps and records: the table, ``queues`` (name → URL of
    every queue whose messages may carry an address), the delivery-bodies bucket; the tombstone
    and the audit record. ``wait_seconds``: each queue receive's long poll (0 for emulators)."""
    from calsync.erasure.aws_sweep import BucketSweep, SqsQueueSweep, TableSweep
    from calsync.erasure.aws_tombstones import ErasureAudit
    from calsync.erasure.erase import ErasureStores

    dynamodb = aws.get("dynamodb") or clients.dynamodb()
    bodies = delivery_bodies(bodies_bucket, **aws)
    return ErasureStores(
        tombstones=tombstones(table_name, erasure_key_secret_name, **aws),
        items=TableSweep(table_name, dynamodb, bodies),
        queues=SqsQueueSweep(aws.get("sqs") or clients.sqs(), queues, wait_seconds=wait_seconds, bodies=bodies),
        audit=ErasureAudit(table_name, dynamodb),
        bodies=BucketSweep(bodies) if bodies is not None else None,
    )


def replaying(
    table_name: str,
    queue_urls: Mapping[QueueKind, str],
    *,
    bodies_bucket: str | None = None,
    **aws: Unpack[Aws],
) -> Replaying:
    """What ``replay.replay`` reads (the archive, the delivery-bodies bucket) and where it sends
    (the intake queues, large bodies by key as the receiver sends them)."""
    from calsync.intake.aws_queues import SqsDeliveryQueue
    from calsync.replay.replay import Replaying

    bodies = delivery_bodies(bodies_bucket, **aws)
    return Replaying(
        archive=bookings_repository(table_name, **aws),
        queue=SqsDeliveryQueue(queue_urls, aws.get("sqs"), bodies=bodies),
        bodies=bodies,
    )
