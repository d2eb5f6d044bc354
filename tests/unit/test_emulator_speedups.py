"""The local emulator's speed-ups change how fast moto answers, never what it answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from calsync_dev.local import speedups


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """``speedups.apply`` for one test (every patched attribute is restored afterwards)."""
    import jsonpath_ng.ext as jsonpath_ext
    from moto import backends
    from moto.dynamodb.parsing import ast_nodes, expressions, validators
    from moto.sqs import models as sqs

    for module, name in ((backends, "list_of_moto_modules"), (sqs, "unix_time"), (sqs, "unix_time_millis")):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored after the test
    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy)
    monkeypatch.setattr(jsonpath_ext, "parse", jsonpath_ext.parse)
    monkeypatch.setattr(
        sqs.SQSBackend,
        "is_message_valid_based_on_retention_period",
        sqs.SQSBackend.is_message_valid_based_on_retention_period,
    )
    for cls, name in (
        (expressions.UpdateExpressionParser, "make"),
        (ast_nodes.DepthFirstTraverser, "nodes_to_be_processed"),
        (ast_nodes.DepthFirstTraverser, "process"),
        (ast_nodes.DepthFirstTraverser, "traverse_node_recursively"),
        (validators.UpdateExpressionValidator, "validate"),
    ):
        monkeypatch.setattr(cls, name, cls.__dict__.get(name, getattr(cls, name)))  # classmethods as they are
    return speedups.apply


def test_the_patched_clock_reads_what_moto_s_own_clock_reads(patched: Callable[[], None]) -> None:
    patched()
    from moto.core import utils
    from moto.sqs import models as sqs

    # Given moto's SQS clock patched, When it is read next to moto's own
    before = utils.unix_time_millis()
    fast = sqs.unix_time_millis()
    after = utils.unix_time_millis()
    # Then it reads the same time (to the millisecond), and a given time is converted as before
    assert before - 1 <= fast <= after + 1
    moment = utils.utcnow()
    assert sqs.unix_time(moment) == utils.unix_time(moment)
    assert abs(sqs.unix_time() - time.time()) < 0.01


def test_the_dispatcher_sees_the_same_backends_read_once(patched: Callable[[], None]) -> None:
    patched()
    from moto import backends

    # Given the module list read once, Then it is moto's list of service folders
    listed = list(backends.list_of_moto_modules())
    assert "sqs" in listed
    assert "dynamodb" in listed
    assert listed == list(backends.list_of_moto_modules())


# ------------------------------------------------------------------ DynamoDB UpdateItem

S = {"S": "s"}
# (the item stored before, or None; UpdateItem's arguments beyond the key): what calsync sends and
# what moto refuses, each sent twice (the second answer comes from the memoised paths).
UPDATES: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [
    (  # calsync's upsert: ~20 SET clauses, if_not_exists, a version condition
        None,
        {
            "UpdateExpression": "SET "
            + ", ".join(
                [f"#n{i} = :v{i}" for i in range(16)] + [f"#n{i} = if_not_exists(#n{i}, :v{i})" for i in range(16, 20)]
            ),
            "ExpressionAttributeNames": {f"#n{i}": f"a{i}" for i in range(20)},
            "ExpressionAttributeValues": {f":v{i}": {"S": f"value {i}"} for i in range(20)},
            "ConditionExpression": "attribute_not_exists(#n0) OR #n0 < :v0",
        },
    ),
    (  # the same, over a stored item with a newer version: the condition fails
        {"a0": {"S": "zzz"}},
        {
            "UpdateExpression": "SET #n0 = :v0, #n1 = :v1",
            "ExpressionAttributeNames": {"#n0": "a0", "#n1": "a1"},
            "ExpressionAttributeValues": {":v0": {"S": "aaa"}, ":v1": S},
            "ConditionExpression": "attribute_not_exists(#n0) OR #n0 < :v0",
        },
    ),
    (
        {"n": {"N": "1"}},
        {"UpdateExpression": "ADD n :one SET t = :t", "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": S}},
    ),
    ({"l": {"L": [S, {"S": "b"}, {"S": "c"}]}, "x": S}, {"UpdateExpression": "REMOVE l[0], l[2], x"}),
    (
        {"l": {"L": [S]}},
        {"UpdateExpression": "SET l = list_append(l, :l)", "ExpressionAttributeValues": {":l": {"L": [S]}}},
    ),
    (
        {"ss": {"SS": ["a", "b"]}},
        {"UpdateExpression": "DELETE ss :d", "ExpressionAttributeValues": {":d": {"SS": ["a"]}}},
    ),
    (None, {"UpdateExpression": "SET a = absent + :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}),
    (None, {"UpdateExpression": "SET a = :a SET b = :a", "ExpressionAttributeValues": {":a": S}}),
    (
        None,
        {
            "UpdateExpression": "ADD a :n SET b = :s SET c = :s ADD d :n",
            "ExpressionAttributeValues": {":n": {"N": "1"}, ":s": S},
        },
    ),
    (None, {"UpdateExpression": "SET a = :a, a = :b", "ExpressionAttributeValues": {":a": S, ":b": S}}),
    (
        None,
        {
            "UpdateExpression": "SET #a = :a, #b = :a",
            "ExpressionAttributeNames": {"#a": "x", "#b": "x"},
            "ExpressionAttributeValues": {":a": S},
        },
    ),
    (None, {"UpdateExpression": "SET m.x.y = :a", "ExpressionAttributeValues": {":a": S}}),
    ({"s": S}, {"UpdateExpression": "ADD s :n", "ExpressionAttributeValues": {":n": {"N": "1"}}}),
    (
        None,
        {
            "UpdateExpression": "SET #k = :a",
            "ExpressionAttributeNames": {"#k": "other"},
            "ExpressionAttributeValues": {":a": S},
        },
    ),
    # the expression above, its name now the table's key: refused although the text was accepted
    (
        None,
        {
            "UpdateExpression": "SET #k = :a",
            "ExpressionAttributeNames": {"#k": "PK"},
            "ExpressionAttributeValues": {":a": S},
        },
    ),
    (None, {"UpdateExpression": "SET g = :e", "ExpressionAttributeValues": {":e": {"S": ""}}}),
    (None, {"UpdateExpression": "SET a = :missing", "ExpressionAttributeValues": {":a": S}}),
    (None, {"UpdateExpression": "SET = :a", "ExpressionAttributeValues": {":a": S}}),
    (None, {"UpdateExpression": "SET a = :a, b = a", "ExpressionAttributeValues": {":a": S}}),
]


def _answers() -> list[Any]:
    """What moto answers to each of ``UPDATES`` (twice), and the item it leaves."""
    answers: list[Any] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "g")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n, (stored, update) in enumerate(UPDATES * 2):
            key = {"PK": {"S": f"item{n}"}, "SK": S}
            if stored is not None:
                client.put_item(TableName="t", Item={**key, **stored})
            try:
                answer: Any = client.update_item(TableName="t", Key=key, ReturnValues="ALL_NEW", **update)["Attributes"]
            except ClientError as exc:
                answer = (exc.response["Error"]["Code"], exc.response["Error"]["Message"])
            answers.append((answer, client.get_item(TableName="t", Key=key).get("Item")))
    return answers


def test_update_item_answers_exactly_as_unpatched_moto(patched: Callable[[], None]) -> None:
    # Given what unpatched moto answers to calsync's upserts and to updates it refuses
    unpatched = _answers()
    assert any(isinstance(answer, dict) for answer, _ in unpatched)
    assert len({answer for answer, _ in unpatched if isinstance(answer, tuple)}) >= 8  # refusals of many kinds
    # When the speed-ups are applied and the same requests sent (each twice: memoised the second time)
    patched()
    # Then every answer, error message and stored item is the same
    assert _answers() == unpatched


def _shape(node: Any) -> Any:
    """A parsed tree as plain data: node types, leaves, and whether each parent link is right."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if not isinstance(node, Node):
        return node
    children = [(_shape(c), c.parent is node if isinstance(c, Node) else None) for c in node.children or []]
    return (type(node).__name__, node.type, children)


def test_a_memoised_expression_tree_is_never_changed_by_the_updates_that_use_it(patched: Callable[[], None]) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    # Given the speed-ups, and every expression of UPDATES parsed before any update runs
    patched()
    texts = [update["UpdateExpression"] for _, update in UPDATES if update["UpdateExpression"] != "SET = :a"]
    trees = {text: UpdateExpressionParser.make(text) for text in texts}
    shapes = {text: _shape(tree) for text, tree in trees.items()}
    # When the updates run (twice each)
    _answers()
    # Then the same trees are handed out, exactly as they were parsed
    for text in texts:
        assert UpdateExpressionParser.make(text) is trees[text]
        assert _shape(trees[text]) == shapes[text]


def test_the_tree_copy_is_what_deepcopy_makes(patched: Callable[[], None]) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    # Given a parsed expression with functions, arithmetic, nested paths and every clause kind
    tree = UpdateExpressionParser.make(
        "SET a.b[1] = if_not_exists(a, :v) + :n, l = list_append(:l, l) REMOVE r[2] ADD n :n DELETE s :s"
    )
    # When it is copied by the speed-up and by deepcopy
    fast, slow = speedups.clone_tree(tree), deepcopy(tree)
    # Then both copies are alike, share no node with the original, and link parents the same way
    assert _shape(fast) == _shape(slow) == _shape(tree)
    assert fast is not tree
    assert fast.parent is None
    assert all(a is not b for a, b in zip(_nodes(fast), _nodes(tree), strict=True))
    # And a subtree (whose parent deepcopy copies along) is left to deepcopy, parent and all
    subtree = tree.children[0]
    copied = speedups.clone_tree(subtree)
    assert _shape(copied) == _shape(deepcopy(subtree))
    assert copied.parent is not None
    assert copied.parent is not tree


def _nodes(node: Any) -> Iterator[Any]:
    from moto.dynamodb.parsing.ast_nodes import Node

    yield node
    for child in node.children or []:
        if isinstance(child, Node):
            yield from _nodes(child)


# ------------------------------------------------------------------ SQS retention


def _retention_answers() -> list[Any]:
    """Whether moto finds each message within its queue's retention, and what receives return,
    for a queue holding a message past the retention period among fresh ones."""
    from moto.sqs.models import sqs_backends

    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        url = client.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        for n in range(4):
            client.send_message(QueueUrl=url, MessageBody=f"m{n}")
        backend = sqs_backends["123456789012"]["us-east-1"]
        messages = list(backend.get_queue("q")._messages)
        messages[2].sent_timestamp -= 61_000  # sent 61 s ago: past the 60 s retention
        valid = [backend.is_message_valid_based_on_retention_period("q", m) for m in messages]
        bodies = [
            sorted(m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
            for _ in range(3)
        ]
        return [valid, bodies]


def test_a_receive_honours_the_retention_period_as_unpatched_moto_does(patched: Callable[[], None]) -> None:
    # Given what unpatched moto answers for a queue holding a message past its retention period
    unpatched = _retention_answers()
    assert unpatched[0] == [True, True, False, True]
    # When the speed-ups are applied, Then the same messages are found valid and received
    patched()
    assert _retention_answers() == unpatched


# ------------------------------------------------------------------ EventBridge targets


def _bus_deliveries() -> list[Any]:
    """What EventBridge puts on an SQS target for events of several shapes, with and without an
    input transformer (moto renders each through JSONPath expressions)."""
    from moto.events.utils import EventTemplateParser

    events = [
        {
            "id": "1",
            "time": 1767225600.5,
            "detail-type": "booking.created",
            "source": "calsync",
            "region": "us-east-1",
            "resources": [],
            "account": "123456789012",
            "ingestion-time": 1,
            "detail": {"event_id": "e1", "n": 3, "nested": {"list": [1, {"a": "b"}]}},
        },
        {
            "id": "2",
            "time": 1767225601,
            "detail-type": "x",
            "source": "s",
            "region": "r",
            "resources": ["arn:a", "arn:b"],
            "account": "1",
            "ingestion-time": 2,
            "detail": {},
        },
    ]
    transformer = ({"kind": "$.detail-type", "first": "$.detail.nested.list[1].a"}, '{"k": "<kind>", "f": "<first>"}')
    answers = []
    for event in events * 2:
        answers.append(EventTemplateParser.parse(input_template="", input_paths_map={}, event=event))
        answers.append(
            EventTemplateParser.parse(input_template=transformer[1], input_paths_map=transformer[0], event=event)
        )
    return answers


def test_events_reach_their_targets_as_unpatched_moto_renders_them(patched: Callable[[], None]) -> None:
    import jsonpath_ng.ext

    # Given what unpatched moto renders for each event and target
    unpatched = _bus_deliveries()
    # When the speed-ups are applied, Then every event is rendered the same, the paths compiled once
    patched()
    assert _bus_deliveries() == unpatched
    assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")
    assert str(jsonpath_ng.ext.parse("$.detail.nested.list[1].a")) == str(
        jsonpath_ng.ext.parser.parse("$.detail.nested.list[1].a")
    )
