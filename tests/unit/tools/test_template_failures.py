"""Nothing is dropped silently downstream: what EventBridge (a rule's target, a reminder's
schedule) cannot deliver lands in a dead-letter queue that alarms, and the failures that only a
metric shows (connects refused, token refreshes deferred run after run) alarm too."""

from __future__ import annotations

from typing import Any

import pytest

from calsync_dev.template import deployed, load

ALL_ON = {"SlackNotifications": "on", "HttpForwarding": "on"}
TEMPLATE = deployed(load(), ALL_ON)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
RAW: dict[str, dict[str, Any]] = load()["Resources"]
FOURTEEN_DAYS = 1_209_600


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _text(value: Any) -> str:
    """An alarm description as CloudFormation shows it (a ``Fn::Sub`` with nothing left to substitute)."""
    return str(value["Fn::Sub"]) if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str) else str(value)


def _alarms_on_depth(queue: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("Namespace") == "AWS/SQS"
        and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and r["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    ]


def _assert_a_kept_dead_letter_queue(logical: str) -> None:
    queue = RESOURCES[logical]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    # and it alarms as soon as one message is in it, and again when it clears
    (alarm,) = _alarms_on_depth(logical)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
    # (the alarm's QueueName dimension names the queue; its description says what happened, in words)
    assert "dead-lettered" in _text(alarm["AlarmDescription"])


# ------------------------------------------------------------------ EventBridge rules → consumer queues
@pytest.mark.parametrize(("rule", "queue", "condition"), [("SlackRule", "SlackQueue", "SlackOn"),
                                                          ("ForwardRule", "ForwardQueue", "ForwardingOn")])  # fmt: skip
def test_an_event_a_rule_cannot_deliver_to_its_queue_is_dead_lettered(rule: str, queue: str, condition: str) -> None:
    # Given a consumer's rule targeting its queue
    (target,) = RESOURCES[rule]["Properties"]["Targets"]
    assert target["Arn"] == _arn(queue)
    # Then an event EventBridge could not send (queue policy, queue gone, throttled past its
    # retries) goes to the rule's own dead-letter queue, after bounded retries
    dlq = f"{rule}DLQ"
    assert target["DeadLetterConfig"] == {"Arn": _arn(dlq)}
    retry = target["RetryPolicy"]
    assert 0 < retry["MaximumRetryAttempts"] <= 185
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86_400
    _assert_a_kept_dead_letter_queue(dlq)
    # And the dead-letter queue and its alarm exist exactly when the consumer does
    assert RAW[dlq]["Condition"] == RAW[rule]["Condition"] == condition
    (alarm,) = [k for k, v in RAW.items() if v["Type"] == "AWS::CloudWatch::Alarm" and k == f"{dlq}Alarm"]
    assert RAW[alarm]["Condition"] == condition


@pytest.mark.parametrize("rule", ["SlackRule", "ForwardRule"])
def test_only_its_rule_may_send_to_a_rules_dead_letter_queue(rule: str) -> None:
    dlq = f"{rule}DLQ"
    (policy,) = [
        r
        for r in RESOURCES.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": dlq}]
    ]
    assert policy["Condition"] == RAW[rule]["Condition"]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": _arn(dlq),
        "Condition": {"ArnEquals": {"aws:SourceArn": _arn(rule)}},
    }


# ------------------------------------------------------------------ reminder schedules
def test_a_reminder_the_scheduler_cannot_hand_over_is_dead_lettered() -> None:
    # Given the reminder schedules the publisher creates (lifecycle/aws_scheduler.py) through its settings
    env = RESOURCES["LifecyclePublisherFunction"]["Properties"]["Environment"]["Variables"]
    # Then it is told the schedules' dead-letter queue
    assert env["REMINDER_DLQ_ARN"] == _arn("ReminderScheduleDLQ")
    _assert_a_kept_dead_letter_queue("ReminderScheduleDLQ")
    # And the scheduler's role may send there and nowhere else (it sends with the schedule's role)
    role = RESOURCES["ReminderSchedulerRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    sends = [s for s in statements if "sqs" in str(s["Action"])]
    assert sends == [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": _arn("ReminderScheduleDLQ")}]


def test_the_publisher_settings_read_the_dead_letter_queue_once() -> None:
    from calsync.config import PublisherSettings

    settings = PublisherSettings.from_env(
        {
            "BOOKINGS_TABLE_NAME": "t",
            "EVENT_BUS_NAME": "b",
            "SCHEDULE_GROUP_NAME": "g",
            "REMINDER_TARGET_ARN": "arn:aws:lambda:us-east-1:1:function:r",
            "SCHEDULER_ROLE_ARN": "arn:aws:iam::1:role/s",
            "REMINDER_DLQ_ARN": "arn:aws:sqs:us-east-1:1:dlq",
        }
    )
    assert settings.reminder_dlq_arn == "arn:aws:sqs:us-east-1:1:dlq"


# ------------------------------------------------------------------ what each dead-letter alarm says
@pytest.mark.parametrize(
    ("queue", "says"),
    [
        ("LifecyclePublisherDLQ", "lifecycle events"),
        ("ReminderDLQ", "reminder"),
        ("ReminderScheduleDLQ", "reminder"),
        ("ReconcileRequestsDLQ", "reconcile"),
        ("SlackDLQ", "slack"),
        ("ForwardDLQ", "forward"),
        ("SlackRuleDLQ", "slack"),
        ("ForwardRuleDLQ", "forward"),
    ],
)
def test_each_dead_letter_alarm_says_what_failed(queue: str, says: str) -> None:
    (alarm,) = _alarms_on_depth(queue)
    description = _text(alarm["AlarmDescription"]).lower()
    assert says in description
    if queue == "ReconcileRequestsDLQ":  # it holds gap reconciles the watchdog asked for, nothing else
        assert "lifecycle" not in description
        assert "reminder" not in description


# ------------------------------------------------------------------ failures only a metric shows
def _custom_alarm(metric: str) -> dict[str, Any]:
    (alarm,) = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == metric
    ]
    assert alarm["Namespace"] == "calsync"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "calsync"}]
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"
    return alarm


def test_a_refused_connect_alarms() -> None:
    # Given the OAuth callback counts every connection it refused (ConnectFailures)
    alarm = _custom_alarm("ConnectFailures")
    # Then one refusal alarms
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert alarm["EvaluationPeriods"] == 1


def test_token_refreshes_deferred_run_after_run_alarm_but_one_deferral_does_not() -> None:
    # Given the refresher defers a refresh it has no time left for to its next run (every 15 min)
    refresher = RESOURCES["TokenRefresherFunction"]["Properties"]["Events"]
    assert refresher["Every15Minutes"]["Properties"]["Schedule"] == "rate(15 minutes)"
    alarm = _custom_alarm("TokenRefreshesDeferred")
    # Then the alarm fires only when deferrals persist: every one of several consecutive runs
    assert alarm["Period"] == 900
    assert alarm["EvaluationPeriods"] >= 3
    assert alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]) == alarm["EvaluationPeriods"]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )


# ------------------------------------------------------------------ the scheduled jobs' fan-out
FANOUT = {
    "TokenRefresherFunction": "Refresh",
    "SubscriptionWatchdogFunction": "Watchdog",
    "ReconcilerFunction": "Reconcile",
}


@pytest.mark.parametrize(("function", "job"), FANOUT.items())
def test_each_job_works_its_own_queue_one_unit_at_a_time_under_bounded_concurrency(function: str, job: str) -> None:
    # Given the job's function as deployed
    spec = RESOURCES[function]["Properties"]
    (work,) = [
        e["Properties"]
        for e in spec["Events"].values()
        if e["Properties"].get("Queue") == {"Fn::GetAtt": [f"{job}WorkQueue", "Arn"]}
    ]
    # Then it consumes its own queue a unit at a time, failures reported alone, concurrency bounded
    assert work["BatchSize"] == 1
    assert work["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert work["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "FanOutMaximumConcurrency"}}
    # And dispatches to it (its URL in the environment, SendMessage on that queue only)
    assert spec["Environment"]["Variables"]["WORK_QUEUE_URL"] == {"Ref": f"{job}WorkQueue"}
    # And the queue dead-letters after a few receives into a DLQ with its depth alarm
    queue = RESOURCES[f"{job}WorkQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{job}WorkDLQ", "Arn"]}
    assert queue["VisibilityTimeout"] > spec["Timeout"]
    (alarm,) = _alarms_on_depth(f"{job}WorkDLQ")
    assert "dead-lettered" in _text(alarm["AlarmDescription"])


def test_the_default_concurrency_leaves_a_new_account_room_for_intake() -> None:
    # Given a new account's 10 concurrent executions and SQS's minimum of 2 per event source
    parameter = TEMPLATE["Parameters"]["FanOutMaximumConcurrency"]
    # Then the three jobs at their default use at most 6, leaving at least 4 for the receiver and processors
    assert parameter["MinValue"] == parameter["Default"] == 2
    assert 10 - len(FANOUT) * parameter["Default"] >= 4


def test_no_alarm_is_per_connection() -> None:
    # Alarms are per job (function errors, DLQ depth), never named or dimensioned by a connection
    for logical, resource in RESOURCES.items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert "connection" not in _text(resource["Properties"].get("Dimensions", "")).lower(), logical
