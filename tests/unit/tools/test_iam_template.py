"""The template's IAM seen from the services' side: what Lambda, EventBridge and the Scheduler
do with the stack's roles and resource policies is allowed, and nothing more. The functions' own
requests are checked in tests/integration (test_iam.py and beside each function's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from calsync_dev.template import load_raw
from tests import iam
from tests.iam import (
    ACCOUNT,
    SCHEDULER,
    Call,
    authorisations,
    deployed,
    refused,
    resource_policy,
    rule_deliveries,
    service_checks,
    stack,
    trust,
)
from tests.iam.policy import Request, allows

PUBLISHER = "LifecyclePublisherFunction"


def test_lambda_may_poll_every_event_source_and_write_every_failure_destination() -> None:
    # Given every event source mapping, dead-letter queue and destination in the template
    checks = service_checks()
    made = {(c.role, c.request.action, c.request.resource.split(":", 5)[-1]) for c in checks}
    # (the delivery queues, the table's stream with its on-failure queue, the reminders' DLQ)
    assert ("InviteeCreatedProcessorRole", "sqs:ReceiveMessage", "calsync-dev-InviteeCreatedQueue") in made
    stream = "table/calsync-dev-BookingsTable/stream/2026-01-01T00:00:00.000"  # the table's StreamArn
    assert ("LifecyclePublisherFunctionRole", "dynamodb:GetRecords", stream) in made
    assert ("LifecyclePublisherFunctionRole", "sqs:SendMessage", "calsync-dev-LifecyclePublisherDLQ") in made
    assert ("ReminderFunctionRole", "sqs:SendMessage", "calsync-dev-ReminderDLQ") in made
    # Then the function's role allows each (managed policies, SAM's policy templates included)
    assert refused(checks) == []


def test_a_processor_may_not_poll_another_kinds_queue_with_a_policy_of_its_own() -> None:
    # The managed SQS policy allows any queue; the processors' own statements name no queue at all
    own = [s for s in stack().role_of("InviteeCreatedProcessor") if s.get("Sid")]
    other = "arn:aws:sqs:us-east-1:123456789012:calsync-dev-OtherQueue"
    assert not allows(own, Request("sqs:ReceiveMessage", other))


def test_the_publishers_dead_letter_policy_template_is_expanded_to_its_queue() -> None:
    # SQSSendMessagePolicy (a SAM policy template) becomes sqs:SendMessage* on that queue's ARN only
    role = stack().role_of(PUBLISHER)
    dlq = "arn:aws:sqs:us-east-1:123456789012:calsync-dev-LifecyclePublisherDLQ"
    assert allows(role, Request("sqs:SendMessageBatch", dlq))
    assert not allows(role, Request("sqs:SendMessage", dlq.replace("LifecyclePublisherDLQ", "InviteeCreatedQueue")))


def test_every_rule_may_deliver_to_its_queues_and_only_that_rule() -> None:
    # Given each EventBridge rule's targets (and their dead-letter queues)
    deliveries = rule_deliveries()
    assert {rule for rule, _ in deliveries} >= {"SlackRule", "ForwardRule"}
    for rule, request in deliveries:
        policy = resource_policy(request.resource)
        # Then the target's resource policy lets EventBridge deliver for that rule
        assert allows(policy, request), f"{rule}: {request}"
        # And not for another rule, nor for another service
        other = {**request.context, "aws:SourceArn": (request.context["aws:SourceArn"][0] + "Other",)}
        assert not allows(policy, Request(request.action, request.resource, other, request.principal)), rule
        sns = ("Service", "sns.amazonaws.com")
        assert not allows(policy, Request(request.action, request.resource, request.context, sns)), rule


def test_the_scheduler_role_is_assumed_by_the_scheduler_of_this_account_only() -> None:
    statements = trust("ReminderSchedulerRole")
    mine = {"aws:SourceAccount": (ACCOUNT,)}
    assert allows(statements, Request("sts:AssumeRole", "*", mine, ("Service", SCHEDULER)))
    assert not allows(
        statements, Request("sts:AssumeRole", "*", {"aws:SourceAccount": ("999999999999",)}, ("Service", SCHEDULER))
    )
    assert not allows(statements, Request("sts:AssumeRole", "*", mine, ("Service", "lambda.amazonaws.com")))


def test_the_scheduler_role_may_invoke_the_reminder_function_only() -> None:
    role = stack().roles["ReminderSchedulerRole"]
    reminder = stack().resolve.get_att("ReminderFunction", "Arn")
    assert allows(role, Request("lambda:InvokeFunction", reminder))
    assert not allows(role, Request("lambda:InvokeFunction", reminder.replace("reminder", "receiver")))


def test_no_role_may_pass_a_role_to_any_service_but_the_scheduler() -> None:
    # Given every role of the stack, passed by every role of the stack
    roles = stack().roles
    arns = [stack().resolve.get_att(logical, "Arn") for logical in roles]
    for passer, statements in roles.items():
        for arn in arns:
            # Then none may be passed to another service, or without naming one
            for service in ("lambda.amazonaws.com", "ec2.amazonaws.com", "events.amazonaws.com"):
                assert not allows(statements, Request("iam:PassRole", arn, {"iam:PassedToService": (service,)})), passer
            assert not allows(statements, Request("iam:PassRole", arn)), passer
    # And the publisher alone may hand the reminder role to the Scheduler
    reminder_role = stack().resolve.get_att("ReminderSchedulerRole", "Arn")
    to_scheduler = Request("iam:PassRole", reminder_role, {"iam:PassedToService": (SCHEDULER,)})
    assert [p for p, statements in roles.items() if allows(statements, to_scheduler)] == [
        "LifecyclePublisherFunctionRole"
    ]


def test_a_recorded_request_becomes_the_authorisations_iam_makes() -> None:
    table = "calsync-dev-BookingsTable"
    role = "R"

    def requests(service: str, operation: str, **params: object) -> list[str]:
        return [str(c.request) for c in authorisations(role, Call(service, operation, params))]

    # A Query on an index: the index's ARN and the index's partition key
    query = requests(
        "dynamodb",
        "Query",
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="#pk = :pk AND GSI1SK > :s",
        ExpressionAttributeNames={"#pk": "GSI1PK"},
        ExpressionAttributeValues={":pk": {"S": "EMAIL#x"}, ":s": {"S": "a"}},
    )
    assert query == [
        "dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/calsync-dev-BookingsTable/index/GSI1 dynamodb:LeadingKeys=['EMAIL#x']"
    ]
    # A BatchGetItem: every key's partition
    keys = [{"PK": {"S": "EVENT#1"}, "SK": {"S": "E"}}, {"PK": {"S": "SUBMISSION#2"}, "SK": {"S": "S"}}]
    (batch,) = requests("dynamodb", "BatchGetItem", RequestItems={table: {"Keys": keys}})
    assert batch.endswith("dynamodb:LeadingKeys=['EVENT#1', 'SUBMISSION#2']")
    # A transaction: each item's own action
    put = {"Put": {"TableName": table, "Item": {"PK": {"S": "EVENT#1"}, "SK": {"S": "x"}}}}
    check = {"ConditionCheck": {"TableName": table, "Key": {"PK": {"S": "TOMBSTONE#h"}, "SK": {"S": "x"}}}}
    assert [r.split(" on ")[0] for r in requests("dynamodb", "TransactWriteItems", TransactItems=[put, check])] == [
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    ]
    # A batch send is SendMessage on the queue named by its URL; a secret by name gets its ARN
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/calsync-dev-OtherQueue"
    assert requests("sqs", "SendMessageBatch", QueueUrl=url, Entries=[]) == [
        "sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:calsync-dev-OtherQueue"
    ]
    assert requests("secretsmanager", "GetSecretValue", SecretId="calsync/dev/tokens/acme") == [
        "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:calsync/dev/tokens/acme-AbC123"
    ]
    # Events: each entry on its bus, with its source and detail-type (a policy may condition on them)
    entry = {"EventBusName": "calsync-dev", "Source": "calsync", "DetailType": "Booking Scheduled", "Detail": "{}"}
    assert requests("events", "PutEvents", Entries=[entry, entry]) == [
        "events:PutEvents on arn:aws:events:us-east-1:123456789012:event-bus/calsync-dev"
        " events:detail-type=['Booking Scheduled'] events:source=['calsync']"
    ]
    # An S3 object: its key in the ARN (a policy can scope a prefix)
    assert requests("s3", "PutObject", Bucket="calsync-dev-bodies", Key="bodies/acme/1") == [
        "s3:PutObject on arn:aws:s3:::calsync-dev-bodies/bodies/acme/1"
    ]


# Parts other branches add (a bucket for large bodies, a rule target's dead-letter queue), in a
# template of their own: the same machinery checks them, nothing to add.
NEW_PARTS = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Resources:
  BodiesBucket:
    Type: AWS::S3::Bucket
  BodiesBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref BodiesBucket
      PolicyDocument:
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: [!GetAtt BodiesBucket.Arn, !Sub "${BodiesBucket.Arn}/*"]
            Condition: {Bool: {aws:SecureTransport: false}}
          - Effect: Deny
            Principal: "*"
            Action: s3:PutObject
            Resource: !Sub "${BodiesBucket.Arn}/locked/*"
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub "calsync-${Stage}"}
  Target: {Type: AWS::SQS::Queue}
  TargetDLQ: {Type: AWS::SQS::Queue}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [calsync]}
      Targets: [{Id: t, Arn: !GetAtt Target.Arn, DeadLetterConfig: {Arn: !GetAtt TargetDLQ.Arn}}]
  TargetPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Target]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Target.Arn
            Condition: {ArnEquals: {aws:SourceArn: !GetAtt Rule.Arn}}
  Receiver:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: functions/receiver/
      Policies:
        - Statement:
            - Effect: Allow
              Action: s3:PutObject
              Resource: [!Sub "${BodiesBucket.Arn}/bodies/*", !Sub "${BodiesBucket.Arn}/locked/*"]
        - S3ReadPolicy:
            BucketName: !Ref BodiesBucket
"""


@pytest.fixture
def new_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(NEW_PARTS)
    built = iam.build(load_raw(path), {})
    monkeypatch.setattr(deployed, "stack", lambda: built)


@pytest.mark.usefixtures("new_parts")
def test_a_bucket_policy_scoped_to_a_key_prefix_is_checked_by_the_object_key() -> None:
    bucket = "calsync-dev-bodiesbucket"
    put = Call("s3", "PutObject", {"Bucket": bucket, "Key": "bodies/acme/1.json", "Body": b"{}"})
    read = Call("s3", "HeadObject", {"Bucket": bucket, "Key": "bodies/acme/1.json"})  # S3ReadPolicy, expanded
    assert iam.not_granted("Receiver", [put, read]) == []
    elsewhere = Call("s3", "PutObject", {"Bucket": bucket, "Key": "other/1.json", "Body": b"{}"})
    assert iam.not_granted("Receiver", [elsewhere]) == [
        "ReceiverRole: s3:PutObject on arn:aws:s3:::calsync-dev-bodiesbucket/other/1.json"
    ]
    another_bucket = Call("s3", "GetObject", {"Bucket": "someone-elses", "Key": "bodies/1.json"})
    assert iam.not_granted("Receiver", [another_bucket]) != []


@pytest.mark.usefixtures("new_parts")
def test_a_rule_targets_dead_letter_queue_without_a_queue_policy_is_caught() -> None:
    refused = [str(r) for _, r in iam.rule_deliveries() if not allows(iam.resource_policy(r.resource), r)]
    assert refused == [
        "sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:calsync-dev-TargetDLQ"
        " aws:SourceAccount=['123456789012'] aws:SourceArn=['arn:aws:events:us-east-1:123456789012:rule/calsync-dev/calsync-dev-Rule']"
        " by events.amazonaws.com"
    ]


@pytest.mark.usefixtures("new_parts")
def test_an_explicit_deny_in_the_buckets_own_policy_wins_over_the_role() -> None:
    # Given a role allowed to put under locked/, and the bucket's policy denying it (and plain HTTP)
    locked = Call("s3", "PutObject", {"Bucket": "calsync-dev-bodiesbucket", "Key": "locked/1.json", "Body": b"{}"})
    # Then the put is refused; a put elsewhere over HTTPS (as boto3 sends it) is not
    assert iam.not_granted("Receiver", [locked]) == [
        "ReceiverRole: s3:PutObject on arn:aws:s3:::calsync-dev-bodiesbucket/locked/1.json"
    ]
    fine = Call("s3", "PutObject", {"Bucket": "calsync-dev-bodiesbucket", "Key": "bodies/1.json", "Body": b"{}"})
    assert iam.not_granted("Receiver", [fine]) == []
