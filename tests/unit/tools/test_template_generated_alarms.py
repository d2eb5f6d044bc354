"""template.yaml writes each kind of alarm once: per-function and per-queue alarms come from one
Fn::ForEach block each, so a new function or queue gets them by joining a list, and a second,
hand-written copy of an alarm fails here. Descriptions say what a thing does, in words, never by
another resource's logical id."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from calsync_dev.template import FOR_EACH, deployed, expand, load, load_raw

ALARM = "AWS::CloudWatch::Alarm"
ALL_ON = {"SlackNotifications": "on", "HttpForwarding": "on", "AlarmEmail": "ops@example.com"}
RAW = load_raw()
EXPANDED = load()


def _loops() -> dict[str, dict[str, Any]]:
    """Each top-level loop of Resources, with the resources it generates."""
    return {
        key: expand({**RAW, "Resources": {key: value}})["Resources"]
        for key, value in RAW["Resources"].items()
        if key.startswith(FOR_EACH)
    }


def _alarm_definitions() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every alarm as written: each loop's body once, and each alarm written out."""
    for key, value in RAW["Resources"].items():
        if not key.startswith(FOR_EACH):
            if value["Type"] == ALARM:
                yield key, value
            continue
        for out_key, body in value[2].items():
            if isinstance(body, dict) and body.get("Type") == ALARM:
                yield f"{key}/{out_key}", body


def _shape(node: Any) -> Any:
    """An alarm's properties with whatever names a resource or comes from a mapping masked: two
    alarms of one shape are the same alarm on different functions or queues."""
    if isinstance(node, list):
        return [_shape(item) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt", "Fn::FindInMap", "Fn::Sub"):
        return "<named>"
    return {key: "<text>" if key == "AlarmDescription" else _shape(value) for key, value in node.items()}


def _lambda_alarm_function(alarm: dict[str, Any], metric: str) -> list[Any]:
    """The functions an alarm reads ``metric`` of (AWS/Lambda), directly or in metric math."""
    props = alarm["Properties"]
    stats = (
        [props] if "MetricName" in props else [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]
    )
    return [
        d["Value"]
        for stat in stats
        if stat.get("Namespace") == "AWS/Lambda" and stat.get("MetricName") == metric
        for d in stat.get("Dimensions", [])
        if d["Name"] == "FunctionName"
    ]


def test_every_function_deployed_by_every_stack_gets_its_errors_alarm_from_a_generated_block() -> None:
    # Given the template as deployed with every optional consumer on, and the resources its loops generate
    template = deployed(EXPANDED, ALL_ON)
    generated = {logical for resources in _loops().values() for logical in resources}
    functions = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 10
    written_out = []
    for function in sorted(functions):
        # When its errors-and-throttles alarm is looked up
        (alarm,) = [
            k
            for k, v in template["Resources"].items()
            if v["Type"] == ALARM
            and _lambda_alarm_function(v, "Errors") == [{"Ref": function}]
            and _lambda_alarm_function(v, "Throttles") == [{"Ref": function}]
        ]
        # Then a loop made it, unless the function exists only under a Condition (a loop cannot give
        # some of its items a Condition and others none), and then the alarm has the same Condition
        condition = RAW["Resources"].get(function, {}).get("Condition")
        if condition is None and alarm not in generated:
            written_out.append(alarm)  # add its function to Fn::ForEach::FunctionErrors instead
        if condition is not None:
            assert template["Resources"][alarm]["Condition"] == condition
    assert written_out == []


def test_every_dead_letter_queue_and_schedule_gets_its_alarm_from_a_generated_block() -> None:
    # Given the template with every optional consumer on, and the resources its loops generate
    template = deployed(EXPANDED, ALL_ON)["Resources"]
    generated = {logical for resources in _loops().values() for logical in resources}
    alarms = {k: v for k, v in template.items() if v["Type"] == ALARM}
    # Then every dead-letter queue's depth alarm is generated
    dead_letter = {k for k, v in template.items() if v["Type"] == "AWS::SQS::Queue" and k.endswith("DLQ")}
    assert len(dead_letter) >= 9
    depth = {
        k: v["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for k, v in alarms.items()
        if v["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert {queue for alarm, queue in depth.items() if alarm in generated} >= dead_letter
    # And every scheduled function's "not running" alarm is generated
    scheduled = {
        k
        for k, v in template.items()
        if v["Type"] == "AWS::Serverless::Function"
        and any(e["Type"] == "Schedule" for e in v["Properties"].get("Events", {}).values())
    }
    assert len(scheduled) >= 3
    watched = {f["Ref"] for k, v in alarms.items() if k in generated for f in _lambda_alarm_function(v, "Invocations")}
    assert watched == scheduled


def test_no_alarm_is_written_twice() -> None:
    # Given every alarm as written (a loop's body counts once)
    by_shape: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for where, alarm in _alarm_definitions():
        by_shape[repr(_shape(alarm["Properties"]))].append((where, alarm.get("Condition")))
    # Then the same alarm on another function or queue is never written again by hand: of each
    # shape one definition exists per Condition (the loop's, with none, and one per optional consumer)
    for definitions in by_shape.values():
        conditions = [condition for _, condition in definitions]
        assert len(conditions) == len(set(conditions)), f"written more than once: {[w for w, _ in definitions]}"


@pytest.mark.parametrize("section", ["Resources", "Parameters", "Outputs"])
def test_descriptions_say_what_a_thing_does_not_which_resource_it_is(section: str) -> None:
    # Given every resource's logical id (with every optional consumer on)
    resources = set(deployed(EXPANDED, ALL_ON)["Resources"])
    # When the descriptions of the section are read (as CloudFormation shows them)
    found = []
    for logical, spec in EXPANDED[section].items():
        texts = list(spec.get("Properties", {}).items()) if section == "Resources" else [spec.get("Description")]
        for text in texts:
            if isinstance(text, tuple):
                key, text = text
                if not key.endswith("Description"):
                    continue
            words = set(re.findall(r"[A-Za-z][A-Za-z0-9]+", str(text)))
            found += [(logical, word) for word in words & resources]
    # Then none names another resource by its logical id
    assert found == []
