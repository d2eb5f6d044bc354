"""In-memory fakes of calsync's ports, one module per feature, so domain behaviour is tested
fast (no moto, no sockets):

- ``intake``: FakeSigningKeys (also the connections' SigningKeyStore), FakeDeliveryQueue,
  FakeDeliveryBodies
- ``bookings``: FakeBookingsRepository
- ``lifecycle``: FakeImages (Images and Claims), FakeBus, FakeSchedules, FakeLedger
- ``connections``: FakeRegistry, FakeTokens, FakeAppSecret, FakeReconcileRequests
- ``reconcile``: FakeStoredBookings, FakeReconcileState
- ``erasure``: FakeTombstones, FakeErasureAudit

Those over the bookings table share one ``table.MemoryTable`` when given the same one (as the
adapters share the table). tests/contract runs the same Given/When/Then against each fake and
its AWS adapter on moto, so a fake cannot drift from what deploys; ``ports.py`` has mypy check
that each implements its port. Calendly (the ``Lister``, ``TokenEndpoint`` and ``Calendly``
ports) is ``calsync_dev.fake_calendly.FakeCalendly`` behind the real client.

``FakeDynamoDB`` is different: a DynamoDB *client* for the expressions the bookings repository
emits (tests/integration/test_convergence.py checks it against moto).
"""

from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.connections import FakeAppSecret, FakeReconcileRequests, FakeRegistry, FakeTokens
from tests.fakes.dynamodb import FakeDynamoDB
from tests.fakes.erasure import FakeErasureAudit, FakeTombstones
from tests.fakes.intake import FakeDeliveryBodies, FakeDeliveryQueue, FakeSigningKeys
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeLedger, FakeSchedules
from tests.fakes.reconcile import FakeReconcileState, FakeStoredBookings
from tests.fakes.table import MemoryTable

__all__ = [
    "FakeAppSecret",
    "FakeBookingsRepository",
    "FakeBus",
    "FakeDeliveryBodies",
    "FakeDeliveryQueue",
    "FakeDynamoDB",
    "FakeErasureAudit",
    "FakeImages",
    "FakeLedger",
    "FakeReconcileRequests",
    "FakeReconcileState",
    "FakeRegistry",
    "FakeSchedules",
    "FakeSigningKeys",
    "FakeStoredBookings",
    "FakeTokens",
    "FakeTombstones",
    "MemoryTable",
]
