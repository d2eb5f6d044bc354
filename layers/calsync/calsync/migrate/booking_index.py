"""The ``gsi3-booking-index`` step: give every invitee item stored before GSI3 its index key.

``GET /v1/connections/{connection_id}/bookings/{invitee_uuid}`` finds a booking through GSI3
(``GSI3PK``), which the processors write on every invitee since that index came; an invitee
stored before has none, so its booking is a 404 by uuid until a delivery rewrites it. This step
scans the table's invitees (``segments`` in parallel) and sets each missing key with a write
conditioned on the item still existing and still lacking it: idempotent, safe while the
processors write (they write the same value), and resumable by running it again — a run only
writes what is still missing, so a crash or an interrupted run loses nothing.

Counts: ``scanned`` invitees; ``updated`` (would be, in a dry run); ``already_done`` (had the
key, or a processor wrote it first); ``skipped_without_tenant`` (no connection to key it by: it
cannot be read by uuid either way); ``gone`` (removed between the scan and the write, e.g. erased).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from functools import partial

from calsync.migrate.backoff import Backoff
from calsync.migrate.ports import BookingIndex, IndexCandidate, Indexed, Position

NAME = "gsi3-booking-index"


@dataclass(slots=True)
class IndexCounts:
    scanned: int = 0
    updated: int = 0
    already_done: int = 0
    skipped_without_tenant: int = 0
    gone: int = 0
    throttled: int = 0  # waits after AWS refused the rate

    def add(self, other: IndexCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def index_bookings(
    store: BookingIndex,
    *,
    segments: int = 1,
    dry_run: bool = False,
    backoff: Backoff | None = None,
    on_page: Callable[[IndexCounts], None] | None = None,
) -> IndexCounts:
    """Set the missing index keys (or count them, ``dry_run``), ``segments`` scan segments at
    once; ``on_page`` sees the running totals after each page. A failure (after ``backoff``'s
    retries of a throttled call) stops every segment at its next page and propagates: run again."""
    if segments < 1:
        raise ValueError("segments must be at least 1")
    retry = backoff or Backoff()
    total = IndexCounts()
    lock = threading.Lock()
    stop = threading.Event()

    def tally(page: IndexCounts) -> None:
        with lock:
            total.add(page)
            if on_page is not None:
                on_page(IndexCounts(**total.as_dict()))

    def segment(number: int) -> None:
        after: Position | None = None
        while not stop.is_set():
            page = IndexCounts()
            found, after = retry.call(
                partial(store.invitees, number, segments, after), throttled=partial(_count_wait, page)
            )
            for invitee in found:
                _one(store, invitee, page, dry_run=dry_run, retry=retry)
            tally(page)
            if after is None:
                return

    if segments == 1:
        segment(0)
        return total
    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="migrate") as pool:
        futures = [pool.submit(segment, n) for n in range(segments)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            stop.set()
        for future in futures:
            future.result()  # the first failure propagates, after every segment stopped
    return total


def _count_wait(page: IndexCounts) -> None:
    page.throttled += 1


def _one(store: BookingIndex, invitee: IndexCandidate, page: IndexCounts, *, dry_run: bool, retry: Backoff) -> None:
    page.scanned += 1
    if invitee.indexed:
        page.already_done += 1
    elif not invitee.tenant:
        page.skipped_without_tenant += 1
    elif dry_run:
        page.updated += 1
    else:
        outcome = retry.call(lambda: store.index(invitee), throttled=lambda: _count_wait(page))
        match outcome:
            case Indexed.UPDATED:
                page.updated += 1
            case Indexed.ALREADY_DONE:
                page.already_done += 1
            case Indexed.GONE:
                page.gone += 1
            case Indexed.NO_TENANT:
                page.skipped_without_tenant += 1
