"""Lifecycle events on the local stack: the table's stream runs the publisher (as Lambda's
stream event source does), every event on the bus is appended to ``events.jsonl`` (one JSON
object per line, beside the saved state) and lands in the local analytics lake (``lake/`` beside
it, Parquet, buffered like Firehose: ``calsync stats`` reads it), and reminders fire when due (moto's Scheduler
never fires them: a loop here does, and ``POST /_local/reminders/fire-due?at=<time>`` fires
those due by any time, so nobody waits a day in a test). With ``CALSYNC_LOCAL_FORWARD_URL``
set, the signed HTTP forwarder is on and POSTs every event there."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calsync_dev.analytics.buffer import LakeBuffer
from calsync_dev.local.faults import DUE_PATH
from calsync_dev.provision import Stack
from calsync_dev.streams import StreamEventSource

CAPTURE = "calsync-local-events"  # the local consumer: a rule on the bus → this queue → events.jsonl
REMINDER_FUNCTION = "ReminderFunction"
PUBLISHER = "LifecyclePublisherFunction"


class LocalLifecycle:
    def __init__(
        self,
        session: Any,
        endpoint_url: str,
        stack: Callable[[], Stack],
        invoke: Callable[[str, dict[str, Any]], Any],
        out: Callable[[str], None],
        events_file: Path,
        forward_url: str | None = None,
        lake: LakeBuffer | None = None,
    ) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.stack = stack  # the current one: the emulator's restart provisions anew
        self.invoke = invoke
        self.out = out
        self.events_file = events_file
        self.forward_url = forward_url
        self.lake = lake
        self._lock = threading.Lock()
        self._sources: list[StreamEventSource] | None = None
        self.due: Callable[[str, datetime], list[dict[str, Any]]] = self._due
        self._queue_url = ""

    @property
    def _publisher_env(self) -> dict[str, str]:
        return self.stack().env(PUBLISHER)

    def provision(self) -> None:
        """The capture queue and the bus rule feeding it; streams are read from now on."""
        sqs, events = self.session.client("sqs"), self.session.client("events")
        self._queue_url = sqs.create_queue(QueueName=CAPTURE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = self._publisher_env["EVENT_BUS_NAME"]
        events.put_rule(Name=CAPTURE, EventBusName=bus, EventPattern=json.dumps({"source": ["calsync"]}))
        events.put_targets(Rule=CAPTURE, EventBusName=bus, Targets=[{"Id": "local", "Arn": arn}])
        with self._lock:
            self._sources = None  # rebuilt at the stream's end: restored items were published before
        if self.forward_url:
            self._forward_to(self.forward_url)

    def _forward_to(self, url: str) -> None:
        """Turn the signed HTTP forwarder on (the template leaves it off): its secret's URL set,
        its rule put on the bus, targeting its queue (which the local stack already polls)."""
        stack = self.stack()
        secrets, events = self.session.client("secretsmanager"), self.session.client("events")
        name = stack.env("HttpForwarderFunction")["FORWARD_SECRET_NAME"]
        current = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({**current, "url": url}))
        bus = self._publisher_env["EVENT_BUS_NAME"]
        events.put_rule(
            Name="calsync-local-forward", EventBusName=bus, EventPattern=json.dumps({"source": ["calsync"]})
        )
        target = {"Id": "forward", "Arn": stack.queue_arns["ForwardQueue"]}
        events.put_targets(Rule="calsync-local-forward", EventBusName=bus, Targets=[target])
        self.out(f"  lifecycle events are also forwarded, signed, to {url}")

    def _source(self, name: str, event: dict[str, Any], streams: Any, stack: Stack) -> StreamEventSource:
        def handler(records: dict[str, Any], _context: Any) -> Any:
            return self.invoke(name, records)

        source = StreamEventSource.from_event(streams, event, handler, context=None)
        source.start = "LATEST"
        destination = event["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        dlq = next((url for logical, url in stack.queue_urls.items() if stack.queue_arns[logical] == destination), None)
        if dlq is not None:
            sqs = self.session.client("sqs")

            def dead_letter(record: dict[str, Any]) -> None:
                sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(record, default=str))

            source.on_failure = dead_letter
        return source

    def _stream_sources(self) -> list[StreamEventSource]:
        with self._lock:
            if self._sources is None:
                stack = self.stack()
                streams = self.session.client("dynamodbstreams", endpoint_url=self.endpoint_url)
                self._sources = [
                    self._source(name, event, streams, stack)
                    for name, spec in stack.functions.items()
                    for event in spec.events.values()
                    if event.get("Type") == "DynamoDB"
                ]
            return self._sources

    def pump_streams(self) -> int:
        """One round over every stream: the records handed to the publisher."""
        try:
            return sum(source.poll() for source in self._stream_sources())
        except Exception as exc:  # the emulator restarting: read the new stream from its end
            self.out(f"lifecycle stream: {type(exc).__name__}; reading it again from now on")
            with self._lock:
                self._sources = None
            return 0

    def pump_events(self) -> int:
        """Append what reached the bus to ``events.jsonl``; the number of events written."""
        sqs = self.session.client("sqs")
        messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return 0
        self.events_file.parent.mkdir(parents=True, exist_ok=True)
        with self.events_file.open("a", encoding="utf-8") as log:
            for message in messages:
                event = json.loads(message["Body"])
                log.write(json.dumps(event, sort_keys=True) + "\n")
                if self.lake is not None:
                    self.lake.add(event)
                self.out(f"event: {event.get('detail-type')} {event.get('detail', {}).get('event_id', '')}")
        sqs.delete_message_batch(
            QueueUrl=self._queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        return len(messages)

    def flush_lake(self, *, when_due: bool = False) -> int:
        """Write the lake records held (``when_due``: only if the buffer's time or size is up)."""
        if self.lake is None or (when_due and not self.lake.due()):
            return 0
        return len(self.lake.flush())

    def _due(self, group: str, at: datetime) -> list[dict[str, Any]]:
        """Ask the emulator which schedules are due (``calsync_dev.local.faults.DUE_PATH``)."""
        query = urllib.parse.urlencode({"group": group, "at": at.isoformat()})
        with urllib.request.urlopen(f"{self.endpoint_url}{DUE_PATH}?{query}", timeout=30) as answer:  # noqa: S310
            due: list[dict[str, Any]] = json.loads(answer.read())["due"]
            return due

    def fire_due(self, at: datetime) -> int:
        """Fire every reminder due by ``at`` (then delete it, as a one-time schedule is). The
        emulator says which are due in one answer, however many schedules wait (a ListSchedules
        page holds 50, and reading each with GetSchedule every round grew with the backlog)."""
        scheduler = self.session.client("scheduler")
        group = self._publisher_env["SCHEDULE_GROUP_NAME"]
        fired = 0
        for schedule in self.due(group, at):
            self.invoke(REMINDER_FUNCTION, json.loads(schedule["input"] or "{}"))
            scheduler.delete_schedule(Name=schedule["name"], GroupName=group)
            fired += 1
        return fired

    def run(self, stopped: threading.Event, gate: Any) -> None:
        """The loop: streams and the bus every moment, due reminders every 15 seconds."""
        last_reminders, idle = 0.0, 0
        while not stopped.is_set():
            gate.enter(wait=True)
            try:
                busy = self.pump_streams() + self.pump_events()
                self.flush_lake(when_due=True)
                now = datetime.now(UTC)
                if now.timestamp() - last_reminders >= 15:
                    last_reminders = now.timestamp()
                    self.fire_due(now)
            except Exception as exc:  # the emulator going away at shutdown, or a transient error
                if not stopped.is_set():
                    self.out(f"lifecycle: {type(exc).__name__}")
                busy = 0
            finally:
                gate.leave()
            idle = 0 if busy else idle + 1
            if idle:  # back off while nothing happens (0.3 s, then up to 1 s): fewer idle calls
                stopped.wait(min(1.0, 0.3 * idle))
        try:
            self.flush_lake()  # at stop: what is held lands too
        except OSError as exc:
            self.out(f"lifecycle: the lake's last records were not written ({type(exc).__name__})")
