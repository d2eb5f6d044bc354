"""The composition root: the one place that joins domain code to its adapters.

Plain factories take settings and, optionally, ready-made boto3 clients (``Aws``: tests, the
CLI's ``--stack`` session, the local stack) and return the services a function needs. Handlers
cache the result per cold start. Adapters are imported inside each factory, so a function
loads only what it uses (the receiver never imports httpx).

One module per feature folder (``compose.intake`` builds intake's services, ``compose.reconcile``
the reconciler's …); this package is their one entrance: callers write ``compose.receiver(...)``.
"""

from calsync.compose.actions import actions
from calsync.compose.analytics import stored_items
from calsync.compose.bookings import Processor, bookings_repository, processor
from calsync.compose.connections import (
    ConnectApi,
    Connections,
    connect_api,
    connection_registry,
    connections,
    disconnector,
    reconcile_requests,
    watchdog,
)
from calsync.compose.erasure import ErasureApi, ErasureWorker, erasure, erasure_api, erasure_worker, tombstones
from calsync.compose.fanout import dispatcher as fanout_dispatcher
from calsync.compose.fanout import work_queue
from calsync.compose.intake import Receiver, delivery_bodies, delivery_queue, receiver, signing_keys
from calsync.compose.lifecycle import (
    FORWARD_CONSUMER,
    SLACK_CONSUMER,
    Consumer,
    Publisher,
    Reminders,
    consumer,
    publisher,
    reminders,
)
from calsync.compose.migrate import migrations
from calsync.compose.read import (
    ReadApi,
    connections_reader,
    kinds_reader,
    read_api,
    reports_reader,
    tenant_bookings,
    tenant_items,
)
from calsync.compose.reconcile import Reconciling, reconciling
from calsync.compose.replay import replaying
from calsync.intake.routing import QueueKind

__all__ = [
    "FORWARD_CONSUMER",
    "SLACK_CONSUMER",
    "ConnectApi",
    "Connections",
    "Consumer",
    "ErasureApi",
    "ErasureWorker",
    "Processor",
    "Publisher",
    "QueueKind",
    "ReadApi",
    "Receiver",
    "Reconciling",
    "Reminders",
    "actions",
    "bookings_repository",
    "connect_api",
    "connection_registry",
    "connections",
    "connections_reader",
    "consumer",
    "delivery_bodies",
    "delivery_queue",
    "disconnector",
    "erasure",
    "erasure_api",
    "erasure_worker",
    "fanout_dispatcher",
    "kinds_reader",
    "migrations",
    "processor",
    "publisher",
    "read_api",
    "receiver",
    "reconcile_requests",
    "reconciling",
    "reminders",
    "replaying",
    "reports_reader",
    "signing_keys",
    "stored_items",
    "tenant_bookings",
    "tenant_items",
    "tombstones",
    "watchdog",
    "work_queue",
]
