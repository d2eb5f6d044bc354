"""``calsync dlq``: show (list) or redrive dead-lettered deliveries."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from calsync.intake.routing import QueueKind
from calsync_dev.cli.progress import Progress, add_quiet_option, progress_for
from calsync_dev.cli.target import Commands, Target, add_stack_option, queue_kind, target_from
from calsync_dev.pump import queue_depth
from calsync_dev.template import queue_logical_id


def register(commands: Commands) -> None:
    dlq = commands.add_parser("dlq", help="show (list) or redrive dead-lettered deliveries")
    dlq.add_argument("action", nargs="?", choices=["list", "redrive"], default="list")
    dlq.add_argument("--queue", help="the source queue, e.g. InviteeCreatedQueue or invitee-created (default: all)")
    add_stack_option(dlq)
    add_quiet_option(dlq)
    dlq.set_defaults(func=_dlq)


def dlq_messages(target: Target, queue: QueueKind | str) -> list[dict[str, Any]]:
    """Peek at a DLQ (an intake kind's, or a work DLQ by logical id): every message is received,
    then made visible again at once."""
    sqs = target.client("sqs")
    # QueueKind is a StrEnum: asked first, or every intake kind would be looked up as a work DLQ
    url = target.dlqs[queue] if isinstance(queue, QueueKind) else target.work_dlqs[queue]
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
        VisibilityTimeout=30,
    ).get("Messages", []):
        found.extend(batch)
    for message in found:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return found


def redrive(target: Target, queue: QueueKind, progress: Progress | None = None) -> int:
    """Move every message of ``queue``'s DLQ back to ``queue`` (body and attributes intact)."""
    sqs, moved = target.client("sqs"), 0
    depth = queue_depth(sqs, target.dlqs[queue], in_flight=False)
    progress = progress or Progress(depth, f"redrive {queue_logical_id(queue)}")
    progress.total = depth
    while True:
        batch = sqs.receive_message(
            QueueUrl=target.dlqs[queue], MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
            progress.close()
            return moved
        for message in batch:
            sqs.send_message(
                QueueUrl=target.queues[queue],
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
            sqs.delete_message(QueueUrl=target.dlqs[queue], ReceiptHandle=message["ReceiptHandle"])
            moved += 1
            progress.advance()


def _dlq(args: argparse.Namespace) -> int:
    target = target_from(args)
    chosen = queue_kind(args.queue) if args.queue else None
    if args.queue and chosen is None:
        names = ", ".join(queue_logical_id(kind) for kind in QueueKind)
        print(f"unknown queue {args.queue}; one of: {names}", file=sys.stderr)
        return 2
    queues = [chosen] if chosen is not None else sorted(target.dlqs, key=queue_logical_id)
    if args.action == "redrive":
        for queue in queues:
            moved = redrive(target, queue, progress_for(args, None, f"redrive {queue_logical_id(queue)}"))
            if moved or args.queue:
                print(f"{queue_logical_id(queue)}: moved {moved} message(s) back for processing")
        return 0
    total = 0
    for queue in queues:
        messages = dlq_messages(target, queue)
        total += len(messages)
        for message in messages:
            attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            print(
                f"{queue_logical_id(queue):<22} {message['MessageId']}  event={attrs.get('event', '?')} "
                f"connection={attrs.get('connection_id', '?')} received_at={attrs.get('received_at', '?')} "
                f"receives={receives}"
            )
    if not args.queue:  # the scheduled jobs' units (docs/scale.md): the job's next run dispatches them again
        for name in sorted(target.work_dlqs):
            for message in dlq_messages(target, name):
                total += 1
                unit = _unit(message["Body"])
                receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
                print(
                    f"{name:<22} {message['MessageId']}  job={unit.get('job', '?')} "
                    f"connection={unit.get('connection_id', '?')} run={unit.get('run', '?')} receives={receives}"
                )
    print(f"{total} dead-lettered message(s)" + ("; `calsync dlq redrive` moves them back" if total else ""))
    return 0


def _unit(body: str) -> dict[str, Any]:
    """A work unit's fields (``calsync.fanout.work.WorkUnit``), or nothing if it is not one."""
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
