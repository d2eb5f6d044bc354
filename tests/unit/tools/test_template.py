"""template.yaml agrees with QueueKind, and the template reader expands Fn::ForEach as
CloudFormation's AWS::LanguageExtensions transform does."""

from __future__ import annotations

from typing import Any

import pytest

from calsync.intake.routing import QueueKind
from calsync_dev.provision import Stack, _Resolver, parameter_defaults
from calsync_dev.template import (
    FOR_EACH,
    ForEachError,
    active_resources,
    conditions,
    deployed,
    expand,
    load,
    load_raw,
    processor_logical_id,
    queue_logical_id,
)

KINDS = [kind.pascal for kind in QueueKind]


def _resolve(template: dict[str, Any], value: Any) -> Any:
    """Resolve names the way the local stack does (parameters at their defaults)."""
    return _Resolver(Stack(parameters=parameter_defaults(template)), "us-east-1", "123456789012")(value)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _for_each_collections(node: Any) -> list[Any]:
    """The collections of the loops over event kinds (their identifier is ``Kind``)."""
    found: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith(FOR_EACH) and value[0] == "Kind":
                found.append(value[1])
            found.extend(_for_each_collections(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_for_each_collections(value))
    return found


# ------------------------------------------------------------------ template.yaml vs QueueKind
def test_pascal_case_names_follow_the_routing_kinds() -> None:
    assert KINDS == ["InviteeCreated", "InviteeCanceled", "InviteeNoShow", "RoutingForm", "Other"]
    assert queue_logical_id(QueueKind.INVITEE_NO_SHOW) == "InviteeNoShowQueue"
    assert processor_logical_id(QueueKind.OTHER) == "OtherProcessor"


def test_every_loop_and_the_name_mapping_list_exactly_the_queue_kinds() -> None:
    # Given the template as written
    raw = load_raw()
    # Then it uses the language extensions, and each Fn::ForEach iterates over the kinds
    assert raw["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    collections = _for_each_collections(raw)
    assert len(collections) >= 2  # resources, outputs
    assert all(collection == KINDS for collection in collections)
    # and the functions sending to the intake queues name one URL per kind (written out: a loop
    # inside Environment.Variables is left unexpanded by SAM CLI's engine)
    for function in ("ReceiverFunction", "ReconcilerFunction"):
        variables = raw["Resources"][function]["Properties"]["Environment"]["Variables"]
        urls = {k: v for k, v in variables.items() if k.endswith("QueueUrl")}
        assert urls == {f"{name}QueueUrl": {"Ref": f"{name}Queue"} for name in KINDS}, function
    # and the mapping gives every kind its QueueKind value
    assert raw["Mappings"]["EventKinds"] == {kind.pascal: {"Name": kind.value} for kind in QueueKind}


@pytest.mark.parametrize("kind", list(QueueKind), ids=str)
def test_each_kind_has_a_queue_with_redrive_to_its_own_dlq(kind: QueueKind) -> None:
    resources = load()["Resources"]
    name = kind.pascal
    queue, dlq = resources[f"{name}Queue"], resources[f"{name}DLQ"]
    assert queue["Type"] == dlq["Type"] == "AWS::SQS::Queue"
    policy = queue["Properties"]["RedrivePolicy"]
    assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": [f"{name}DLQ", "Arn"]}
    assert policy["maxReceiveCount"] >= 1
    assert "RedrivePolicy" not in dlq["Properties"]
    # visibility timeout ≥ 6 × the consuming function's timeout + its batching window (AWS's rule
    # for an event source: a batch still gathering or being retried is never received twice)
    processor = resources[processor_logical_id(kind)]["Properties"]
    window = processor["Events"]["Queue"]["Properties"].get("MaximumBatchingWindowInSeconds", 0)
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * processor["Timeout"] + window


@pytest.mark.parametrize("kind", list(QueueKind), ids=str)
def test_each_kind_has_a_processor_subscribed_to_its_queue_with_its_own_log_group(kind: QueueKind) -> None:
    template = load()
    resources = template["Resources"]
    name = kind.pascal
    processor = resources[f"{name}Processor"]
    assert processor["Type"] == "AWS::Serverless::Function"
    props = processor["Properties"]
    assert props["CodeUri"] == "functions/processor/"
    (event,) = props["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": [f"{name}Queue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # names as before the loop: calsync-<stage>-<kind>
    assert _resolve(template, props["FunctionName"]) == f"calsync-dev-{kind.value}"
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": f"{name}ProcessorLogGroup"}
    log_group = resources[f"{name}ProcessorLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert _resolve(template, log_group["Properties"]["LogGroupName"]) == f"/aws/lambda/calsync-dev-{kind.value}"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


@pytest.mark.parametrize("kind", list(QueueKind), ids=str)
def test_each_kind_has_a_dlq_alarm_and_outputs(kind: QueueKind) -> None:
    template = load()
    name = kind.pascal
    alarm = template["Resources"][f"{name}DLQAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{name}DLQ", "QueueName"]}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert kind.value in _resolve(template, alarm["AlarmDescription"])
    assert template["Outputs"][f"{name}QueueUrl"] == {"Value": {"Ref": f"{name}Queue"}}
    assert template["Outputs"][f"{name}DLQUrl"] == {"Value": {"Ref": f"{name}DLQ"}}


def test_the_receiver_gets_one_queue_url_per_kind_and_may_send_to_the_intake_queues_only() -> None:
    receiver = load()["Resources"]["ReceiverFunction"]["Properties"]
    # The contract with ReceiverSettings: <Kind>QueueUrl = that kind's intake queue
    urls = {k: v for k, v in receiver["Environment"]["Variables"].items() if k.endswith("QueueUrl")}
    assert urls == {f"{name}QueueUrl": {"Ref": f"{name}Queue"} for name in KINDS}
    (enqueue,) = [s for s in receiver["Policies"][0]["Statement"] if s["Action"] == "sqs:SendMessage"]
    assert enqueue["Resource"] == [{"Fn::GetAtt": [f"{name}Queue", "Arn"]} for name in KINDS]


# The lifecycle events' own queues and consumers (not per event kind).
LIFECYCLE_QUEUES = {
    "LifecyclePublisherDLQ",
    "ReminderDLQ",
    "ReminderScheduleDLQ",
    "SlackQueue",
    "SlackDLQ",
    "SlackRuleDLQ",
    "ForwardQueue",
    "ForwardDLQ",
    "ForwardRuleDLQ",
    "LakeRuleDLQ",  # what EventBridge could not put on the analytics lake's Firehose stream
}
LIFECYCLE_CONSUMERS = {"SlackNotifierFunction", "HttpForwarderFunction"}
# The gap reconciles the watchdog asks for (calsync.reconcile.requests) and their consumer.
RECONCILE_QUEUES = {"ReconcileRequestsQueue", "ReconcileRequestsDLQ"}
RECONCILE_CONSUMERS = {"ReconcilerFunction"}
# Erasures requested through the API (calsync.erasure.requests) and their worker.
ERASURE_QUEUES = {"ErasureQueue", "ErasureDLQ"}
ERASURE_CONSUMERS = {"ErasureWorkerFunction"}
# The scheduled jobs' fan-out (calsync.fanout): one work queue and DLQ per job, its function the worker.
FANOUT_QUEUES = {f"{job}Work{suffix}" for job in ("Refresh", "Watchdog", "Reconcile") for suffix in ("Queue", "DLQ")}
FANOUT_CONSUMERS = {"TokenRefresherFunction", "SubscriptionWatchdogFunction", "ReconcilerFunction"}


def test_nothing_per_kind_exists_beyond_the_queue_kinds() -> None:
    template = load()
    queues = (
        set(_of_type(template, "AWS::SQS::Queue"))
        - LIFECYCLE_QUEUES
        - RECONCILE_QUEUES
        - ERASURE_QUEUES
        - FANOUT_QUEUES
    )
    assert queues == {f"{name}{suffix}" for name in KINDS for suffix in ("Queue", "DLQ")}
    sqs_consumers = {
        logical
        for logical, function in _of_type(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "SQS" for e in function["Properties"].get("Events", {}).values())
    }
    assert sqs_consumers - LIFECYCLE_CONSUMERS - RECONCILE_CONSUMERS - ERASURE_CONSUMERS - FANOUT_CONSUMERS == {
        f"{name}Processor" for name in KINDS
    }
    queue_alarms = {
        k
        for k, v in _of_type(template, "AWS::CloudWatch::Alarm").items()
        if v["Properties"].get("Namespace") == "AWS/SQS"
        and k.removesuffix("Alarm") not in LIFECYCLE_QUEUES | RECONCILE_QUEUES | ERASURE_QUEUES | FANOUT_QUEUES
    }
    assert queue_alarms == {
        f"{name}{suffix}" for name in KINDS for suffix in ("DLQAlarm", "DLQExpiringAlarm", "QueueAgeAlarm")
    }
    # (and the lifecycle consumers' queues, whose messages `calsync erase` sweeps)
    queue_outputs = {
        k
        for k in template["Outputs"]
        if k.endswith(("QueueUrl", "DLQUrl"))
        and k.removesuffix("Url") not in RECONCILE_QUEUES | LIFECYCLE_QUEUES | ERASURE_QUEUES | FANOUT_QUEUES
    }
    assert queue_outputs == {f"{name}{suffix}" for name in KINDS for suffix in ("QueueUrl", "DLQUrl")}
    log_groups = {k for k in _of_type(template, "AWS::Logs::LogGroup") if k.endswith("ProcessorLogGroup")}
    assert log_groups == {f"{name}ProcessorLogGroup" for name in KINDS}


# ------------------------------------------------------------------ Fn::ForEach expansion
HANDCRAFTED: dict[str, Any] = {
    "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Hosts": {"Type": "CommaDelimitedList", "Default": "10.0.0.1, 10.0.0.2"},
    },
    "Mappings": {"Sizes": {"Small": {"Memory": 128}, "Large": {"Memory": 1024}}},
    "Conditions": {"Fn::ForEach::IsStage": ["S", ["Prod"], {"Is${S}": {"Fn::Equals": [{"Ref": "Stage"}, "${S}"]}}]},
    "Resources": {
        "Plain": {"Type": "AWS::SNS::Topic"},
        "Fn::ForEach::Sized": [
            "Size",
            ["Small", "Large"],
            {
                "${Size}Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {"QueueName": {"Fn::Sub": "q-${Stage}-${Size}-${!Literal}"}},
                },
                "${Size}Function": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "MemorySize": {"Fn::FindInMap": ["Sizes", {"Ref": "Size"}, "Memory"]},
                        "Description": {"Ref": "Size"},
                        "Environment": {"Variables": {"PLAIN": "kept"}},
                        "Fn::ForEach::Urls": [
                            "Other",
                            ["Small", "Large"],
                            {"${Other}Url": {"Ref": {"Fn::Sub": "${Other}Queue"}}},
                        ],
                        "Events": {
                            "Q": {
                                "Type": "SQS",
                                "Properties": {"Queue": {"Fn::GetAtt": [{"Fn::Sub": "${Size}Queue"}, "Arn"]}},
                            }
                        },
                    },
                },
            },
        ],
        "Fn::ForEach::Hosts": [
            "Host",
            {"Ref": "Hosts"},
            {"Host&{Host}": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "${Host}"}}},
        ],
    },
    "Outputs": {
        "Fn::ForEach::Out": [
            "Size",
            ["Small", "Large"],
            {
                "Fn::ForEach::Attr": [
                    "Attr",
                    ["Arn", "QueueName"],
                    {"${Size}${Attr}": {"Value": {"Fn::GetAtt": [{"Fn::Sub": "${Size}Queue"}, {"Ref": "Attr"}]}}},
                ]
            },
        ]
    },
}


def test_for_each_expands_keys_values_and_nested_loops() -> None:
    # When the handcrafted template is expanded
    out = expand(HANDCRAFTED)
    resources = out["Resources"]
    # Then each loop item became its own resource, in order, next to the plain one
    assert list(resources) == [
        "Plain",
        "SmallQueue",
        "SmallFunction",
        "LargeQueue",
        "LargeFunction",
        "Host10001",
        "Host10002",
    ]
    # ${Size} in Fn::Sub strings is replaced; CloudFormation's own ${Stage} and ${!Literal} stay
    assert resources["SmallQueue"]["Properties"]["QueueName"] == {"Fn::Sub": "q-${Stage}-Small-${!Literal}"}
    large = resources["LargeFunction"]["Properties"]
    # {"Ref": Size} is the item; a Fn::FindInMap over plain strings is looked up
    assert large["Description"] == "Large"
    assert large["MemorySize"] == 1024
    # Ref/GetAtt targets written as Fn::Sub become plain logical ids
    assert large["Events"]["Q"]["Properties"]["Queue"] == {"Fn::GetAtt": ["LargeQueue", "Arn"]}
    # a loop among a resource's Properties expands into them
    assert large["Environment"]["Variables"] == {"PLAIN": "kept"}
    assert (large["SmallUrl"], large["LargeUrl"]) == ({"Ref": "SmallQueue"}, {"Ref": "LargeQueue"})
    # &{Host} drops non-alphanumerics in keys; ${Host} keeps the value; the collection came
    # from a CommaDelimitedList parameter's default
    assert resources["Host10001"]["Properties"]["DisplayName"] == "10.0.0.1"
    # nested loops in Outputs, with the inner identifier used through Ref
    assert out["Outputs"] == {
        f"{size}{attr}": {"Value": {"Fn::GetAtt": [f"{size}Queue", attr]}}
        for size in ("Small", "Large")
        for attr in ("Arn", "QueueName")
    }
    assert out["Conditions"] == {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "Prod"]}}
    # the transform is consumed; nothing else is touched
    assert out["Transform"] == ["AWS::Serverless-2016-10-31"]
    assert out["Mappings"] == HANDCRAFTED["Mappings"]
    assert "Fn::ForEach" not in str(out)


LOOP = ["X", ["A", "B"], {"${X}Url": {"Ref": {"Fn::Sub": "${X}Queue"}}}]


def test_expansion_is_idempotent_and_leaves_its_input_alone() -> None:
    before = repr(HANDCRAFTED)
    once = expand(HANDCRAFTED)
    assert expand(once) == once
    assert repr(HANDCRAFTED) == before


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        (["X", ["A", "B"], {"Same": {"Type": "AWS::SNS::Topic"}}], "twice"),
        (["X", ["Plain"], {"${X}": {"Type": "AWS::SNS::Topic"}}], "already exists"),
        (["X", ["A"]], "must be"),
        (["Stage", ["A"], {"${Stage}T": {"Type": "AWS::SNS::Topic"}}], "also a parameter"),
        (["X", {"Ref": "Stage"}, {"${X}T": {"Type": "AWS::SNS::Topic"}}], "CommaDelimitedList"),
    ],
    ids=[
        "key-without-identifier",
        "clashes-with-a-resource",
        "layout",
        "identifier-is-a-parameter",
        "collection-not-a-list",
    ],
)
def test_invalid_loops_are_refused_as_cloudformation_would(loop: list[Any], message: str) -> None:
    template = {
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
        "Resources": {"Plain": {"Type": "AWS::SNS::Topic"}, "Fn::ForEach::Bad": loop},
    }
    with pytest.raises(ForEachError, match=message):
        expand(template)


@pytest.mark.parametrize(
    ("outputs", "resources"),
    [
        ({"Fn::ForEach::Kinds": ["Y", ["A"], {"${Y}Out": {"Value": "x"}}]}, {}),
        ({}, {"Kinds": {"Type": "AWS::SNS::Topic"}}),
    ],
    ids=["in-two-sections", "as-a-resource"],
)
def test_a_loop_name_is_unique_in_the_template_as_cloudformation_requires(
    outputs: dict[str, Any], resources: dict[str, Any]
) -> None:
    # Given a loop in Resources whose name another loop (in Outputs) or a resource also has
    loop = ["X", ["A"], {"${X}Topic": {"Type": "AWS::SNS::Topic"}}]
    template = {"Resources": {"Fn::ForEach::Kinds": loop, **resources}, "Outputs": outputs}
    # When the template is expanded, Then it is refused (CloudFormation rejects it; cfn-lint does not say)
    with pytest.raises(ForEachError, match="Kinds"):
        expand(template)


@pytest.mark.parametrize(
    "resource",
    [
        {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"Fn::ForEach::V": LOOP}}}},
        {"Type": "AWS::SNS::Topic", "Metadata": {"Fn::ForEach::M": LOOP}},
        {"Type": "AWS::SNS::Topic", "Fn::ForEach::Attribute": LOOP},
    ],
    ids=["in-environment-variables", "in-metadata", "beside-properties"],
)
def test_a_loop_sam_clis_engine_would_leave_unexpanded_is_refused(resource: dict[str, Any]) -> None:
    # Given a loop nested where SAM CLI's LanguageExtensions engine does not expand it (it left
    # Ref: "${Kind}Queue" in the receiver's environment, and the change set would fail)
    template = {"Resources": {"Plain": {"Type": "AWS::SNS::Topic"}, "Nested": resource}}
    # When the template is expanded, Then it is refused with where the loop is and what to do
    with pytest.raises(ForEachError, match=r"/Resources/Nested.*nested deeper.*write its keys out"):
        expand(template)


def test_the_index_projections_are_the_ones_the_store_reads_them_as() -> None:
    # aws/keys.py says which indexes hold keys only (their reads follow with BatchGetItem)
    from calsync.aws import keys

    table = load()["Resources"]["BookingsTable"]["Properties"]
    projections = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in table["GlobalSecondaryIndexes"]}
    assert {name for name, kind in projections.items() if kind == "KEYS_ONLY"} == keys.KEYS_ONLY_INDEXES
    assert {kind for name, kind in projections.items() if name not in keys.KEYS_ONLY_INDEXES} == {"ALL"}


def test_conditions_evaluate_at_the_parameter_defaults_and_follow_overrides() -> None:
    # Given the template
    template = load()
    # When its conditions are evaluated at the defaults
    defaults = conditions(template)
    # Then tracing and the optional consumers are off, and overrides turn them on
    assert defaults["TracingActive"] is False
    assert defaults["SlackOn"] is False
    assert defaults["ForwardingOn"] is False
    assert defaults["ForwardsAll"] is True  # an empty CommaDelimitedList joins to ""
    on = conditions(template, {"Tracing": "Active", "SlackNotifications": "on", "ForwardDetailTypes": "A,B"})
    assert on["TracingActive"] is True
    assert on["SlackOn"] is True
    assert on["ForwardsAll"] is False


def test_condition_functions_combine_as_cloudformation_defines_them() -> None:
    # Given conditions built from every condition function
    template = {
        "Parameters": {"A": {"Type": "String", "Default": "x"}, "B": {"Type": "String", "Default": "y"}},
        "Conditions": {
            "AIsX": {"Fn::Equals": [{"Ref": "A"}, "x"]},
            "BIsX": {"Fn::Equals": ["x", {"Ref": "B"}]},
            "Either": {"Fn::Or": [{"Condition": "AIsX"}, {"Condition": "BIsX"}]},
            "Both": {"Fn::And": [{"Condition": "AIsX"}, {"Condition": "BIsX"}]},
            "NotB": {"Fn::Not": [{"Condition": "BIsX"}]},
        },
        "Resources": {
            "Always": {"Type": "T"},
            "IfB": {"Type": "T", "Condition": "BIsX"},
            "IfEither": {"Type": "T", "Condition": "Either"},
        },
    }
    # Then they evaluate as CloudFormation does, and only resources whose condition holds exist
    assert conditions(template) == {"AIsX": True, "BIsX": False, "Either": True, "Both": False, "NotB": True}
    assert set(active_resources(template)) == {"Always", "IfEither"}
    assert set(active_resources(template, {"B": "x"})) == {"Always", "IfB", "IfEither"}


def test_tracing_is_a_parameter_off_by_default_for_the_functions_and_the_api_stage() -> None:
    # Given the template
    template = load()
    # Then X-Ray tracing is one parameter, PassThrough unless asked for
    spec = template["Parameters"]["Tracing"]
    assert spec["Default"] == "PassThrough"
    assert set(spec["AllowedValues"]) == {"Active", "PassThrough"}
    # And the functions and the API stage both follow it
    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}
    api = template["Resources"]["WebhookApi"]["Properties"]
    assert api["TracingEnabled"] == {"Fn::If": ["TracingActive", True, False]}
    functions = _of_type(template, "AWS::Serverless::Function").values()
    assert not [f for f in functions if "Tracing" in f.get("Properties", {})]  # none overrides it


@pytest.mark.parametrize(
    ("parameter", "prefixes"), [("SlackNotifications", ("Slack",)), ("HttpForwarding", ("Forward", "HttpForwarder"))]
)
def test_an_optional_consumer_exists_only_when_its_parameter_is_on(parameter: str, prefixes: tuple[str, ...]) -> None:
    # Given the template at its defaults (the consumer off)
    template = load()
    off = deployed(template)
    # Then none of the consumer's resources exist: no secret, queue, DLQ, alarm, poller or function
    assert not [name for name in off["Resources"] if name.startswith(prefixes)]
    assert not [name for name in off["Outputs"] if name.startswith(prefixes)]
    # When it is turned on
    on = deployed(template, {parameter: "on"})
    # Then its secret, queue with DLQ, rule, function and alarms all exist
    types = {on["Resources"][name]["Type"] for name in on["Resources"] if name.startswith(prefixes)}
    assert {
        "AWS::SecretsManager::Secret",
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::Serverless::Function",
        "AWS::CloudWatch::Alarm",
    } <= types


def test_the_dashboard_is_a_parameter_on_by_default_and_no_alarm_depends_on_it() -> None:
    # Given the template
    template = load()
    # Then the dashboard exists by default and goes with DashboardEnabled=off, the alarms staying
    assert "Dashboard" in deployed(template)["Resources"]
    off = deployed(template, {"DashboardEnabled": "off"})["Resources"]
    assert not [name for name, spec in off.items() if spec["Type"] == "AWS::CloudWatch::Dashboard"]
    alarms = {
        name for name, spec in deployed(template)["Resources"].items() if spec["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == {name for name, spec in off.items() if spec["Type"] == "AWS::CloudWatch::Alarm"}


def test_every_v1_route_requires_a_sigv4_signature_and_only_those() -> None:
    # Given the REST API's OpenAPI body as the template writes it
    from calsync_dev.template import load

    body = load()["Resources"]["WebhookApi"]["Properties"]["DefinitionBody"]
    secured = {
        (path, method): operation.get("security")
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    # Then every /v1 route is IAM-signed (API Gateway's 403 before calsync runs) and the
    # webhook and OAuth callback routes stay open (Calendly and a browser sign nothing)
    assert {k: v for k, v in secured.items() if not k[0].startswith("/v1/")} == {
        ("/webhooks/calendly/{connection_id}", "post"): None,
        ("/oauth/callback", "get"): None,
    }
    assert {
        ("/v1/connections", "get"),
        ("/v1/connections", "post"),
        ("/v1/connections/{connection_id}", "get"),
        ("/v1/connections/{connection_id}", "delete"),
        ("/v1/connections/{connection_id}/bookings", "get"),
        ("/v1/connections/{connection_id}/bookings/{invitee_uuid}", "get"),
        ("/v1/connections/{connection_id}/events/{event_uuid}", "get"),
        ("/v1/connections/{connection_id}/reports", "get"),
        ("/v1/connections/{connection_id}/erasures", "post"),
        ("/v1/connections/{connection_id}/erasures/{erasure_id}", "get"),
        ("/v1/erasures", "post"),
        ("/v1/erasures/{erasure_id}", "get"),
    } <= set(secured)
    assert all(v == [{"sigv4": []}] for k, v in secured.items() if k[0].startswith("/v1/"))
    scheme = body["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
