"""The emulator's hot spots, made cheap without changing what it answers (local stack only).

Profiling the moto server under ``calsync load`` (``CALSYNC_EMULATOR_PROFILE``) showed costs
that have nothing to do with the AWS semantics it emulates:

- every request lists moto's package folder and stats each of its ~200 entries
  (``backends.list_of_moto_modules``, asked by the dispatcher for each request's host): the
  folder does not change while the server runs, so it is read once;
- SQS decides each message's visibility by building ``datetime`` objects (``unix_time_millis``:
  five calls and two datetimes per message, per scan of the queue — every receive and every
  depth question scans it): the same number, from ``time.time()``;
- DynamoDB's ``UpdateItem`` (calsync's ~20-clause upserts: ~15 ms of moto CPU each) parses its
  expression twice per request and validates it (twice for a new item) with ten tree walks,
  two of which re-walk every subtree (quadratic in the clauses), each walk rebuilding its
  node-type table at every node, on a ``deepcopy`` of the tree. What AWS answers depends on the
  expression, its names and values and the item, and on nothing here:

  * ``UpdateExpressionParser.make`` is memoised by expression text: the parsed tree is only
    read (``find_clauses``) or copied before use (the validator deep-copies it first), never
    changed — tests/unit/test_emulator_speedups.py checks that it stays as parsed;
  * each tree walker's node-type table is built once per walker, not once per node;
  * the three checks that depend only on the expression, its names and the table's keys
    (at most one clause per kind, no overlapping paths, no key attribute updated) pass or fail
    the same way every time for the same inputs: once passed, they are not walked again for
    them (a failure is never remembered, so it is raised as moto raises it, every time);
  * the validator's copy of the parsed tree is made by a walk that knows its three-attribute
    nodes (``type``, ``children``, ``parent``) instead of ``copy.deepcopy``'s generic reduce
    protocol; anything else is still deep-copied by ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
import importlib
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_NODE_ATTRIBUTES = frozenset({"type", "children", "parent"})
_IMMUTABLE = (str, int, float, bool, type(None))
_SOURCE = "_calsync_source"  # the expression text a memoised tree was parsed from
_KINDS = "_calsync_kinds"
_STEPS = "_calsync_steps"
_PASSED_MAX = 4096


def _unix_time(dt: Any = None, *, original: Any) -> float:
    return time.time() if dt is None else float(original(dt))


def apply() -> None:
    """Patch the running moto (call before the server starts)."""
    from moto import backends
    from moto.sqs import models as sqs

    modules = tuple(backends.list_of_moto_modules())
    original_unix_time = getattr(sqs, "unix_time")  # noqa: B009 - moto does not export it

    def unix_time(dt: Any = None) -> float:
        return _unix_time(dt, original=original_unix_time)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(backends, "list_of_moto_modules", lambda: modules)  # noqa: B010 - patching a module
    setattr(sqs, "unix_time", unix_time)  # noqa: B010
    setattr(sqs, "unix_time_millis", unix_time_millis)  # noqa: B010
    _apply_sqs_retention()
    _apply_update_expressions()
    _apply_event_paths()


def _apply_event_paths() -> None:
    """EventBridge hands an event to a target through ``EventTemplateParser.parse``, which compiles
    eight JSONPath expressions (``$.detail``, ``$.source``...) with ``jsonpath_ng.ext.parse`` for every
    event and target: ~0.55 ms each, a new PLY parser every time. A compiled path is only read
    (``find``), so it is compiled once per text."""
    ext: Any = importlib.import_module("jsonpath_ng.ext")
    original = ext.parse

    @lru_cache(maxsize=256)
    def compiled(path: str, debug: Any) -> Any:
        return original(path, debug=debug)

    def parse(path: Any, debug: Any = None) -> Any:
        return compiled(path, debug) if isinstance(path, str) else original(path, debug=debug)

    ext.parse = parse


def _apply_sqs_retention() -> None:
    """SQS's receive asks, for every message it hands out, whether the message outlived its queue's
    retention period by asking ``get_queue_attributes(["MessageRetentionPeriod"])``, which builds
    every attribute of the queue three times over (each message count a scan of the whole queue):
    with a backlog, each receive costs the backlog squared. The attribute is the queue's
    ``message_retention_period``; read it there (moto's own way for anything unusual)."""
    backend = _moto("sqs.models").SQSBackend
    original = backend.is_message_valid_based_on_retention_period
    models = _moto("sqs.models")

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if retention_period is None or isinstance(retention_period, bool):
            return bool(original(self, queue_name, message))
        return bool(retention_period + message.sent_timestamp / 1000 > models.unix_time())

    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def clone_tree(value: Any) -> Any:
    """``copy.deepcopy`` of a parsed expression tree, made by a walk that knows its nodes. Only for
    a whole tree of plain nodes (``type``, ``children``, ``parent``: each child's parent its node, no
    node twice) whose leaves are immutable; anything else goes to ``copy.deepcopy`` itself."""
    node_class = _moto("dynamodb.parsing.ast_nodes").Node
    if not isinstance(value, node_class) or value.parent is not None or not _plain(value, node_class, set()):
        return copy.deepcopy(value)
    return _clone(value, None, node_class)


def _plain(node: Any, node_class: Any, seen: set[int]) -> bool:
    if id(node) in seen or not (node.__dict__.keys() <= _NODE_ATTRIBUTES | {_SOURCE}):
        return False
    seen.add(id(node))
    for child in node.children or ():
        if isinstance(child, node_class):
            if child.parent is not node or not _plain(child, node_class, seen):
                return False
        elif not isinstance(child, _IMMUTABLE):
            return False
    return node.children is None or isinstance(node.children, list)


def _clone(value: Any, parent: Any, node_class: Any) -> Any:
    node = object.__new__(type(value))
    node.__dict__.update(value.__dict__)
    node.parent = parent
    if value.children is not None:
        node.children = [
            _clone(child, node, node_class) if isinstance(child, node_class) else child for child in value.children
        ]
    return node


def _moto(module: str) -> Any:
    """A moto module, untyped (moto's expression modules carry no type hints)."""
    return importlib.import_module(f"moto.{module}")


def _apply_update_expressions() -> None:
    ast_nodes, expressions = _moto("dynamodb.parsing.ast_nodes"), _moto("dynamodb.parsing.expressions")
    validators = _moto("dynamodb.parsing.validators")

    parser = expressions.UpdateExpressionParser
    original_make: Callable[[Any, str], Any] = parser.make.__func__

    @lru_cache(maxsize=1024)
    def parsed(expression: str) -> Any:
        tree = original_make(parser, expression)
        setattr(tree, _SOURCE, expression)
        return tree

    def make(cls: Any, expression_str: Any) -> Any:
        if cls is parser and isinstance(expression_str, str):
            return parsed(expression_str)
        return original_make(cls, expression_str)

    parser.make = classmethod(make)

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        kinds: tuple[type, ...] | None = self.__dict__.get(_KINDS)
        if kinds is None:
            kinds = self.__dict__[_KINDS] = tuple(self._processing_map().keys())
        return kinds

    def process(self: Any, node: Any) -> Any:
        steps: tuple[tuple[type, Callable[[Any], Any]], ...] | None = self.__dict__.get(_STEPS)
        if steps is None:
            steps = self.__dict__[_STEPS] = tuple(self._processing_map().items())
        for class_key, processor in steps:
            if isinstance(node, class_key):
                return processor(node)
        return None

    node_class = ast_nodes.Node
    is_node: dict[type, bool] = {}  # isinstance(x, Node) by x's type (moto registers no virtual subclasses)

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        """moto's walk, step for step, without an ``ABCMeta.__instancecheck__`` per node."""
        kind = type(node)
        node_like = is_node.get(kind)
        if node_like is None:
            node_like = is_node[kind] = isinstance(node, node_class)
        if node_like:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            if isinstance(node, self.nodes_to_be_processed()):
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    traverser = ast_nodes.DepthFirstTraverser
    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process
    traverser.traverse_node_recursively = traverse_node_recursively

    pure = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    passed: set[tuple[Any, ...]] = set()
    original_validate = validators.UpdateExpressionValidator.validate

    def validate(self: Any) -> Any:
        source = self.node_to_validate.__dict__.get(_SOURCE)
        steps = list(self.processors)
        if source is None or [isinstance(step, pure) for step in steps[: len(pure)]] != [True] * len(pure):
            return original_validate(self)  # not a memoised tree, or moto's order of checks changed
        names = tuple(sorted((self.expression_attribute_names or {}).items()))
        inputs = (source, names, tuple(self.table.table_key_attrs))
        node = self.node_to_validate
        if inputs not in passed:
            for step in steps[: len(pure)]:
                node = step.traverse(node)  # raises as moto does; nothing is remembered then
            if len(passed) >= _PASSED_MAX:
                passed.clear()
            passed.add(inputs)
        for step in steps[len(pure) :]:
            node = step.traverse(node)
        return node

    validators.UpdateExpressionValidator.validate = validate
    validators.deepcopy = clone_tree
