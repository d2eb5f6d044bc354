"""Every fake implements its port: mypy (``make lint``) checks these assignments; nothing runs them."""

from __future__ import annotations

from calsync.bookings.records import BookingsRepository
from calsync.connections.ports import (
    AppSecret,
    ReconcileRequests,
    Registry,
    SecretRemover,
    SigningKeyStore,
    TenantData,
    Tokens,
)
from calsync.intake.delivery import DeliveryBodies
from calsync.intake.receive import DeliveryQueue, SigningKeys
from calsync.lifecycle.derive import Images
from calsync.lifecycle.once import Ledger
from calsync.lifecycle.publish import Bus, Claims, Schedules
from calsync.read.bookings import TenantBookings
from calsync.read.connections import ConnectionsReader
from calsync.reconcile.ports import ReconcileState, StoredBookings
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.connections import (
    FakeAppSecret,
    FakeReconcileRequests,
    FakeRegistry,
    FakeSecrets,
    FakeTenantData,
    FakeTokens,
)
from tests.fakes.intake import FakeDeliveryBodies, FakeDeliveryQueue, FakeSigningKeys
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeLedger, FakeSchedules
from tests.fakes.read import FakeConnectionsReader, FakeTenantBookings
from tests.fakes.reconcile import FakeReconcileState, FakeStoredBookings


def _every_fake_implements_its_port() -> None:
    signing_keys: SigningKeys = FakeSigningKeys()
    signing_key_store: SigningKeyStore = FakeSigningKeys()
    queue: DeliveryQueue = FakeDeliveryQueue()
    bodies: DeliveryBodies = FakeDeliveryBodies()
    bookings: BookingsRepository = FakeBookingsRepository()
    images: Images = FakeImages()
    claims: Claims = FakeImages()
    bus: Bus = FakeBus()
    schedules: Schedules = FakeSchedules()
    ledger: Ledger = FakeLedger()
    registry: Registry = FakeRegistry()
    tokens: Tokens = FakeTokens()
    app: AppSecret = FakeAppSecret()
    requests: ReconcileRequests = FakeReconcileRequests()
    stored: StoredBookings = FakeStoredBookings()
    state: ReconcileState = FakeReconcileState()
    tenant_bookings: TenantBookings = FakeTenantBookings()
    connections_reader: ConnectionsReader = FakeConnectionsReader()
    del signing_keys, signing_key_store, queue, bodies, bookings, images, claims, bus, schedules, ledger
    secrets: SecretRemover = FakeSecrets()
    tenant_data: TenantData = FakeTenantData()
    del registry, tokens, app, requests, stored, state, tenant_bookings, connections_reader, secrets, tenant_data


def _the_actions_fakes_implement_their_ports() -> None:
    from calsync.actions.act import ActionBookings, CalendlyAccess, ConnectionLookup
    from calsync.actions.idempotency import IdempotencyStore
    from calsync.bookings.records import BookingsRepository as Repository
    from tests.fakes.actions import (
        FakeActionBookings,
        FakeCalendlyAccess,
        FakeIdempotency,
        FakeScheduling,
        now,
    )

    repository: Repository = FakeBookingsRepository()
    bookings: ActionBookings = FakeActionBookings(FakeBookingsRepository().table)
    calendly: CalendlyAccess = FakeCalendlyAccess(FakeScheduling(now()))
    connections: ConnectionLookup = FakeRegistry()
    idempotency: IdempotencyStore = FakeIdempotency()
    del repository, bookings, calendly, connections, idempotency
