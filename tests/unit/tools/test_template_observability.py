"""Alarms reach a person and cover every way data silently stops; the dashboard and the
alarms name only metrics the code really emits (collected from the code, so they follow it)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from calsync.fanout.dispatch import HEALTHS
from calsync.intake.routing import QueueKind
from calsync.intake.signature import SignatureFailure
from calsync.observability import metrics
from calsync_dev.template import ROOT, deployed, load, queue_logical_id

LAYER = ROOT / "layers" / "calsync" / "calsync"
RECEIVER = LAYER / "intake" / "receive.py"


# ------------------------------------------------------------------ what the code emits
_ANSWERS = ("_reject", "Outcome")  # the receiver's answer constructors: (status, error, ...)


def receiver_error_codes() -> set[str]:
    """Every ``error`` the receiver can answer with: its ``_reject``/``Outcome`` codes and the
    signature failures (the ``WebhookRejected_<error>`` family)."""
    codes = {failure.value for failure in SignatureFailure}
    for node in ast.walk(ast.parse(RECEIVER.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ANSWERS):
            continue
        error = next((k.value for k in node.keywords if k.arg == "error"), node.args[1] if len(node.args) > 1 else None)
        if isinstance(error, ast.Constant) and isinstance(error.value, str):  # None: accepted
            codes.add(error.value)
    return codes


# f-string metric families: the prefix, and where the rest comes from
FAMILIES = {"WebhookRejected_": receiver_error_codes}


def _module_dict_strings(tree: ast.Module) -> set[str]:
    """String values of the module's top-level dict literals (e.g. ``_METRICS = {Outcome.X: "Name"}``)."""
    found: set[str] = set()
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Dict):
            found |= {v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def _metric_names(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        adds = isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric"
        single = isinstance(node.func, ast.Name) and node.func.id == "single_metric"  # its own dimensions
        if not (adds or single):
            continue
        name = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            yield name.value
        elif isinstance(name, ast.JoinedStr) and isinstance(name.values[0], ast.Constant):
            prefix = str(name.values[0].value)
            if prefix not in FAMILIES or len(name.values) != 2:
                pytest.fail(f"{where}: metric name f-string {prefix!r}... is not a known family; add it to FAMILIES")
            yield from (prefix + suffix for suffix in FAMILIES[prefix]())
        elif isinstance(name, ast.Name) and _module_dict_strings(tree):
            yield from _module_dict_strings(tree)
        else:
            pytest.fail(f"{where}: cannot tell which metric name add_metric emits; teach this test")


def deployed_code() -> list[Path]:
    """The layer and the code folder of every function the template deploys (a handler not
    yet in the template has nothing to show on the dashboard)."""
    functions = load()["Resources"].values()
    uris = {r["Properties"]["CodeUri"] for r in functions if r["Type"] == "AWS::Serverless::Function"}
    return [LAYER, *(ROOT / uri for uri in sorted(uris))]


def _logged_messages() -> set[str]:
    """Messages the deployed code logs at INFO (``logger.info("...")``)."""
    found: set[str] = set()
    for root in deployed_code():
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "info":
                    first = node.args[0] if node.args else None
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        found.add(first.value)
    return found


_FILTER_MESSAGE = re.compile(r'^\{ \$\.message = "([^"]+)" \}$')


def filtered_metrics() -> Iterator[str]:
    """Metrics counted from log lines (``AWS::Logs::MetricFilter`` on ``$.message``): each only if
    the code logs that message, with the ``service`` dimension the lines carry."""
    for logical, resource in load()["Resources"].items():
        if resource["Type"] != "AWS::Logs::MetricFilter":
            continue
        props = resource["Properties"]
        match = _FILTER_MESSAGE.match(props["FilterPattern"])
        assert match, f"{logical}: a filter pattern this test cannot read: {props['FilterPattern']}"
        if match[1] not in _logged_messages():
            pytest.fail(f"{logical} counts log lines {match[1]!r}, which no code logs")
        for transformation in props["MetricTransformations"]:
            assert transformation["MetricNamespace"] == "calsync", logical
            assert transformation["Dimensions"] == [{"Key": "service", "Value": "$.service"}], logical
            yield transformation["MetricName"]


def emitted_metrics() -> set[str]:
    from_code = {
        name for root in deployed_code() for path in sorted(root.rglob("*.py")) for name in _metric_names(path)
    }
    return from_code | set(filtered_metrics())


def emitted_dimensions() -> tuple[str, dict[str, str]]:
    """Namespace and dimensions exactly as Powertools writes them (``service`` is added by default)."""
    blob = metrics.serialize_metric_set(metrics={"Probe": {"Unit": "Count", "Value": [1.0], "StorageResolution": 60}})
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    (names,) = directive["Dimensions"]
    return directive["Namespace"], {name: blob[name] for name in names}


EMITTED = emitted_metrics()
NAMESPACE, DIMENSIONS = emitted_dimensions()


def test_the_collector_finds_the_metrics_the_handlers_emit() -> None:
    # Given the handlers' code, Then literal names, dict-mapped outcome names and the
    # receiver's rejection family are all found
    assert {"WebhookAccepted", "DeliveriesQuarantined", "DeliveryLag", "TokenRefreshFailures"} <= EMITTED
    assert {"SubscriptionChecksFailed", "SubscriptionsRecreated", "ConnectionsConnected"} <= EMITTED
    assert {"WebhookRejected_invalid_signature", "WebhookRejected_unavailable", "WebhookRejected_invalid_envelope"} <= (
        EMITTED
    )
    assert "WebhookRejected_None" not in EMITTED
    assert (NAMESPACE, DIMENSIONS) == ("calsync", {"service": "calsync"})


# ------------------------------------------------------------------ the template
# Every optional consumer on: what the alarms and the dashboard must cover at most.
ALL_ON = {"SlackNotifications": "on", "HttpForwarding": "on", "AlarmEmail": "ops@example.com", "DashboardEnabled": "on"}
TEMPLATE = deployed(load(), ALL_ON)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


ALARMS = _of_type("AWS::CloudWatch::Alarm")
FUNCTIONS = _of_type("AWS::Serverless::Function")
SCHEDULED = {
    k for k, v in FUNCTIONS.items() if any(e["Type"] == "Schedule" for e in v["Properties"].get("Events", {}).values())
}


def _dims(dimensions: list[dict[str, Any]]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in dimensions}


def alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [(props["Namespace"], props["MetricName"], _dims(props.get("Dimensions", [])))]
    return [
        (q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"],
         _dims(q["MetricStat"]["Metric"].get("Dimensions", [])))
        for q in props["Metrics"]
        if "MetricStat" in q
    ]  # fmt: skip


def _alarms_on(namespace: str, metric: str, dimensions: dict[str, Any]) -> list[str]:
    return [k for k, v in ALARMS.items() if (namespace, metric, dimensions) in alarm_metrics(v)]


def test_every_alarm_notifies_the_topic_and_says_when_it_clears() -> None:
    assert ALARMS
    for logical, alarm in ALARMS.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], logical
        assert alarm["Properties"]["AlarmDescription"], logical


def test_alarm_notifications_can_be_delivered() -> None:
    # Given the alarm topic: CloudWatch may not use the AWS-managed SNS key (alias/aws/sns),
    # so an alarm publishing to a topic encrypted with it is dropped
    topic = RESOURCES["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    key = topic["Properties"].get("KmsMasterKeyId")
    # Then it is either not encrypted (alarms carry no personal data) or uses a key of this stack
    assert key is None or (isinstance(key, dict) and RESOURCES[key["Ref"]]["Type"] == "AWS::KMS::Key")
    assert "alias/aws/" not in str(topic)
    # And the optional e-mail subscription is on that topic when an address is given
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_custom_metric_alarms_name_metrics_the_code_emits_with_its_dimensions() -> None:
    custom = [(k, m) for k, v in ALARMS.items() for m in alarm_metrics(v) if m[0] == NAMESPACE]
    assert len(custom) >= 5
    for logical, (_, metric, dimensions) in custom:
        assert metric in EMITTED, f"{logical} alarms on {metric}, which no code emits"
        assert dimensions == DIMENSIONS, logical


@pytest.mark.parametrize("metric", ["DeliveriesQuarantined", "SubscriptionChecksFailed", "ConnectionsReauthRequired",
                                    "TokenWriteFailures", "TokenRefreshFailures", "SubscriptionsFailing",
                                    "SubscriptionsRecreated"])  # fmt: skip
def test_failure_metrics_are_alarmed(metric: str) -> None:
    assert metric in EMITTED
    assert _alarms_on(NAMESPACE, metric, DIMENSIONS), f"nothing alarms on {metric}"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_alarms_on_its_errors_and_throttles(function: str) -> None:
    # A crashed or timed-out run emits no custom metric: only AWS/Lambda Errors shows it
    dimensions = {"FunctionName": {"Ref": function}}
    errors = _alarms_on("AWS/Lambda", "Errors", dimensions)
    throttles = _alarms_on("AWS/Lambda", "Throttles", dimensions)
    assert errors
    assert throttles
    for logical in {*errors, *throttles}:
        props = ALARMS[logical]["Properties"]
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Threshold"] == 0


@pytest.mark.parametrize("function", sorted(SCHEDULED))
def test_a_schedule_that_stops_running_alarms(function: str) -> None:
    assert {"TokenRefresherFunction", "SubscriptionWatchdogFunction"} <= SCHEDULED
    (logical,) = _alarms_on("AWS/Lambda", "Invocations", {"FunctionName": {"Ref": function}})
    props = ALARMS[logical]["Properties"]
    # no invocation means no data at all: missing data must breach
    assert props["TreatMissingData"] == "breaching"
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["Threshold"] == 1
    (event,) = [e for e in FUNCTIONS[function]["Properties"]["Events"].values() if e["Type"] == "Schedule"]
    schedule = event["Properties"]["Schedule"]
    if isinstance(schedule, dict):  # a parameter: its default
        schedule = load()["Parameters"][schedule["Ref"]]["Default"]
    rate = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", schedule)
    assert rate is not None
    minutes = int(rate.group(1)) * (60 if rate.group(2) == "hour" else 1)
    # the window holds at least one scheduled run, so a healthy schedule never alarms
    assert props["Period"] * props.get("DatapointsToAlarm", props["EvaluationPeriods"]) >= 60 * minutes
    assert props["Period"] >= 60 * minutes


@pytest.mark.parametrize("kind", list(QueueKind), ids=str)
def test_a_queue_nobody_consumes_alarms(kind: QueueKind) -> None:
    queue = queue_logical_id(kind)
    (logical,) = _alarms_on(
        "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}}
    )
    # past every retry (visibility timeout × max receives), so a retried delivery does not page
    props = RESOURCES[queue]["Properties"]
    retries = props["VisibilityTimeout"] * props["RedrivePolicy"]["maxReceiveCount"]
    assert ALARMS[logical]["Properties"]["Threshold"] > retries


@pytest.mark.parametrize("kind", list(QueueKind), ids=str)
def test_dead_lettered_deliveries_alarm_again_before_sqs_deletes_them(kind: QueueKind) -> None:
    # A DLQ alarm that was never acted on stays in ALARM and says nothing more; SQS deletes the
    # messages when their retention ends. Given the DLQ's retention, Then a second alarm fires
    # at least two days before that
    dlq = f"{kind.pascal}DLQ"
    retention = RESOURCES[dlq]["Properties"]["MessageRetentionPeriod"]
    (logical,) = _alarms_on(
        "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": {"Fn::GetAtt": [dlq, "QueueName"]}}
    )
    threshold = ALARMS[logical]["Properties"]["Threshold"]
    assert 0 < threshold <= retention - 2 * 86400


# ------------------------------------------------------------------ the dashboard
@cache
def dashboard_metrics() -> list[tuple[str, str, dict[str, Any]]]:
    (dashboard,) = _of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::ToJsonString"]
    found = []
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        for line in widget["properties"]["metrics"]:
            if len(line) % 2:  # [namespace, name, (dimension, value)*, {options}]
                assert isinstance(line[-1], dict)
                line = line[:-1]
            namespace, name, *pairs = line
            found.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def test_the_dashboard_shows_only_metrics_the_code_emits_and_every_one_of_them() -> None:
    custom = {name for namespace, name, _ in dashboard_metrics() if namespace == NAMESPACE}
    assert custom - EMITTED == set(), "the dashboard names metrics no code emits"
    assert EMITTED - custom == set(), "metrics the code emits are missing from the dashboard"
    for namespace, name, dimensions in dashboard_metrics():
        if namespace == NAMESPACE and name == "ConnectionsByHealth":  # single_metric: service + its state
            assert dimensions == {**DIMENSIONS, "Health": dimensions["Health"]}, name
            assert dimensions["Health"] in HEALTHS, name
        elif namespace == NAMESPACE:
            assert dimensions == DIMENSIONS, name


def test_the_dashboard_names_only_this_stack_s_aws_resources() -> None:
    api = RESOURCES["WebhookApi"]["Properties"]
    for namespace, name, dimensions in dashboard_metrics():
        if namespace == "AWS/Lambda":
            assert dimensions["FunctionName"]["Ref"] in FUNCTIONS, name
        elif namespace == "AWS/SQS":
            logical, attribute = dimensions["QueueName"]["Fn::GetAtt"]
            assert RESOURCES[logical]["Type"] == "AWS::SQS::Queue"
            assert attribute == "QueueName"
        elif namespace == "AWS/ApiGateway":
            assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}
        elif namespace == "AWS/Firehose":  # the analytics lake's stream
            assert dimensions == {"DeliveryStreamName": {"Ref": "LakeStream"}}, name
            assert RESOURCES["LakeStream"]["Type"] == "AWS::KinesisFirehose::DeliveryStream"
        else:
            assert namespace == NAMESPACE, namespace


def test_the_dashboard_covers_every_function_and_queue() -> None:
    shown = {(namespace, name, str(dimensions)) for namespace, name, dimensions in dashboard_metrics()}
    for function in FUNCTIONS:
        for metric in ("Errors", "Throttles", "Duration"):
            assert ("AWS/Lambda", metric, str({"FunctionName": {"Ref": function}})) in shown, (function, metric)
    for queue in _of_type("AWS::SQS::Queue"):
        depth = str({"QueueName": {"Fn::GetAtt": [queue, "QueueName"]}})
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", depth) in shown, queue
    for function in SCHEDULED:
        assert ("AWS/Lambda", "Invocations", str({"FunctionName": {"Ref": function}})) in shown
    for metric in ("Count", "4XXError", "5XXError"):
        assert any(ns == "AWS/ApiGateway" and name == metric for ns, name, _ in dashboard_metrics())


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else str(value).split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                names = (name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                yield from (name for name in names if name not in variables)
                if not isinstance(value, str):
                    yield from _references(value[1])
            else:
                yield from _references(value)


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        ALL_ON,
        {"SlackNotifications": "on"},
        {"HttpForwarding": "on"},
        {"DashboardEnabled": "off"},
        {"Analytics": "off"},
    ],
    ids=str,
)
def test_alarms_dashboard_and_outputs_name_only_resources_that_exist_for_the_parameters(
    parameters: dict[str, str],
) -> None:
    # Given the stack as deployed with these parameters
    template = deployed(load(), parameters)
    known = (
        set(template["Resources"])
        | set(template["Parameters"])
        | {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName", "AWS::NoValue"}
    )
    # Then everything a resource or an output names exists in that stack (the dashboard included)
    for section in ("Resources", "Outputs"):
        for logical, spec in template[section].items():
            missing = {name for name in _references(spec) if name not in known}
            assert not missing, (logical, missing)
