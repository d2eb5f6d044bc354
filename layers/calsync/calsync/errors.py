"""Domain exceptions: what callers may handle, free of any AWS or HTTP type."""

from __future__ import annotations


class CalsyncError(Exception):
    """Base of calsync's own errors."""


class DependencyUnavailable(CalsyncError):
    """An AWS dependency failed or throttled; the work may succeed if retried."""


class Throttled(DependencyUnavailable):
    """AWS refused the call for its rate (DynamoDB's ``ProvisionedThroughputExceededException``,
    ``ThrottlingException`` …) after the SDK's own retries: wait longer, then try again."""


class InvalidDelivery(CalsyncError):
    """A verified delivery that can never be processed (it would fail on every retry)."""


class Unstorable(InvalidDelivery):
    """The store can never hold this input (a key or an item over DynamoDB's size limits):
    retrying cannot help, so the delivery is quarantined with this reason at once."""
