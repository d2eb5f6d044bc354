"""Reminders as EventBridge Scheduler one-time schedules (``at(...)``, deleted after they
fire), one schedule group per stage; each targets the reminder function with the reminder's
payload, and names the dead-letter queue the scheduler sends it to when every retry failed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from calsync.aws import clients
from calsync.aws.errors import CONFLICT, NOT_FOUND, unless
from calsync.lifecycle.reminders import Reminder

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient


class SchedulerReminders:
    def __init__(
        self,
        group: str,
        target_arn: str,
        role_arn: str,
        client: EventBridgeSchedulerClient | None = None,
        *,
        dead_letter_arn: str | None = None,
    ) -> None:
        self.group = group
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn
        self._client = client

    @property
    def client(self) -> EventBridgeSchedulerClient:
        return self._client or clients.scheduler()

    def _schedule(self, reminder: Reminder) -> dict[str, Any]:
        target: dict[str, Any] = {
            "Arn": self.target_arn,
            "RoleArn": self.role_arn,
            "Input": json.dumps(reminder.payload(), separators=(",", ":")),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
        }
        if self.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        return {
            "Name": reminder.name,
            "GroupName": self.group,
            "ScheduleExpression": f"at({reminder.at.strftime('%Y-%m-%dT%H:%M:%S')})",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": target,
        }

    def put(self, reminder: Reminder) -> None:
        """Create the schedule, or move it if one of that name exists."""
        request = self._schedule(reminder)
        if unless(CONFLICT, "scheduler:CreateSchedule", lambda: self.client.create_schedule(**request)) is None:
            unless(NOT_FOUND, "scheduler:UpdateSchedule", lambda: self.client.update_schedule(**request))

    def delete(self, name: str) -> None:
        """Drop the schedule (already gone, e.g. fired and deleted, is fine)."""
        unless(
            NOT_FOUND, "scheduler:DeleteSchedule", lambda: self.client.delete_schedule(Name=name, GroupName=self.group)
        )
