"""``calsync book``, ``calsync cancel``, ``calsync no-show``: act in Calendly for a connection
through the signed actions API (docs/actions.md), the local stack by default (``--stack NAME``: a
deployed stack, signed with the default AWS credentials). Prints the booking as stored."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from calsync_dev.assistant.api import ApiError, SignedApi
from calsync_dev.cli.target import Commands, add_stack_option


def register(commands: Commands) -> None:
    book = commands.add_parser("book", help="book a meeting in Calendly through calsync (the actions API)")
    _common(book)
    book.add_argument("--event-type", required=True, help="the event type's uuid or Calendly URI")
    book.add_argument("--start", required=True, help="start time, ISO 8601 with a zone")
    book.add_argument("--name", required=True, help="the invitee's name")
    book.add_argument("--email", required=True, help="the invitee's email")
    book.add_argument("--timezone", required=True, help="the invitee's IANA time zone, e.g. Europe/Paris")
    book.add_argument("--answer", action="append", default=[], metavar="QUESTION=ANSWER", help="repeatable")
    book.set_defaults(func=_book)
    cancel = commands.add_parser("cancel", help="cancel a booking in Calendly through calsync")
    _common(cancel)
    cancel.add_argument("invitee_uuid")
    cancel.add_argument("--reason")
    cancel.set_defaults(func=_cancel)
    no_show = commands.add_parser("no-show", help="mark (or --clear) a booking's no-show in Calendly through calsync")
    _common(no_show)
    no_show.add_argument("invitee_uuid")
    no_show.add_argument("--clear", action="store_true", help="clear the mark instead")
    no_show.set_defaults(func=_no_show)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connection-id", required=True)
    parser.add_argument("--idempotency-key", help="reuse it to retry safely (default: a new one)")
    add_stack_option(parser)


def _api(args: argparse.Namespace) -> SignedApi:
    from calsync_dev.cli.assistant import local_api, stack_api

    return stack_api(args.stack) if args.stack else local_api()


def _send(args: argparse.Namespace, method: str, segments: tuple[str, ...], body: dict[str, Any] | None) -> int:
    key = args.idempotency_key or uuid.uuid4().hex
    try:
        answer = _api(args).send(method, ("connections", args.connection_id, *segments), body=body, idempotency_key=key)
    except ApiError as exc:
        print(f"calsync: {exc} (Idempotency-Key {key}: retry with --idempotency-key {key})", file=sys.stderr)
        return 1
    json.dump(answer, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def book_body(args: argparse.Namespace) -> dict[str, Any]:
    answers = []
    for pair in args.answer:
        question, sep, answer = pair.partition("=")
        if not sep:
            raise SystemExit(f"calsync book: --answer takes QUESTION=ANSWER, not {pair!r}")
        answers.append({"question": question, "answer": answer})
    body: dict[str, Any] = {
        "event_type": args.event_type,
        "start_time": args.start,
        "invitee": {"name": args.name, "email": args.email, "timezone": args.timezone},
    }
    if answers:
        body["answers"] = answers
    return body


def _book(args: argparse.Namespace) -> int:
    return _send(args, "POST", ("bookings",), book_body(args))


def _cancel(args: argparse.Namespace) -> int:
    return _send(
        args, "POST", ("bookings", args.invitee_uuid, "cancel"), {"reason": args.reason} if args.reason else {}
    )


def _no_show(args: argparse.Namespace) -> int:
    return _send(args, "DELETE" if args.clear else "POST", ("bookings", args.invitee_uuid, "no-show"), None)
