"""The ``gsi2-tenant-invitees`` step: give every invitee item stored before invitees were listed
in GSI2 its by-connection index keys (``GSI2PK TENANT#<connection>``, ``GSI2SK
<start>#<event uuid>#<invitee uuid>``), so a bookings page is one Query of that index.

The processors write those keys on every invitee whose start is known; an invitee stored before
has none. Until this step is recorded as completed, ``GET /v1/connections/{connection_id}/bookings``
reads each event's invitees from the event's partition (correct, one request per event); once
recorded, it reads events and invitees from GSI2 together. The run is the booking-index step's
(``booking_index.index_bookings``: segments, dry run, backoff, the same counts) over another
store: an invitee without a start of its own takes its event's; ``skipped_without_tenant``
counts those without a connection or any known start (no page lists them in either mode).
"""

from __future__ import annotations

NAME = "gsi2-tenant-invitees"
