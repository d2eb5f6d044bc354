"""`make logbytes`: CloudWatch Logs bytes per delivery at INFO, per function, measured.

Runs deliveries through the receiver, the processors and the lifecycle publisher in-process
(moto, the stack provisioned from template.yaml), captures every byte each function writes to
stdout/stderr (log lines and EMF metric lines alike), and adds the platform lines Lambda itself
writes per invocation (START / END / REPORT) unless the template's ``LoggingConfig`` drops them
(``LogFormat: JSON`` with ``SystemLogLevel: WARN``). Two shapes: deliveries one at a time (every
batch holds one record: the worst case) and ten at once (the processors get a batch of ten).
Prints a table, then one JSON line of every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# What Lambda writes per invocation in Text format with active tracing (sizes of real lines:
# a 36-character request id, a REPORT with its XRAY line).
PLATFORM_LINES_BYTES = len(
    "START RequestId: 8f507cfc-3c2a-4697-b07a-ac58fc914c95 Version: $LATEST\n"
    "END RequestId: 8f507cfc-3c2a-4697-b07a-ac58fc914c95\n"
    "REPORT RequestId: 8f507cfc-3c2a-4697-b07a-ac58fc914c95\tDuration: 12.71 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 81 MB\t\n"
    "XRAY TraceId: 1-5e34a614-10bd3c2af1fb44f07bc535a1\tSegmentId: 07f53c2a2d1f6f85\tSampled: true\t\n"
)
FUNCTIONS = ("receiver", "processor", "publisher")


@contextlib.contextmanager
def _captured() -> Iterator[Callable[[], bytes]]:
    """Everything the function writes meanwhile: through ``sys.stdout``/``sys.stderr`` (EMF,
    print), through the calsync logger's handlers (wherever their stream points, e.g. under
    pytest) and straight to file descriptors 1 and 2 (where Lambda reads logs from)."""
    text = io.StringIO()
    handlers = [h for h in logging.getLogger("calsync").handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(text) for h in handlers]
    saved_sys = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = text
    saved_fds = os.dup(1), os.dup(2)
    result: list[bytes] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: b"".join(result)
        finally:
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])
            sys.stdout, sys.stderr = saved_sys
            for handler, stream in zip(handlers, streams, strict=True):
                handler.setStream(stream)
            sink.seek(0)
            result.append(sink.read() + text.getvalue().encode())


def platform_bytes(logging_config: dict[str, Any]) -> int:
    """Bytes of Lambda's own lines per invocation under this LoggingConfig."""
    if logging_config.get("LogFormat") == "JSON" and logging_config.get("SystemLogLevel") == "WARN":
        return 0
    return PLATFORM_LINES_BYTES


def measure(deliveries: int, batch: int) -> dict[str, Any]:
    """Send ``deliveries`` distinct invitee.created deliveries, ``batch`` at a time; bytes each function wrote."""
    run = _run(deliveries, batch)
    figures: dict[str, Any] = {"deliveries": deliveries, "batch": batch}
    total = 0.0
    for function in FUNCTIONS:
        config = _logging_config(run.template, run.logical_ids[function])
        written = sum(len(output) for output in run.outputs[function])
        platform = platform_bytes(config) * len(run.outputs[function])
        per_delivery = (written + platform) / deliveries
        figures[function] = {
            "invocations": len(run.outputs[function]),
            "application_bytes": written,
            "platform_bytes": platform,
            "per_delivery": round(per_delivery, 1),
        }
        total += per_delivery
    figures["per_delivery"] = round(total, 1)
    return figures


def lines(deliveries: int, batch: int = 1) -> dict[str, list[dict[str, Any]]]:
    """The JSON lines each function wrote (EMF metric lines included), for tests and a look."""
    run = _run(deliveries, batch)
    return {
        function: [json.loads(line) for output in outputs for line in output.splitlines() if line.strip()]
        for function, outputs in run.outputs.items()
    }


@dataclass
class _Run:
    template: dict[str, Any]
    logical_ids: dict[str, str]
    outputs: dict[str, list[bytes]] = field(default_factory=lambda: {f: [] for f in FUNCTIONS})


def _run(deliveries: int, batch: int) -> _Run:
    saved = dict(os.environ)
    try:
        return _run_in(deliveries, batch)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run_in(deliveries: int, batch: int) -> _Run:
    import boto3
    from moto import mock_aws

    from calsync.aws import clients
    from calsync.intake.routing import QueueKind
    from calsync_dev.cli.send import synthetic_bodies
    from calsync_dev.events import SAMPLES_NOW, signed_api_gateway_event
    from calsync_dev.lambda_runtime import LambdaContext, load_handler, set_clock
    from calsync_dev.provision import provision, register_webhook_connection
    from calsync_dev.pump import SqsEventSource
    from calsync_dev.streams import StreamEventSource
    from calsync_dev.template import load, processor_logical_id, queue_logical_id

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_DEV": "false",
        # What Lambda sets: Powertools adds the trace id to every line, as it would in AWS.
        "_X_AMZN_TRACE_ID": "Root=1-5e34a614-10bd3c2af1fb44f07bc535a1;Parent=07f53c2a2d1f6f85;Sampled=1",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    template = load()
    run = _Run(template, {})

    def counted(function: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def invoke(event: Any, context: Any) -> Any:
            with _captured() as output:
                answer = handler(event, context)
            run.outputs[function].append(output())
            return answer

        return invoke

    with mock_aws():
        clients.reset()
        stack = provision(boto3.Session(region_name="us-east-1"))
        for spec in stack.functions.values():
            os.environ.update(spec.environment)
        receiver_spec = stack.functions["ReceiverFunction"]
        register_webhook_connection(receiver_spec.environment, "acme", "logbytes-key")
        receiver = counted("receiver", load_handler(receiver_spec, apply_environment=False))
        processor_spec = stack.functions[processor_logical_id(QueueKind.INVITEE_CREATED)]
        sqs = boto3.client("sqs")
        queue = queue_logical_id(QueueKind.INVITEE_CREATED)
        source = SqsEventSource(
            sqs,
            stack.queue_urls[queue],
            stack.queue_arns[queue],
            counted("processor", load_handler(processor_spec, apply_environment=False)),
            LambdaContext(processor_spec.logical_id),
        )
        publisher_spec = stack.functions["LifecyclePublisherFunction"]
        publisher = load_handler(publisher_spec, apply_environment=False)
        set_clock(publisher, SAMPLES_NOW)  # the samples' reminders ahead of it, whatever today's date is
        streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        stream = StreamEventSource.from_event(
            streams,
            publisher_spec.events["TableChanges"],
            counted("publisher", publisher),
            LambdaContext("LifecyclePublisherFunction"),
        )
        bodies = synthetic_bodies(deliveries, "logbytes")
        for start in range(0, deliveries, batch):
            for body in bodies[start : start + batch]:
                event = signed_api_gateway_event(body, "logbytes-key", connection_id="acme")
                response = receiver(event, LambdaContext("ReceiverFunction"))
                if response["statusCode"] != 202:
                    raise RuntimeError(f"the receiver answered {response['statusCode']}: {response['body']}")
            source.drain()
            stream.drain()
        clients.reset()

    run.logical_ids = {
        "receiver": "ReceiverFunction",
        "processor": processor_spec.logical_id,
        "publisher": "LifecyclePublisherFunction",
    }
    return run


def _logging_config(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The function's LoggingConfig with the Globals' merged in (SAM merges maps)."""
    globals_config = template.get("Globals", {}).get("Function", {}).get("LoggingConfig", {})
    own = template["Resources"][logical_id].get("Properties", {}).get("LoggingConfig", {})
    return {**globals_config, **own}


def render(runs: Sequence[dict[str, Any]]) -> str:
    lines = [f"{'shape':<28}{'receiver':>10}{'processor':>11}{'publisher':>11}{'total':>9}", "-" * 69]
    for run in runs:
        shape = f"{run['deliveries']} deliveries, {run['batch']} at a time"
        cells = "".join(f"{run[f]['per_delivery']:>{w}.0f}" for f, w in zip(FUNCTIONS, (10, 11, 11), strict=True))
        lines.append(f"{shape:<28}{cells}{run['per_delivery']:>9.0f}")
    lines.append("bytes of CloudWatch Logs per delivery at INFO (application lines, EMF and platform lines)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-logbytes", description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10)
    args = parser.parse_args(argv)
    runs = [measure(args.deliveries, 1), measure(args.deliveries, 10)]
    print(render(runs))
    print(json.dumps({"logbytes": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
