"""``calsync bookings``: list stored bookings, by e-mail, time window and status."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from calsync_dev.cli.target import Commands, Target, add_stack_option, target_from

if TYPE_CHECKING:
    from calsync.aws.views import StoredBooking

JSON_FIELDS = (
    "uri",
    "status",
    "email",
    "name",
    "event_name",
    "start_time",
    "end_time",
    "no_show",
    "rescheduled_from",
    "rescheduled_to",
    "cancellation",
    "updated_at",
    "tenant",
)


def register(commands: Commands) -> None:
    bookings = commands.add_parser("bookings", help="list stored bookings")
    bookings.add_argument("--email")
    bookings.add_argument("--since", help="start time from (ISO 8601)")
    bookings.add_argument("--until", help="start time up to (ISO 8601)")
    bookings.add_argument("--status", choices=["active", "canceled"])
    bookings.add_argument("--json", action="store_true")
    add_stack_option(bookings)
    bookings.set_defaults(func=_bookings)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``Z`` accepted); UTC when it names no zone."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_bookings(
    target: Target,
    *,
    email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> list[StoredBooking]:
    repo = target.bookings()
    if email:
        items = repo.bookings_by_email(email, start=since, end=until)
    else:
        items = repo.all_bookings()

        def within(item: StoredBooking) -> bool:
            start = item.start_time
            if since is None and until is None:
                return True
            if not start:
                return False
            at = parse_time(start)
            return (since is None or at >= since) and (until is None or at <= until)

        items = sorted((i for i in items if within(i)), key=lambda i: (i.start_time or "~", i.invitee_uuid))
    return [i for i in items if status is None or i.status == status]


def _bookings(args: argparse.Namespace) -> int:
    target = target_from(args)
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    try:
        items = find_bookings(target, email=args.email, since=since, until=until, status=args.status)
    except Exception as exc:
        print(f"cannot read bookings from {target.endpoint_url or 'AWS'}: {type(exc).__name__}", file=sys.stderr)
        return 2
    if args.json:
        json.dump([{k: getattr(i, k) for k in JSON_FIELDS} for i in items], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"{'start (UTC)':<21} {'status':<9} {'no-show':<8} {'email':<28} {'event':<24} notes")
    for item in items:
        notes = []
        if item.rescheduled_to:
            notes.append("rescheduled → " + str(item.rescheduled_to).rsplit("/", 1)[-1])
        if item.rescheduled_from:
            notes.append("rescheduled from " + str(item.rescheduled_from).rsplit("/", 1)[-1])
        if isinstance(item.cancellation, dict) and item.cancellation.get("reason"):
            notes.append("reason: " + str(item.cancellation["reason"]))
        print(
            f"{(item.start_time or '-')[:19]:<21} {item.status or '-':<9} "
            f"{'yes' if item.no_show else '-':<8} {str(item.email or '-')[:28]:<28} "
            f"{str(item.event_name or '-')[:24]:<24} {'; '.join(notes)}"
        )
    print(f"{len(items)} booking(s)")
    return 0
