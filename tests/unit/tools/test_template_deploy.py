"""template.yaml deploys on a fresh account as intended: one API stage, no reserved
concurrency, optional access logs, data that survives the stack, and least-privilege
DynamoDB access per function (checked against the key formats of calsync.aws.keys)."""

from __future__ import annotations

import copy
import json
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from calsync.aws import keys
from calsync_dev.template import load

TEMPLATE = load()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
TABLE_ARN = {"Fn::GetAtt": ["BookingsTable", "Arn"]}
PROCESSORS = [k for k, v in RESOURCES.items() if v["Properties"].get("CodeUri") == "functions/processor/"]


@cache
def translated() -> dict[str, Any]:
    """What SAM turns the template into (as `sam deploy` would; code locations stubbed)."""
    template = copy.deepcopy(TEMPLATE)
    for resource in template["Resources"].values():
        for uri in ("CodeUri", "ContentUri"):
            if uri in resource.get("Properties", {}):
                resource["Properties"][uri] = "s3://bucket/key"
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    out: dict[str, Any] = Translator({}, Parser(), boto_session=session).translate(template, {})
    return out


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# ------------------------------------------------------------------ the API has one stage
def test_the_api_is_deployed_to_its_own_stage_only() -> None:
    # Given the template as SAM translates it
    out = translated()
    # Then there is exactly one stage, the one with the throttling and the 5xx alarm...
    stages = _of_type(out, "AWS::ApiGateway::Stage")
    assert [stage["Properties"]["StageName"] for stage in stages.values()] == [{"Ref": "Stage"}]
    # ...and no deployment creates SAM's extra stage named "Stage"
    for deployment in _of_type(out, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]


# ------------------------------------------------------------------ a fresh account
def test_no_function_reserves_concurrency() -> None:
    # A new account may have 10 concurrent executions, all of which must stay unreserved:
    # reserving any fails stack creation. The refresh lease serialises refreshes instead.
    for logical, function in _of_type(translated(), "AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], logical


# ------------------------------------------------------------------ access logs
def test_access_logs_are_off_unless_asked_for() -> None:
    parameter = TEMPLATE["Parameters"]["ApiAccessLogs"]
    assert parameter["Default"] == "off"
    assert parameter["AllowedValues"] == ["off", "on", "on-and-set-account-role"]
    # When asked for, the one stage logs to a log group with the stack's retention
    (stage,) = _of_type(translated(), "AWS::ApiGateway::Stage").values()
    condition, setting, otherwise = stage["Properties"]["AccessLogSetting"]["Fn::If"]
    assert condition == "HasApiAccessLogs"
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert setting["DestinationArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ApiAccessLogGroup}"
    }
    group = RESOURCES["ApiAccessLogGroup"]
    assert group["Condition"] == "HasApiAccessLogs"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # one JSON line per request that names why a request was refused, and nothing personal
    # or secret: no query string (the OAuth callback's holds the code), no headers, no body
    fields = json.loads(setting["Format"])
    assert {"status", "errorType", "validationError", "requestId", "resourcePath"} <= set(fields)
    assert not any(token in setting["Format"] for token in ("querystring", "$input", "header", "requestOverride"))


def test_the_account_role_is_created_only_when_asked_and_outlives_the_stack() -> None:
    assert TEMPLATE["Conditions"]["SetsApiGatewayAccountRole"] == {
        "Fn::Equals": [{"Ref": "ApiAccessLogs"}, "on-and-set-account-role"]
    }
    role, account = RESOURCES["ApiGatewayCloudWatchRole"], RESOURCES["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == "SetsApiGatewayAccountRole"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    # an account-wide setting other APIs may rely on: deleting the stack leaves it in place
    assert role["DeletionPolicy"] == account["DeletionPolicy"] == "Retain"
    # the stage (through its log group) waits for the account setting when the stack makes it
    (tag,) = RESOURCES["ApiAccessLogGroup"]["Properties"]["Tags"]
    assert tag["Value"] == {"Fn::If": ["SetsApiGatewayAccountRole", {"Ref": "ApiGatewayAccount"}, "preset"]}


# ------------------------------------------------------------------ retained data
DATA_HOLDERS = [*_of_type(TEMPLATE, "AWS::SQS::Queue"), "BookingsTable", "OAuthAppSecret", "ErasureKeySecret"]


@pytest.mark.parametrize("logical", DATA_HOLDERS)
def test_what_holds_data_outlives_the_stack_but_not_a_failed_first_create(logical: str) -> None:
    # Given a resource holding data an operator cannot recreate (accepted deliveries, bookings,
    # the OAuth app's credentials, the key of the tombstones' hashes)
    resource = RESOURCES[logical]
    # Then deleting the stack keeps it, but a first create that fails and rolls back removes it:
    # a named secret left behind by Retain stops the next deploy at "already exists"
    assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", logical
    # and a replacement keeps the old one too (UpdateReplacePolicy has no RetainExceptOnCreate)
    assert resource.get("UpdateReplacePolicy") == "Retain", logical


def test_every_data_holder_is_covered() -> None:
    # 5 intake queues + DLQs, the lifecycle DLQs and consumer queues, 2 reconcile-request queues,
    # the table, the two secrets
    assert len(DATA_HOLDERS) >= 21
    # every secret but the optional consumers' (a kept one adopted by ARN is created by no stack)
    consumers = ("SlackOn", "ForwardingOn")
    secrets = _of_type(TEMPLATE, "AWS::SecretsManager::Secret")
    # and but the read API's cursor key (deleted with the stack: losing it only ends cursors in flight)
    named_secrets = [k for k, v in secrets.items() if v.get("Condition") not in consumers and k != "CursorKeySecret"]
    assert secrets["CursorKeySecret"]["DeletionPolicy"] == "Delete"
    assert set(named_secrets) == {"OAuthAppSecret", "ErasureKeySecret"}
    assert set(named_secrets) <= set(DATA_HOLDERS)


# ------------------------------------------------------------------ DynamoDB least privilege
def may(function: str, action: str, partition_key: str) -> bool:
    """Whether the function's statements allow ``action`` on a table item with this partition
    key (IAM's ``dynamodb:LeadingKeys``; StringLike as IAM matches it)."""
    statements = RESOURCES[function]["Properties"].get("Policies", [{}])[0].get("Statement", [])
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or action not in actions or statement["Resource"] != TABLE_ARN:
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        ((operator, test),) = condition.items()
        assert set(test) == {"dynamodb:LeadingKeys"}, f"{function}: unexpected condition {condition}"
        patterns = test["dynamodb:LeadingKeys"]
        if operator == "ForAllValues:StringEquals" and partition_key in patterns:
            return True
        if operator == "ForAllValues:StringLike" and any(fnmatchcase(partition_key, p) for p in patterns):
            return True
    return False


BOOKING_ITEMS = {
    "event": keys.event("e1").pk,
    "invitee": keys.invitee("e1", "i1").pk,
    "submission with submitter": keys.submission("s1", "e1").pk,
    "submission alone": keys.submission("s1", None).pk,
    "archive": keys.delivery("ab12").pk,
    "quarantine": keys.quarantine("ab12").pk,
    "other event": keys.other("meeting_recap.created", "2026-11-30T00:00:00Z", "ab12").pk,
}
CONNECTION = keys.connection("acme").pk
OAUTH_STATE = keys.oauth_state("s-123").pk
WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


@pytest.mark.parametrize("processor", PROCESSORS)
def test_processors_write_booking_items_and_never_a_connection(processor: str) -> None:
    assert len(PROCESSORS) == 5
    for what, pk in BOOKING_ITEMS.items():
        assert may(processor, "dynamodb:PutItem", pk), what
        assert may(processor, "dynamodb:UpdateItem", pk), what
    for pk in (CONNECTION, OAUTH_STATE):
        assert not any(may(processor, action, pk) for action in (*WRITES, "dynamodb:Query", "dynamodb:GetItem"))


@pytest.mark.parametrize("function", ["TokenRefresherFunction", "SubscriptionWatchdogFunction"])
def test_scheduled_functions_touch_connection_records_only(function: str) -> None:
    # They list the connections (one Query on their partition) and update the one at hand
    assert may(function, "dynamodb:Query", CONNECTION)
    assert may(function, "dynamodb:UpdateItem", CONNECTION)
    assert not may(function, "dynamodb:PutItem", CONNECTION)
    assert not may(function, "dynamodb:DeleteItem", CONNECTION)
    for pk in (*BOOKING_ITEMS.values(), OAUTH_STATE):
        assert not any(may(function, action, pk) for action in (*WRITES, "dynamodb:Query")), pk


def test_the_oauth_callback_takes_a_pending_authorization_and_registers_a_connection_only() -> None:
    function = "OAuthCallbackFunction"
    assert may(function, "dynamodb:DeleteItem", OAUTH_STATE)
    assert may(function, "dynamodb:PutItem", CONNECTION)
    assert not may(function, "dynamodb:PutItem", OAUTH_STATE)
    assert not may(function, "dynamodb:DeleteItem", CONNECTION)
    for pk in BOOKING_ITEMS.values():
        assert not any(may(function, action, pk) for action in WRITES), pk


def test_the_connect_api_may_only_add_an_oauth_state_and_read_a_connection_s_status() -> None:
    # Given POST /v1/connections records a pending authorization and checks the connection's status
    function = "ConnectApiFunction"
    statements = RESOURCES[function]["Properties"]["Policies"][0]["Statement"]
    # Then it may add an OAuth state and nothing else: no connection, no booking, no delete
    assert may(function, "dynamodb:PutItem", OAUTH_STATE)
    assert not any(may(function, action, CONNECTION) for action in WRITES)
    assert not may(function, "dynamodb:DeleteItem", OAUTH_STATE)
    for pk in BOOKING_ITEMS.values():
        assert not any(may(function, action, pk) for action in (*WRITES, "dynamodb:Query")), pk
    # And read a connection record's status attribute alone (no reference, no token expiry)
    (status,) = [s for s in statements if s["Action"] == "dynamodb:GetItem"]
    assert status["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [CONNECTION], "dynamodb:Attributes": ["status"]},
        "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
    }
    # And the secret it reads is the OAuth app's alone (never a token or a signing key)
    secrets = [s for s in statements if "secretsmanager" in str(s["Action"])]
    assert [s["Action"] for s in secrets] == [["secretsmanager:GetSecretValue"]]


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ("", set()),
        ("https://app.example.com", {"https://app.example.com"}),
        ("https://a.example, http://localhost:8000", {"https://a.example", "http://localhost:8000"}),
    ],
)
def test_connect_return_origins_reach_the_connect_api_as_its_allow_list(origins: str, allowed: set[str]) -> None:
    import re

    from calsync import config
    from calsync.connections.return_to import parse_origins

    parameter = TEMPLATE["Parameters"]["ConnectReturnOrigins"]
    assert parameter["Default"] == ""  # none allowed unless the operator says so
    assert re.fullmatch(parameter["AllowedPattern"], origins)
    settings = config.ConnectApiSettings.from_env(_env_at("ConnectApiFunction", {"ConnectReturnOrigins": origins}))
    assert parse_origins(settings.connect_return_origins) == allowed


def test_the_receiver_may_read_only_the_keys_of_connection_records() -> None:
    # Given the receiver asks the table whether a connection id is registered (audit defect 1)
    statements = RESOURCES["ReceiverFunction"]["Properties"]["Policies"][0]["Statement"]
    (table,) = [s for s in statements if "dynamodb" in str(s["Action"])]
    # Then it may GetItem a connection record's key and status and nothing else: no write, no
    # other item, no other attribute (the record's references stay unread; the status tells a
    # disconnected connection, answered 410, unless a re-connect holds its lease)
    assert (table["Action"], table["Resource"]) == ("dynamodb:GetItem", TABLE_ARN)
    assert table["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:LeadingKeys": [CONNECTION],
            "dynamodb:Attributes": ["PK", "SK", "status", "lease_until"],
        },
        "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
    }


# ------------------------------------------------------------------ parameters reach settings
def _settings_for(function: str) -> Any:
    from calsync import config

    return {
        "SubscriptionWatchdogFunction": config.WatchdogSettings,
        "ReconcilerFunction": config.ReconcilerSettings,
        "TokenRefresherFunction": config.ConnectionSettings,
        "ReceiverFunction": config.ReceiverSettings,
        "InviteeCreatedProcessor": config.ProcessorSettings,
    }.get(function)


def _env_at(function: str, parameter_values: dict[str, str]) -> dict[str, str]:
    """The function's environment as deployed with these parameter values (other references: a
    placeholder name)."""
    env: dict[str, str] = {}
    for name, value in RESOURCES[function]["Properties"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameter_values:
            env[name] = parameter_values[value["Ref"]]
        elif isinstance(value, str):
            env[name] = value
        else:
            env[name] = "placeholder"
    return env


@pytest.mark.parametrize(
    "function",
    ["SubscriptionWatchdogFunction", "ReconcilerFunction", "TokenRefresherFunction", "ReceiverFunction"],
)
def test_every_number_a_parameter_allows_is_accepted_by_the_function_that_reads_it(function: str) -> None:
    # Given the number parameters the template lets an operator set, at their bounds
    numbers = {k: v for k, v in TEMPLATE["Parameters"].items() if v.get("Type") == "Number"}
    for bound in ("MinValue", "Default", "MaxValue"):
        values = {name: str(spec.get(bound, spec["Default"])) for name, spec in numbers.items()}
        # When the function reads its environment, Then its settings accept them (a refused
        # value would crash every invocation)
        _settings_for(function).from_env(_env_at(function, values))


def test_a_failed_scheduled_reconcile_is_not_retried_whole_by_lambda() -> None:
    # Given the reconciler fails its scheduled invocation when one connection failed (Errors alarm)
    reconciler = RESOURCES["ReconcilerFunction"]["Properties"]
    # Then Lambda does not run the whole schedule again (twice more, for every healthy connection)
    assert reconciler["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
