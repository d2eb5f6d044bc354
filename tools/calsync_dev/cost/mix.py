"""The fixture mix through the whole pipeline, in-process on moto, provisioned from
template.yaml: receiver → queue → processor → table → stream → lifecycle publisher → bus, then
the reminders' schedules fired; the scheduled functions run once each for the idle month."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from calsync_dev.cost.lake import LAKE_FUNCTION, firehose_event, lake_envelopes, lake_rows
from calsync_dev.cost.meter import Meter, Usage
from calsync_dev.cost.units import Table, item_size
from calsync_dev.template import ROOT, deployed, load, parameter_values

EVENTS = ROOT / "events" / "webhooks"
FIXTURES = ROOT / "tests" / "fixtures" / "calendly" / "webhooks"
BARE_NO_SHOW = "invitee_payload_object_with_no_show_payment_reconfirmation__calendlyr.json"
KEY = "calsync-cost-signing-key"
CONNECTION = "acme"
REGION = "us-east-1"
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"  # moto in-process (ENVIRONMENT.md)
RECEIVER, PUBLISHER, REMINDER = "ReceiverFunction", "LifecyclePublisherFunction", "ReminderFunction"
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_PER_MONTH = {"minute": 730 * 60, "hour": 730, "day": 730 / 24}


def mix() -> list[tuple[str, bytes]]:
    """Every events/ body (each kind, a reschedule pair, a no-show set and cleared, a routing
    form, an unknown event), every real Calendly fixture, then duplicates: the same body again
    (a retry) and the same content newly signed (two deliveries of one change)."""
    bodies = [(f"events/{p.name}", p.read_bytes()) for p in sorted(EVENTS.glob("*.json"))]
    for path in sorted(FIXTURES.glob("*.json")):
        raw = path.read_bytes()
        if path.name == BARE_NO_SHOW:  # a bare invitee payload: what a no-show delivery carries
            envelope = {"event": "invitee_no_show.created", "created_at": "2020-11-23T18:00:00.000000Z"}
            raw = json.dumps({**envelope, "payload": json.loads(raw)}).encode()
        bodies.append((f"fixtures/{path.name}", raw))
    again = dict(bodies)
    bodies += [
        ("duplicate: events/invitee_created.json", again["events/invitee_created.json"]),
        ("duplicate: events/invitee_canceled.json", again["events/invitee_canceled.json"]),
        (
            "duplicate: events/routing_form_submission_created.json",
            again["events/routing_form_submission_created.json"],
        ),
    ]
    return bodies


@dataclass
class Run:
    deliveries: int
    usage: dict[str, Usage]  # per function, the deliveries' traffic
    idle: dict[str, Usage]  # per scheduled function, one invocation
    memory_mb: dict[str, int]
    schedules_fired: int
    api_requests: int
    sqs_event_source_requests: int
    traces: int  # what X-Ray would record with Tracing: Active
    stored_bytes: int
    template: dict[str, Any] = field(repr=False)
    tracing: str = "PassThrough"  # the template's Tracing for the parameters the run used
    parameters: dict[str, str] = field(default_factory=dict)
    # Per function that read a secret: how long it caches it (None: once per cold start).
    secret_cache_seconds: dict[str, float | None] = field(default_factory=dict)
    writes: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    rates_per_month: dict[str, float] = field(default_factory=dict)
    # The analytics lake (Analytics on): each event put on its Firehose stream, its size in bytes.
    lake_record_sizes: list[int] = field(default_factory=list)
    lake_rows: int = 0


def resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def memory_sizes(template: Mapping[str, Any]) -> dict[str, int]:
    default = int(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        name: int(spec.get("Properties", {}).get("MemorySize", default))
        for name, spec in resources(template, "AWS::Serverless::Function").items()
    }


def tracing_mode(
    template: Mapping[str, Any], function: str | None = None, parameters: dict[str, str] | None = None
) -> str:
    """A function's X-Ray mode (the Globals' without one): ``Active`` or ``PassThrough``, a
    ``Ref`` to a parameter read at its default unless overridden."""
    globals_ = template.get("Globals", {}).get("Function", {})
    own = template["Resources"].get(function, {}).get("Properties", {}) if function else {}
    mode = own.get("Tracing", globals_.get("Tracing", "PassThrough"))
    if isinstance(mode, Mapping) and set(mode) == {"Ref"}:
        mode = parameter_values(dict(template), parameters)[mode["Ref"]]
    return str(mode)


def platform_lines(
    template: Mapping[str, Any], memory: Mapping[str, int], parameters: dict[str, str] | None = None
) -> Any:
    """START/END/REPORT as Lambda writes them (text format, an X-Ray line with Tracing:
    Active); none when a function's LoggingConfig sets SystemLogLevel WARN or ERROR."""
    functions = resources(template, "AWS::Serverless::Function")
    globals_ = template.get("Globals", {}).get("Function", {})

    def config(name: str) -> dict[str, Any]:
        return {**globals_.get("LoggingConfig", {}), **functions[name].get("Properties", {}).get("LoggingConfig", {})}

    def render(function: str, request_id: str, ms: float) -> str:
        cfg = config(function)
        if cfg.get("SystemLogLevel") in ("WARN", "ERROR"):
            return ""
        billed, mb = max(1, -(-int(ms * 1000) // 1000)), memory[function]
        tracing = tracing_mode(template, function, parameters)
        if cfg.get("LogFormat") == "JSON":
            time = '"time":"2026-11-30T00:00:00.000Z"'
            return (
                f'{{{time},"type":"platform.start","record":{{"requestId":"{request_id}","version":"$LATEST"}}}}\n'
                f'{{{time},"type":"platform.report","record":{{"requestId":"{request_id}","metrics":'
                f'{{"durationMs":{ms:.3f},"billedDurationMs":{billed},"memorySizeMB":{mb},"maxMemoryUsedMB":95}},'
                f'"status":"success"}}}}\n'
            )
        xray = "XRAY TraceId: 1-674a6b00-0123456789abcdef01234567\tSegmentId: 0123456789abcdef\tSampled: true\t\n"
        return (
            f"START RequestId: {request_id} Version: $LATEST\n"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {mb} MB\tMax Memory Used: 95 MB\t\n" + (xray if tracing == "Active" else "")
        )

    return render


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def measure(bodies: list[tuple[str, bytes]] | None = None, parameters: dict[str, str] | None = None) -> Run:
    """Run the mix (default: ``mix()``) and return what every function did, for the template's
    parameters (defaults unless overridden)."""
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_DEV": "false",
    }
    saved_endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with _environment(fake):
            from moto import mock_aws

            with mock_aws():
                return _measure(mix() if bodies is None else bodies, parameters or {})
    finally:
        if saved_endpoint is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved_endpoint


def _measure(bodies: list[tuple[str, bytes]], parameters: dict[str, str]) -> Run:
    import boto3
    import botocore.session

    from calsync.aws import clients
    from calsync.intake.routing import QueueKind
    from calsync_dev.events import SAMPLES_NOW, signed_api_gateway_event
    from calsync_dev.lambda_runtime import LambdaContext, load_handler, set_clock
    from calsync_dev.provision import provision, register_webhook_connection
    from calsync_dev.pump import SqsEventSource
    from calsync_dev.streams import StreamEventSource
    from calsync_dev.template import processor_logical_id, queue_logical_id

    template = load()
    memory = memory_sizes(template)
    stack = provision(boto3.Session(region_name=REGION))
    table_specs = resources(template, "AWS::DynamoDB::Table")
    tables = {stack.tables[name]: Table.from_template(spec["Properties"]) for name, spec in table_specs.items()}
    inspector: Any = botocore.session.get_session().create_client("dynamodb", region_name=REGION)
    meter = Meter(tables, inspector, platform_log=platform_lines(template, memory, parameters))
    boto3.setup_default_session(region_name=REGION)
    assert boto3.DEFAULT_SESSION is not None
    meter.attach(boto3.DEFAULT_SESSION.events)
    clients.reset()  # the functions' clients are built from the metered session from now on

    environment: dict[str, str] = {}
    for spec in stack.functions.values():
        environment.update(spec.environment)
    with _environment(environment):
        receiver_env = stack.functions[RECEIVER].environment
        register_webhook_connection(receiver_env, CONNECTION, KEY)

        def handler(name: str) -> Any:
            loaded = load_handler(stack.functions[name], apply_environment=False)
            if name == PUBLISHER:  # the samples' reminders ahead of it, whatever today's date is
                set_clock(loaded, SAMPLES_NOW)
            return meter.wrap(name, loaded)

        receiver = handler(RECEIVER)
        sqs = boto3.client("sqs")
        sources = [
            SqsEventSource(
                sqs,
                stack.queue_urls[queue_logical_id(kind)],
                stack.queue_arns[queue_logical_id(kind)],
                handler(processor_logical_id(kind)),
                LambdaContext(processor_logical_id(kind)),
            )
            for kind in QueueKind
        ]
        publisher_spec = stack.functions[PUBLISHER]
        streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        stream = StreamEventSource.from_event(
            streams, publisher_spec.events["TableChanges"], handler(PUBLISHER), LambdaContext(PUBLISHER)
        )
        for _, body in bodies:
            event = signed_api_gateway_event(body, KEY, connection_id=CONNECTION)
            response = receiver(event, LambdaContext(RECEIVER))
            if response["statusCode"] >= 300:
                raise RuntimeError(f"the receiver refused a mix delivery: {response}")
            for source in sources:  # one delivery at a time: batches of one, as at booking volumes
                source.drain()
            stream.drain()

        # The reminders' schedules fire (moto's Scheduler never does): each invokes its target.
        scheduler = boto3.client("scheduler")
        group = publisher_spec.environment["SCHEDULE_GROUP_NAME"]
        reminder = handler(REMINDER)
        fired = 0
        for summary in scheduler.list_schedules(GroupName=group)["Schedules"]:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
            reminder(json.loads(schedule["Target"]["Input"]), LambdaContext(REMINDER))
            fired += 1
        stream.drain()

        # The analytics lake: every event its rule matches goes to Firehose, whose transformer runs
        # once per record (batches of one: the upper bound at booking volumes).
        lake_records: list[bytes] = []
        if LAKE_FUNCTION in deployed(template, parameters)["Resources"]:
            lake_records = lake_envelopes(call for u in meter.usage.values() for call in u.calls)
            transformer = handler(LAKE_FUNCTION)
            for record in lake_records:
                transformer(firehose_event([record]), LambdaContext(LAKE_FUNCTION))

        # The scheduled functions, once each (what an idle month repeats).
        idle_meter = Meter(tables, inspector, platform_log=meter.platform_log)
        boto3.DEFAULT_SESSION.events.unregister("before-parameter-build", meter._before)
        boto3.DEFAULT_SESSION.events.unregister("after-call", meter._after)
        idle_meter.attach(boto3.DEFAULT_SESSION.events)
        clients.reset()
        rates: dict[str, float] = {}
        for name, resource in resources(template, "AWS::Serverless::Function").items():
            for source in resource.get("Properties", {}).get("Events", {}).values():
                if source.get("Type") != "Schedule":
                    continue
                match = _RATE.fullmatch(str(source["Properties"]["Schedule"]))
                if match is None:
                    continue
                rates[name] = _PER_MONTH[match.group(2).rstrip("s")] / int(match.group(1))
                spec = stack.functions[name]
                # One process for every function: each dispatches to its own work queue (docs/scale.md)
                os.environ.pop("WORK_QUEUE_URL", None)
                os.environ.update({k: v for k, v in spec.environment.items() if k == "WORK_QUEUE_URL"})
                scheduled = idle_meter.wrap(name, load_handler(spec, apply_environment=False))
                event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
                scheduled(event, LambdaContext(name, timeout_seconds=spec.timeout))

    usage = meter.usage
    processors = [processor_logical_id(kind) for kind in QueueKind]
    batches = sum(usage[p].invocations for p in processors if p in usage)
    # What the table stores (DynamoDB adds 100 bytes per item for its indexes' bookkeeping).
    stored = sum(item_size(item) + 100 for item in inspector.scan(TableName=next(iter(tables)))["Items"])
    return Run(
        deliveries=len(bodies),
        usage=usage,
        idle=idle_meter.usage,
        memory_mb=memory,
        schedules_fired=fired,
        api_requests=usage[RECEIVER].invocations,
        sqs_event_source_requests=2 * batches,  # per batch: one ReceiveMessage, one DeleteMessageBatch
        # A new trace per API request and per stream batch (SQS carries the receiver's trace on).
        traces=usage[RECEIVER].invocations + usage[PUBLISHER].invocations + usage.get(REMINDER, Usage()).invocations,
        stored_bytes=stored,
        template=template,
        secret_cache_seconds={
            name: _secret_cache_seconds(name, stack.functions[name].environment)
            for name, u in usage.items()
            if u.secret_reads
        },
        tracing=tracing_mode(template, parameters=parameters),
        parameters=dict(parameters),
        writes=meter.write_log,
        rates_per_month=rates,
        lake_record_sizes=[len(record) for record in lake_records],
        lake_rows=lake_rows(lake_records),
    )


def _secret_cache_seconds(function: str, environment: Mapping[str, str]) -> float | None:
    """How long a function keeps a secret it read: the receiver its signing keys for its
    settings' ``signing_key_cache_seconds`` (``compose.receiver``); the others (the processors'
    erasure key, ``compose.tombstones``) for the life of the environment: None."""
    if function != RECEIVER:
        return None
    from calsync.config import ReceiverSettings

    return float(ReceiverSettings.from_env(dict(environment)).signing_key_cache_seconds)
