"""``calsync``: the commands a person runs by hand.

    calsync local                      run the whole stack on this machine (= make run)
    calsync send FILE...               sign webhook bodies and POST them (local stack by default)
    calsync load --count 1000          concurrent signed deliveries; prints deliveries/s
    calsync bookings [--email ...]     list stored bookings
    calsync dlq [list|redrive]         show or redrive dead-lettered deliveries
    calsync events render FILE         a freshly signed API Gateway event for sam local invoke

Against the local stack by default; ``--stack NAME`` targets a deployed stack instead
(AWS credentials from the usual places; queue and table names from its Outputs).
"""

from __future__ import annotations

import argparse
import copy
import getpass
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calsync_dev import events
from calsync_dev.pump import queue_depth

if TYPE_CHECKING:
    from calsync.store.views import Booking

LOCAL_HOST = "127.0.0.1"


# ------------------------------------------------------------------ progress


class Progress:
    """A one-line progress bar on stderr (silent when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, *, enabled: bool | None = None) -> None:
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and self.total:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


# ------------------------------------------------------------------ where the resources are


@dataclass(frozen=True)
class Target:
    endpoint_url: str | None
    table: str
    queues: dict[str, str]  # source queue logical id -> url
    dlqs: dict[str, str]  # source queue logical id -> its DLQ url
    token_prefix: str = "calsync/local/tokens/"  # noqa: S105 - a secret's name
    signing_key_prefix: str = "calsync/local/signing-keys/"
    oauth_app_secret: str = "calsync/local/oauth-app"  # noqa: S105 - a secret's name
    api_base: str = "http://127.0.0.1:3000"
    calendly_api_url: str = "https://api.calendly.com"
    authorize_url: str = "https://auth.calendly.com/oauth/authorize"

    def session(self) -> Any:
        import boto3

        if self.endpoint_url:
            return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")  # noqa: S106 - emulator
        return boto3.Session()

    def client(self, service: str) -> Any:
        return self.session().client(service, endpoint_url=self.endpoint_url)


def local_target() -> Target:
    from calsync_dev.local import STAGE
    from calsync_dev.template import load

    port = os.environ.get("CALSYNC_EMULATOR_PORT", "5000")
    endpoint = f"http://{os.environ.get('CALSYNC_HOST', LOCAL_HOST)}:{port}"
    resources = load()["Resources"]
    queues: dict[str, str] = {}
    dlqs: dict[str, str] = {}
    base = f"{endpoint}/123456789012"
    for logical, resource in resources.items():
        policy = resource.get("Properties", {}).get("RedrivePolicy") if resource["Type"] == "AWS::SQS::Queue" else None
        if policy:
            queues[logical] = f"{base}/calsync-{STAGE}-{logical}"
            dlqs[logical] = f"{base}/calsync-{STAGE}-{policy['deadLetterTargetArn']['Fn::GetAtt'][0]}"
    host = os.environ.get("CALSYNC_HOST", LOCAL_HOST)
    calendly = f"http://{host}:{os.environ.get('CALSYNC_CALENDLY_PORT', '3001')}"
    return Target(
        endpoint,
        f"calsync-{STAGE}-BookingsTable",
        queues,
        dlqs,
        token_prefix=f"calsync/{STAGE}/tokens/",
        signing_key_prefix=f"calsync/{STAGE}/signing-keys/",
        oauth_app_secret=f"calsync/{STAGE}/oauth-app",
        api_base=f"http://{host}:{os.environ.get('CALSYNC_API_PORT', '3000')}",
        calendly_api_url=calendly,
        authorize_url=f"{calendly}/oauth/authorize",
    )


def stack_target(stack_name: str) -> Target:
    import boto3

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    }
    queues = {k.removesuffix("Url"): v for k, v in outputs.items() if k.endswith("QueueUrl")}
    dlqs = {f"{k.removesuffix('DLQUrl')}Queue": v for k, v in outputs.items() if k.endswith("DLQUrl")}
    return Target(
        None,
        outputs["BookingsTableName"],
        queues,
        dlqs,
        token_prefix=outputs["TokenSecretPrefix"],
        signing_key_prefix=outputs["SigningKeySecretPrefix"],
        oauth_app_secret=outputs["OAuthAppSecretName"],
        api_base=outputs["OAuthCallbackUrl"].removesuffix("/oauth/callback"),
    )


def _target(args: argparse.Namespace) -> Target:
    return stack_target(args.stack) if getattr(args, "stack", None) else local_target()


# ------------------------------------------------------------------ send / load


def post_signed(url: str, body: bytes, key: str, *, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """POST a body with a fresh Calendly signature; the status and the JSON answer."""
    from calsync.webhooks.signature import sign_header

    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own endpoint
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Calendly-Webhook-Signature": sign_header(key.encode(), body, int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {"raw": raw.decode(errors="replace")}
    return status, answer


def _webhook_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    port = os.environ.get("CALSYNC_API_PORT", "3000")
    return f"http://{os.environ.get('CALSYNC_HOST', LOCAL_HOST)}:{port}/webhooks/calendly/{args.connection_id}"


def _send(args: argparse.Namespace) -> int:
    url, failures = _webhook_url(args), 0
    for name in args.files:
        try:
            status, answer = post_signed(url, Path(name).read_bytes(), args.key)
        except OSError as exc:
            print(f"{name}: cannot reach {url}: {exc} (is `make run` running?)", file=sys.stderr)
            return 2
        failures += status >= 300
        print(f"{status} {name} {json.dumps(answer)}")
    return 1 if failures else 0


def synthetic_bodies(count: int, run: str, *, template: Path | None = None) -> list[bytes]:
    """``count`` distinct invitee.created deliveries (own invitee and event each), their
    e-mails ``load-<run>-<n>@example.com``."""
    base = json.loads((template or events.EVENTS / "webhooks" / "invitee_created.json").read_bytes())
    bodies = []
    for n in range(count):
        data = copy.deepcopy(base)
        invitee, event = uuid.uuid4().hex.upper(), uuid.uuid4().hex.upper()
        payload = data["payload"]
        payload["uri"] = f"https://api.calendly.com/scheduled_events/{event}/invitees/{invitee}"
        payload["event"] = f"https://api.calendly.com/scheduled_events/{event}"
        payload["email"] = f"load-{run}-{n}@example.com"
        if isinstance(payload.get("scheduled_event"), dict):
            payload["scheduled_event"]["uri"] = payload["event"]
        bodies.append(json.dumps(data).encode())
    return bodies


@dataclass
class LoadResult:
    sent: int
    accepted: int
    statuses: dict[int, int]
    seconds: float
    persisted: int | None = None
    persisted_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def run_load(url: str, key: str, bodies: Sequence[bytes], concurrency: int, progress: Progress) -> LoadResult:
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(post_signed, url, body, key) for body in bodies]
        for future in as_completed(futures):
            try:
                status = future.result()[0]
            except OSError:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            progress.advance()
    seconds = time.perf_counter() - start
    accepted = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return LoadResult(len(bodies), accepted, statuses, seconds)


def _load(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= 256:
        print("--concurrency must be between 1 and 256", file=sys.stderr)
        return 2
    run = uuid.uuid4().hex[:8]
    bodies = synthetic_bodies(args.count, run)
    url = _webhook_url(args)
    started = time.perf_counter()
    result = run_load(url, args.key, bodies, args.concurrency, Progress(len(bodies), "sending"))
    print(
        f"sent {result.sent} deliveries in {result.seconds:.2f} s = {result.per_second:.0f} deliveries/s"
        f" (concurrency {args.concurrency}); 2xx: {result.accepted}; statuses: {result.statuses}"
    )
    if args.no_wait:
        return 0 if result.accepted == result.sent else 1
    target = _target(args)
    deadline = time.monotonic() + args.wait
    # Queue depth is a cheap question; counting the table is a Scan, asked once at the end.
    while queued(target) and time.monotonic() < deadline:
        time.sleep(0.5)
    took = time.perf_counter() - started
    persisted = persisted_by_run(target, run)
    print(
        f"persisted {persisted}/{result.sent} in {took:.2f} s from the first send = {persisted / took:.0f} bookings/s"
    )
    return 0 if result.accepted == result.sent == persisted else 1


def queued(target: Target) -> int:
    """Messages waiting or in flight in the source queues (DLQs excluded)."""
    sqs = target.client("sqs")
    return sum(queue_depth(sqs, url) for url in target.queues.values())


def persisted_by_run(target: Target, run: str) -> int:
    """Invitees stored from one `calsync load` run (their e-mails carry the run id)."""
    client = target.client("dynamodb")
    total, kwargs = (
        0,
        {
            "TableName": target.table,
            "Select": "COUNT",
            "FilterExpression": "begins_with(email, :p)",
            "ExpressionAttributeValues": {":p": {"S": f"load-{run}-"}},
        },
    )
    while True:
        page = client.scan(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ------------------------------------------------------------------ bookings


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def find_bookings(
    target: Target,
    *,
    email: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> list[Booking]:
    from calsync.store.bookings import DynamoBookingsRepository

    repo = DynamoBookingsRepository(target.table, target.client("dynamodb"))
    if email:
        items = repo.bookings_by_email(email, start=since, end=until)
    else:
        items = repo.all_bookings()

        def within(item: Booking) -> bool:
            start = item.start_time
            if since is None and until is None:
                return True
            if not start:
                return False
            at = _parse_time(start)
            return (since is None or at >= since) and (until is None or at <= until)

        items = sorted((i for i in items if within(i)), key=lambda i: (i.start_time or "~", i.invitee_uuid))
    return [i for i in items if status is None or i.status == status]


def _bookings(args: argparse.Namespace) -> int:
    target = _target(args)
    since = _parse_time(args.since) if args.since else None
    until = _parse_time(args.until) if args.until else None
    try:
        items = find_bookings(target, email=args.email, since=since, until=until, status=args.status)
    except Exception as exc:
        print(f"cannot read bookings from {target.endpoint_url or 'AWS'}: {type(exc).__name__}", file=sys.stderr)
        return 2
    if args.json:
        keep = (
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
        json.dump([{k: getattr(i, k) for k in keep} for i in items], sys.stdout, indent=2, default=str)
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


# ------------------------------------------------------------------ dlq


def dlq_messages(target: Target, queue: str) -> list[dict[str, Any]]:
    """Peek at a DLQ: every message is received, then made visible again at once."""
    sqs = target.client("sqs")
    url = target.dlqs[queue]
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


def redrive(target: Target, queue: str, progress: Progress | None = None) -> int:
    """Move every message of ``queue``'s DLQ back to ``queue`` (body and attributes intact)."""
    sqs, moved = target.client("sqs"), 0
    depth = queue_depth(sqs, target.dlqs[queue], in_flight=False)
    progress = progress or Progress(depth, f"redrive {queue}")
    progress.total = depth
    while True:
        batch = sqs.receive_message(
            QueueUrl=target.dlqs[queue], MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
        ).get("Messages", [])
        if not batch:
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
    target = _target(args)
    queues = [args.queue] if args.queue else sorted(target.dlqs)
    unknown = [q for q in queues if q not in target.dlqs]
    if unknown:
        print(f"unknown queue {unknown[0]}; one of: {', '.join(sorted(target.dlqs))}", file=sys.stderr)
        return 2
    if args.action == "redrive":
        for queue in queues:
            moved = redrive(target, queue)
            if moved or args.queue:
                print(f"{queue}: moved {moved} message(s) back for processing")
        return 0
    total = 0
    for queue in queues:
        messages = dlq_messages(target, queue)
        total += len(messages)
        for message in messages:
            attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            print(
                f"{queue:<22} {message['MessageId']}  event={attrs.get('event', '?')} "
                f"connection={attrs.get('connection_id', '?')} received_at={attrs.get('received_at', '?')} "
                f"receives={receives}"
            )
    print(f"{total} dead-lettered message(s)" + ("; `calsync dlq redrive` moves them back" if total else ""))
    return 0


# ------------------------------------------------------------------ connections


def _services(target: Target) -> tuple[Any, Any, Any, Any]:
    from calsync.store.connections import DynamoConnectionRegistry
    from calsync.store.secrets import SecretsManagerSigningKeys
    from calsync.store.tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore

    secrets = target.client("secretsmanager")
    return (
        DynamoConnectionRegistry(target.table, target.client("dynamodb")),
        SecretsManagerTokenStore(target.token_prefix, client=secrets),
        SecretsManagerSigningKeys(target.signing_key_prefix, client=secrets),
        SecretsManagerOAuthApp(target.oauth_app_secret, client=secrets),
    )


def _connect(args: argparse.Namespace) -> int:
    from calsync.calendly.client import CalendlyClient
    from calsync.connections.connect import ConnectError, Connector, start_oauth

    target = _target(args)
    registry, tokens, signing_keys, app = _services(target)
    try:
        if args.kind == "oauth":
            redirect = args.redirect_uri or f"{target.api_base}/oauth/callback"
            url = start_oauth(
                registry,
                app,
                connection_id=args.connection_id,
                redirect_uri=redirect,
                now=time.time(),
                authorize_url=target.authorize_url,
            )
            print("Open this link (valid 10 minutes, once) and approve calsync in Calendly:")
            print(url)
            return 0
        pat = os.environ.get("CALENDLY_PAT") or getpass.getpass("Calendly personal access token: ")
        connection = Connector(registry, tokens, signing_keys).connect_pat(
            connection_id=args.connection_id,
            personal_access_token=pat.strip(),
            calendly_for=lambda token: CalendlyClient(lambda: token, base_url=target.calendly_api_url),
            api_base=target.api_base,
        )
    except ConnectError as exc:
        print(f"not connected: {exc} ({exc.reason})", file=sys.stderr)
        return 1
    print(f"connected '{connection.connection_id}' ({connection.organization}); webhooks → {connection.callback_url}")
    return 0


def _connections(args: argparse.Namespace) -> int:
    registry, *_ = _services(_target(args))
    rows = list(registry.all())
    if args.json:
        json.dump([asdict(c) for c in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{'connection':<16} {'kind':<6} {'status':<16} {'token expires (UTC)':<21} subscription")
    for c in rows:
        expires = (
            datetime.fromtimestamp(c.token_expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%S") if c.token_expires_at else "-"
        )
        status = c.status + (f" ({c.status_reason})" if c.status_reason else "")
        print(f"{c.connection_id:<16} {c.kind:<6} {status:<16} {expires:<21} {c.subscription_uri or '-'}")
    print(f"{len(rows)} connection(s)")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from calsync.calendly.client import CalendlyClient, CalendlyError
    from calsync.store.queues import SqsDeliveryQueue
    from calsync.store.tokens import CachedToken
    from calsync.webhooks.routing import QueueKind
    from calsync_dev.backfill import backfill
    from calsync_dev.template import queue_logical_id

    target = _target(args)
    registry, tokens, _, _ = _services(target)
    connection = registry.get(args.connection_id)
    if connection is None:
        print(f"no connection '{args.connection_id}' (see `calsync connections`)", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    since = _parse_time(args.since) if args.since else now - timedelta(days=7)
    until = _parse_time(args.until) if args.until else now + timedelta(days=90)
    urls = {kind: target.queues[queue_logical_id(kind)] for kind in QueueKind}
    queue = SqsDeliveryQueue(urls, target.client("sqs"))
    cached = CachedToken(tokens, connection.connection_id)
    with CalendlyClient(cached.get, on_unauthorized=cached.refetch, base_url=target.calendly_api_url) as calendly:
        try:
            result = backfill(
                calendly,
                queue,
                connection_id=connection.connection_id,
                organization=connection.organization,
                since=since,
                until=until,
                now=now,
            )
        except CalendlyError as exc:
            print(f"Calendly refused: {exc.title} ({exc.status})", file=sys.stderr)
            return 1
    print(
        f"{result.events} scheduled event(s) starting {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC; "
        f"enqueued {result.total} deliveries {dict(sorted(result.deliveries.items()))}"
    )
    return 0


# ------------------------------------------------------------------ events render / local


def _render(args: argparse.Namespace) -> int:
    body = Path(args.file).read_bytes()
    event = events.signed_api_gateway_event(
        body, args.key, connection_id=args.connection_id, base64_encoded=args.base64
    )
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _local(args: argparse.Namespace) -> int:
    from calsync_dev.local import run

    return run()


def _key_default() -> str:
    return os.environ.get("CALSYNC_LOCAL_SIGNING_KEY", events.DEFAULT_LOCAL_KEY)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calsync", description="calsync developer and operator commands", epilog=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("local", help="run calsync on this machine (AWS emulator, API, processors)").set_defaults(
        func=_local
    )

    def sender(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--url", help="webhook URL (default: the local stack's, for --connection-id)")
        cmd.add_argument("--connection-id", default="local")
        cmd.add_argument("--key", default=_key_default(), help="signing key (default: the local stack's)")

    send = commands.add_parser("send", help="sign webhook bodies and POST them")
    send.add_argument("files", nargs="+", metavar="FILE")
    sender(send)
    send.set_defaults(func=_send)

    load = commands.add_parser("load", help="send many distinct signed deliveries concurrently")
    load.add_argument("--count", type=int, default=1000)
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--wait", type=float, default=120, help="seconds to wait for every one to be persisted")
    load.add_argument("--no-wait", action="store_true", help="do not wait for persistence")
    load.add_argument("--stack", help="deployed stack name (default: the local stack)")
    sender(load)
    load.set_defaults(func=_load)

    bookings = commands.add_parser("bookings", help="list stored bookings")
    bookings.add_argument("--email")
    bookings.add_argument("--since", help="start time from (ISO 8601)")
    bookings.add_argument("--until", help="start time up to (ISO 8601)")
    bookings.add_argument("--status", choices=["active", "canceled"])
    bookings.add_argument("--json", action="store_true")
    bookings.add_argument("--stack", help="deployed stack name (default: the local stack)")
    bookings.set_defaults(func=_bookings)

    dlq = commands.add_parser("dlq", help="show (list) or redrive dead-lettered deliveries")
    dlq.add_argument("action", nargs="?", choices=["list", "redrive"], default="list")
    dlq.add_argument("--queue", help="source queue logical id, e.g. InviteeCreatedQueue (default: all)")
    dlq.add_argument("--stack", help="deployed stack name (default: the local stack)")
    dlq.set_defaults(func=_dlq)

    connect = commands.add_parser("connect", help="connect a Calendly organization (OAuth link, or a PAT)")
    connect.add_argument("kind", choices=["oauth", "pat"])
    connect.add_argument("--connection-id", required=True, help="your name for it: letters, digits, - and _")
    connect.add_argument("--redirect-uri", help="OAuth redirect (default: this stack's /oauth/callback)")
    connect.add_argument("--stack", help="deployed stack name (default: the local stack)")
    connect.set_defaults(func=_connect)

    connections = commands.add_parser("connections", help="list connections and their token / subscription state")
    connections.add_argument("--json", action="store_true")
    connections.add_argument("--stack", help="deployed stack name (default: the local stack)")
    connections.set_defaults(func=_connections)

    fill = commands.add_parser("backfill", help="re-deliver a connection's bookings from Calendly's API (after a gap)")
    fill.add_argument("--connection-id", required=True)
    fill.add_argument("--since", help="scheduled events starting from (ISO 8601; default: 7 days ago)")
    fill.add_argument("--until", help="scheduled events starting up to (ISO 8601; default: in 90 days)")
    fill.add_argument("--stack", help="deployed stack name (default: the local stack)")
    fill.set_defaults(func=_backfill)

    events_cmd = commands.add_parser("events", help="sample events for sam local invoke")
    events_sub = events_cmd.add_subparsers(dest="events_command", required=True)
    render = events_sub.add_parser("render", help="print a freshly signed API Gateway event for a webhook body")
    render.add_argument("file", help="webhook body, e.g. events/webhooks/invitee_created.json")
    render.add_argument("--key", default=_key_default(), help="signing key (default: the local stack's)")
    render.add_argument("--connection-id", default="local")
    render.add_argument("--base64", action="store_true", help="base64-encode the body as API Gateway may")
    render.set_defaults(func=_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
