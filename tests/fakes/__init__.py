"""In-memory fakes of calsync's ports, one module per feature (``tests/fakes/<feature>.py``), so
domain behaviour is tested fast; tests/contract runs the same behaviour against each fake and
its AWS adapter on moto, so a fake cannot drift from what deploys.

``FakeDynamoDB`` is different: a DynamoDB *client* for the expressions the bookings repository
emits (tests/integration/test_convergence.py checks it against moto).
"""

from tests.fakes.dynamodb import FakeDynamoDB

__all__ = ["FakeDynamoDB"]
