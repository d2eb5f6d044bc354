"""What replaying needs (``replay.py``): the kept deliveries and their outcomes. The bookings
repository (``bookings.aws_bookings``) implements ``Archive``; ``compose.replaying`` passes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class KeptDelivery(Protocol):
    """A delivery kept whole (archived or quarantined), as the archive reads it back."""

    @property
    def event(self) -> str | None: ...

    @property
    def connection_id(self) -> str | None: ...

    @property
    def received_at(self) -> str | None: ...  # ISO 8601, as stored

    @property
    def body_sha256(self) -> str: ...

    @property
    def body(self) -> str | None: ...

    @property
    def body_key(self) -> str | None: ...  # a large body's key in the delivery-bodies bucket


class Archive(Protocol):
    def archived(self, *, quarantined: bool = False) -> Iterable[KeptDelivery]:
        """The archived (or quarantined) deliveries, oldest first."""
        ...

    def replay_counts(self, replay_id: str) -> Mapping[str, int]:
        """How many of a replay's deliveries were ``applied``, ``unchanged``, ``quarantined``
        or refused (``erased``) so far."""
        ...
