"""Domain exceptions: what callers may handle, free of any AWS or HTTP type."""

from __future__ import annotations


class CalsyncError(Exception):
    """Base of calsync's own errors."""


class DependencyUnavailable(CalsyncError):
    """An AWS dependency failed or throttled; the work may succeed if retried."""


class InvalidDelivery(CalsyncError):
    """A verified delivery that can never be processed (it would fail on every retry)."""
