"""The local stack's stand-in for EventBridge Scheduler firing one-time schedules (moto's never fire)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from calsync_dev.local.faults import due_schedules
from calsync_dev.local.lifecycle import REMINDER_FUNCTION, LocalLifecycle

GROUP = "calsync-local-reminders"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class OneFunctionStack:
    def env(self, name: str) -> dict[str, str]:
        return {"SCHEDULE_GROUP_NAME": GROUP}


class Calls:
    """The scheduler calls of a session's clients, counted by operation."""

    def __init__(self, session: boto3.Session) -> None:
        self.counts: dict[str, int] = {}
        session.events.register("before-call.scheduler.*", self.count)

    def count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] = self.counts.get(model.name, 0) + 1


def schedule(scheduler: Any, name: str, at: datetime) -> None:
    scheduler.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:r",
            "RoleArn": "arn:aws:iam::1:role/r",
            "Input": json.dumps({"name": name}),
        },
    )


@pytest.fixture
def local(aws: None, tmp_path: Path) -> tuple[LocalLifecycle, list[dict[str, Any]], Calls]:
    session = boto3.Session(region_name="us-east-1")
    session.client("scheduler").create_schedule_group(Name=GROUP)
    fired: list[dict[str, Any]] = []

    def invoke(name: str, event: dict[str, Any]) -> None:
        assert name == REMINDER_FUNCTION
        fired.append(event)

    calls = Calls(session)
    # The emulator answers "which are due" from its own state (as the moto server does, here in-process)
    lifecycle = LocalLifecycle(session, "", OneFunctionStack, invoke, lambda _: None, tmp_path / "events.jsonl")  # type: ignore[arg-type]
    lifecycle.due = due_schedules
    return lifecycle, fired, calls


def test_every_due_reminder_fires_however_many_are_pending(local: tuple[LocalLifecycle, list[Any], Calls]) -> None:
    lifecycle, fired, _ = local
    scheduler = boto3.client("scheduler")
    # Given 70 reminders due (more than one page of ListSchedules) and 5 not yet due
    for n in range(70):
        schedule(scheduler, f"due-{n}", NOW - timedelta(minutes=1))
    for n in range(5):
        schedule(scheduler, f"later-{n}", NOW + timedelta(days=1))
    # When the local scheduler fires what is due
    assert lifecycle.fire_due(NOW) == 70
    # Then each due reminder fired once, and was deleted (one-time schedules); the others wait
    assert sorted(e["name"] for e in fired) == sorted(f"due-{n}" for n in range(70))
    left = scheduler.list_schedules(GroupName=GROUP)["Schedules"]
    assert sorted(s["Name"] for s in left) == [f"later-{n}" for n in range(5)]


def test_finding_the_due_reminders_reads_no_schedule_however_many_wait(
    local: tuple[LocalLifecycle, list[Any], Calls],
) -> None:
    lifecycle, fired, calls = local
    scheduler = boto3.client("scheduler")
    # Given 120 reminders that are not due yet
    for n in range(120):
        schedule(scheduler, f"later-{n}", NOW + timedelta(days=1))
    # When the local scheduler looks twice, and one reminder is moved to now in between
    lifecycle.fire_due(NOW)
    scheduler.update_schedule(
        Name="later-3",
        GroupName=GROUP,
        ScheduleExpression=f"at({(NOW - timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:r",
            "RoleArn": "arn:aws:iam::1:role/r",
            "Input": json.dumps({"name": "later-3"}),
        },
    )
    assert lifecycle.fire_due(NOW + timedelta(seconds=5)) == 1
    # Then no schedule was listed or read through the API (only the fired one deleted), and it fired
    assert calls.counts == {"DeleteSchedule": 1}
    assert [e["name"] for e in fired] == ["later-3"]
