"""The tests' IAM policy evaluator (tests/iam/policy.py) refuses what AWS refuses: a wrong ARN, a
wrong key prefix, a role passed without the service condition. The IAM checks of every
function (tests/iam/) are only as good as this."""

from __future__ import annotations

import pytest

from tests.iam.policy import ALLOW, DENY, REFUSED, Request, allows, arn_like, decide

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/calsync-dev-BookingsTable"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:calsync-dev-InviteeCreatedQueue"
SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:calsync/dev/signing-keys/*"
ROLE = "arn:aws:iam::123456789012:role/ReminderSchedulerRole"
RULE = "arn:aws:events:us-east-1:123456789012:rule/calsync-dev/calsync-dev-SlackRule"

WRITE_BOOKINGS = {
    "Effect": "Allow",
    "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
    "Resource": TABLE,
    "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["EVENT#*", "DELIVERY#*"]}},
}
PASS_TO_SCHEDULER = {
    "Effect": "Allow",
    "Action": "iam:PassRole",
    "Resource": ROLE,
    "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
}


def leading(*keys: str) -> dict[str, tuple[str, ...]]:
    return {"dynamodb:LeadingKeys": keys}


def test_a_request_on_the_named_resource_with_an_allowed_key_is_allowed() -> None:
    assert allows([WRITE_BOOKINGS], Request("dynamodb:PutItem", TABLE, leading("EVENT#ABC")))


def test_a_wrong_arn_is_refused() -> None:
    # Given a policy on the bookings table
    # When the request names another table, or one of the table's indexes
    other = Request("dynamodb:PutItem", TABLE.replace("BookingsTable", "OtherTable"), leading("EVENT#ABC"))
    index = Request("dynamodb:PutItem", f"{TABLE}/index/GSI1", leading("EVENT#ABC"))
    # Then neither is allowed
    assert decide([WRITE_BOOKINGS], other) == REFUSED
    assert decide([WRITE_BOOKINGS], index) == REFUSED


def test_a_wrong_key_prefix_is_refused() -> None:
    assert not allows([WRITE_BOOKINGS], Request("dynamodb:PutItem", TABLE, leading("CONNECTIONS")))
    # every key of a batch must match (ForAllValues), one outside is enough to refuse it
    assert not allows([WRITE_BOOKINGS], Request("dynamodb:PutItem", TABLE, leading("EVENT#A", "TOKENS#A")))
    assert allows([WRITE_BOOKINGS], Request("dynamodb:PutItem", TABLE, leading("EVENT#A", "DELIVERY#B")))


def test_for_all_values_holds_when_the_request_has_no_key_as_iam_documents() -> None:
    # A Scan carries no LeadingKeys: ForAllValues over nothing is true (IAM's documented trap)
    assert allows([WRITE_BOOKINGS], Request("dynamodb:GetItem", TABLE))
    any_value = {**WRITE_BOOKINGS, "Condition": {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["EVENT#*"]}}}
    assert not allows([any_value], Request("dynamodb:GetItem", TABLE))


def test_an_action_not_listed_is_refused_and_action_names_ignore_case() -> None:
    assert not allows([WRITE_BOOKINGS], Request("dynamodb:DeleteItem", TABLE, leading("EVENT#A")))
    assert allows([WRITE_BOOKINGS], Request("DynamoDB:putitem", TABLE, leading("EVENT#A")))
    wildcard = {"Effect": "Allow", "Action": "sqs:SendMessage*", "Resource": QUEUE}
    assert allows([wildcard], Request("sqs:SendMessage", QUEUE))
    assert not allows([wildcard], Request("sqs:ReceiveMessage", QUEUE))


def test_a_secret_is_matched_by_its_name_prefix_not_another_prefix() -> None:
    read = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRETS}
    mine = SECRETS.replace("*", "acme-AbC123")
    assert allows([read], Request("secretsmanager:GetSecretValue", mine))
    assert not allows([read], Request("secretsmanager:GetSecretValue", mine.replace("signing-keys", "tokens")))
    exact = {**read, "Resource": SECRETS.replace("signing-keys/*", "erasure-key")}
    # a secret's ARN ends in 6 random characters: a policy naming it without them allows nothing
    assert not allows([exact], Request("secretsmanager:GetSecretValue", exact["Resource"] + "-AbC123"))


def test_wildcards_do_not_cross_the_arn_separators() -> None:
    assert arn_like("arn:aws:sqs:*:123456789012:calsync-*", QUEUE)
    assert not arn_like("arn:aws:sqs:us-east-1:*", "arn:aws:sqs:us-east-1:123456789012")  # not an ARN
    assert not arn_like("arn:aws:sqs:us-east-1:1234*:calsync-dev-Other*", QUEUE)
    assert arn_like("arn:aws:s3:::calsync-dev-bodies/bodies/*", "arn:aws:s3:::calsync-dev-bodies/bodies/acme/1.json")
    assert not arn_like("arn:aws:s3:::calsync-dev-bodies/bodies/*", "arn:aws:s3:::calsync-dev-bodies/other/1.json")


def test_a_role_passed_without_the_service_condition_is_refused() -> None:
    # Given a PassRole limited to the Scheduler
    to_scheduler = Request("iam:PassRole", ROLE, {"iam:PassedToService": ("scheduler.amazonaws.com",)})
    # Then passing it to the Scheduler is allowed, to another service or with no service named is not
    assert allows([PASS_TO_SCHEDULER], to_scheduler)
    assert not allows(
        [PASS_TO_SCHEDULER], Request("iam:PassRole", ROLE, {"iam:PassedToService": ("ec2.amazonaws.com",)})
    )
    assert not allows([PASS_TO_SCHEDULER], Request("iam:PassRole", ROLE))
    # And a PassRole statement without the condition would allow any service: a test can see that
    unconditioned = {k: v for k, v in PASS_TO_SCHEDULER.items() if k != "Condition"}
    assert allows([unconditioned], Request("iam:PassRole", ROLE, {"iam:PassedToService": ("ec2.amazonaws.com",)}))


def test_a_queue_policy_allows_only_its_rule_through_the_service_principal() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": RULE}},
    }
    by_events = ("Service", "events.amazonaws.com")
    assert allows([statement], Request("sqs:SendMessage", QUEUE, {"aws:SourceArn": (RULE,)}, by_events))
    other_rule = RULE.replace("SlackRule", "ForwardRule")
    assert not allows([statement], Request("sqs:SendMessage", QUEUE, {"aws:SourceArn": (other_rule,)}, by_events))
    assert not allows([statement], Request("sqs:SendMessage", QUEUE, {}, by_events))
    by_sns = ("Service", "sns.amazonaws.com")
    assert not allows([statement], Request("sqs:SendMessage", QUEUE, {"aws:SourceArn": (RULE,)}, by_sns))


def test_an_explicit_deny_wins_over_any_allow() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "dynamodb:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    plain = Request("dynamodb:PutItem", TABLE, {**leading("EVENT#A"), "aws:SecureTransport": ("false",)})
    assert decide([WRITE_BOOKINGS, deny], plain) == DENY
    secure = Request("dynamodb:PutItem", TABLE, {**leading("EVENT#A"), "aws:SecureTransport": ("true",)})
    assert decide([WRITE_BOOKINGS, deny], secure) == ALLOW


def test_negated_if_exists_and_null_operators_follow_iam() -> None:
    not_like = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "*",
        "Condition": {"StringNotLike": {"s3:prefix": "private/*"}},
    }
    assert allows([not_like], Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ("bodies/",)}))
    assert not allows([not_like], Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ("private/x",)}))
    assert allows([not_like], Request("s3:ListBucket", "arn:aws:s3:::b"))  # absent key: a negated operator holds
    if_exists = {**not_like, "Condition": {"StringLikeIfExists": {"s3:prefix": "bodies/*"}}}
    assert allows([if_exists], Request("s3:ListBucket", "arn:aws:s3:::b"))
    assert not allows([if_exists], Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ("x/",)}))
    null = {**not_like, "Condition": {"Null": {"s3:prefix": "false"}}}
    assert not allows([null], Request("s3:ListBucket", "arn:aws:s3:::b"))


def test_a_single_valued_operator_over_several_values_is_refused() -> None:
    # LeadingKeys of a BatchGetItem has several values: StringLike alone is not how IAM reads it
    single = {**WRITE_BOOKINGS, "Condition": {"StringLike": {"dynamodb:LeadingKeys": ["EVENT#*"]}}}
    assert allows([single], Request("dynamodb:GetItem", TABLE, leading("EVENT#A")))
    assert not allows([single], Request("dynamodb:GetItem", TABLE, leading("EVENT#A", "EVENT#B")))


def test_an_operator_it_does_not_know_raises_rather_than_guess() -> None:
    odd = {**WRITE_BOOKINGS, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    with pytest.raises(ValueError, match="IpAddress"):
        allows([odd], Request("dynamodb:GetItem", TABLE, {"aws:SourceIp": ("10.1.2.3",)}))


def test_a_resource_policy_naming_the_account_lets_the_roles_own_policy_decide() -> None:
    role = ("AWS", "arn:aws:iam::123456789012:role/ReceiverFunctionRole")
    account = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sqs:*",
        "Resource": QUEUE,
    }
    assert allows([account], Request("sqs:SendMessage", QUEUE, {}, role))
    elsewhere = ("AWS", "arn:aws:iam::999999999999:role/Other")
    assert not allows([account], Request("sqs:SendMessage", QUEUE, {}, elsewhere))
    assert not allows([account], Request("sqs:SendMessage", QUEUE, {}, ("Service", "events.amazonaws.com")))
