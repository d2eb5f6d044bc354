"""Read template.yaml and create its queues, tables and secrets against any AWS endpoint.

Tests (moto in-process), the local stack (moto server) and operators all provision from the
template itself, so what runs locally cannot drift from what deploys. moto's own
CloudFormation skips or breaks on several of our resource types, so this reads the
resources it needs directly.

template.yaml uses ``Fn::ForEach`` (the ``AWS::LanguageExtensions`` transform): :func:`load`
expands it the way CloudFormation does before anything else reads the template.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from calsync.intake.routing import QueueKind

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in ("GetAtt", "Sub", "Join", "If", "Not", "Equals", "Select", "Split", "FindInMap", "GetAZs", "ImportValue"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def queue_logical_id(kind: QueueKind) -> str:
    """The template's queue for a routing kind: ``invitee-no-show`` → ``InviteeNoShowQueue``."""
    return f"{kind.pascal}Queue"


def processor_logical_id(kind: QueueKind) -> str:
    """The function consuming a routing kind's queue: ``other`` → ``OtherProcessor``."""
    return f"{kind.pascal}Processor"


def load_raw(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written, ``Fn::ForEach`` loops and all.

    Parsed once per content (the whole test suite reads template.yaml hundreds of times; a parse
    takes ~0.3 s, a copy ~10 ms): each call returns a copy of its own, so callers may change it."""
    return copy.deepcopy(_parsed(path.read_bytes()))


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation sees it after ``AWS::LanguageExtensions``: loops expanded
    (expanded once per content, like :func:`load_raw`; each call returns a copy of its own)."""
    return copy.deepcopy(_expanded(path.read_bytes()))


@lru_cache(maxsize=8)
def _parsed(text: bytes) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


@lru_cache(maxsize=8)
def _expanded(text: bytes) -> dict[str, Any]:
    return expand(_parsed(text))


# ------------------------------------------------------------------ Conditions
def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: its default unless overridden (a list default joined by commas)."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        default = spec.get("Default", "")
        values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
    values.update(overrides or {})
    return values


def conditions(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, bool]:
    """The template's Conditions evaluated for its parameters (defaults unless overridden), with
    ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``, ``Ref`` and ``Fn::Join``."""
    parameters = template.get("Parameters", {})
    values = parameter_values(template, overrides)
    declared: dict[str, Any] = template.get("Conditions", {})
    result: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if parameters.get(arg, {}).get("Type") == "CommaDelimitedList":
                    return [part.strip() for part in values[arg].split(",")] if values[arg] else []
                return values[arg]
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(p) for p in value(parts))
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return truth(node)
        if isinstance(node, list):
            return [value(item) for item in node]
        return node

    def truth(node: Any) -> bool:
        ((key, arg),) = node.items()
        if key == "Condition":
            if arg not in result:
                result[arg] = truth(declared[arg])
            return result[arg]
        if key == "Fn::Equals":
            left, right = (value(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not truth(arg[0])
        if key == "Fn::And":
            return all(truth(a) for a in arg)
        if key == "Fn::Or":
            return any(truth(a) for a in arg)
        raise ValueError(f"not a condition function: {key}")

    for name in declared:
        truth({"Condition": name})
    return {name: result[name] for name in declared}


def active_resources(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates for these parameters: those without a Condition
    or whose Condition holds."""
    holds = conditions(template, overrides)
    resources: dict[str, dict[str, Any]] = template["Resources"]
    return {k: v for k, v in resources.items() if "Condition" not in v or holds[v["Condition"]]}


_NO_VALUE = {"Ref": "AWS::NoValue"}


def resolve_ifs(node: Any, holds: dict[str, bool]) -> Any:
    """``node`` with every ``Fn::If`` replaced by the branch its condition picks, and
    ``AWS::NoValue`` dropped from lists and maps, as CloudFormation does."""
    if isinstance(node, list):
        items = [resolve_ifs(item, holds) for item in node]
        return [item for item in items if item != _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        name, yes, no = node["Fn::If"]
        return resolve_ifs(yes if holds[name] else no, holds)
    resolved = {key: resolve_ifs(value, holds) for key, value in node.items()}
    return {key: value for key, value in resolved.items() if value != _NO_VALUE}


def deployed(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The template as CloudFormation creates it for these parameters (defaults unless
    overridden): only the resources and outputs whose Condition holds, ``Fn::If`` resolved."""
    holds = conditions(template, overrides)

    def kept(section: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in section.items() if "Condition" not in v or holds[v["Condition"]]}

    result = dict(template)
    result["Resources"] = resolve_ifs(kept(template["Resources"]), holds)
    if "Outputs" in template:
        result["Outputs"] = resolve_ifs(kept(template["Outputs"]), holds)
    if "Globals" in template:
        result["Globals"] = resolve_ifs(template["Globals"], holds)
    return result


# ------------------------------------------------------------------ AWS::LanguageExtensions
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
FOR_EACH = "Fn::ForEach::"
_EXPANDED_SECTIONS = ("Conditions", "Resources", "Outputs")


class ForEachError(ValueError):
    """A ``Fn::ForEach`` CloudFormation would reject (bad layout, duplicate keys)."""


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """Expand every ``Fn::ForEach`` as the ``AWS::LanguageExtensions`` transform does.

    Loops may stand in Conditions, Resources (also as keys of a resource's ``Properties``) and
    Outputs, and may nest there; a loop anywhere deeper (e.g. in ``Environment.Variables``) is
    refused, because SAM CLI's engine (``samcli.lib.cfn_language_extensions``, which says it
    follows the service) leaves it unexpanded and the deploy fails. For each item of the collection (a list, or a
    ``Ref`` to a CommaDelimitedList parameter) the body is copied with ``${Id}`` replaced by
    the item and ``&{Id}`` by the item without non-alphanumerics, in keys and in every string
    (``Fn::Sub`` strings included), and ``{"Ref": Id}`` replaced by the item. Then, as the
    transform does, ``Ref``/``Fn::GetAtt`` whose target became a plain ``Fn::Sub`` string
    point at that logical id, and a ``Fn::FindInMap`` over plain strings is looked up.
    Expanding an expanded template changes nothing.
    """
    _check_loop_names(template)
    result = dict(template)
    parameters = template.get("Parameters", {})
    mappings = template.get("Mappings", {})
    for section in _EXPANDED_SECTIONS:
        if section in template:
            result[section] = _simplify(_section(template[section], parameters, f"/{section}"), mappings)
    transform = template.get("Transform")
    if isinstance(transform, list) and LANGUAGE_EXTENSIONS in transform:
        result["Transform"] = [name for name in transform if name != LANGUAGE_EXTENSIONS]
    elif transform == LANGUAGE_EXTENSIONS:
        del result["Transform"]
    return result


Entry = Callable[[Any, str], Any]


def _check_loop_names(template: dict[str, Any]) -> None:
    """A loop's name is unique in the template and no resource's logical id, as CloudFormation
    requires (cfn-lint does not check it)."""
    seen: set[str] = set()
    taken = {key for key in template.get("Resources", {}) if not key.startswith(FOR_EACH)}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.startswith(FOR_EACH):
                    name = key.removeprefix(FOR_EACH)
                    if name in seen or name in taken:
                        raise ForEachError(f"{where}: the loop name {name!r} is used twice; loop names are unique")
                    seen.add(name)
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for section in _EXPANDED_SECTIONS:
        walk(template.get(section), f"/{section}")


def _section(section: Any, parameters: dict[str, Any], where: str) -> Any:
    """A Conditions, Resources or Outputs section: loops among its keys; in Resources also
    among each resource's Properties keys; nowhere else."""
    if not isinstance(section, dict):
        return section
    if where != "/Resources":
        return _keys(section, parameters, where, _no_loops)

    def resource(value: Any, at: str) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get("Properties"), dict):
            return _no_loops(value, at)
        _no_loops({key: item for key, item in value.items() if key != "Properties"}, at)
        return {**value, "Properties": _keys(value["Properties"], parameters, f"{at}/Properties", _no_loops)}

    return _keys(section, parameters, where, resource)


def _keys(node: dict[str, Any], parameters: dict[str, Any], where: str, entry: Entry) -> dict[str, Any]:
    """``node``'s loops expanded in place (their bodies likewise); every other value through ``entry``."""
    result: dict[str, Any] = {}
    for key, value in node.items():
        expanded = (
            _for_each(key, value, parameters, where, entry)
            if key.startswith(FOR_EACH)
            else {key: entry(value, f"{where}/{key}")}
        )
        for out_key, out_value in expanded.items():
            if out_key in result:
                raise ForEachError(f"{where}: {key} produces {out_key!r}, which already exists")
            result[out_key] = out_value
    return result


def _no_loops(node: Any, where: str) -> Any:
    """``node`` as it is, unless a loop hides in it where SAM CLI's engine would not expand it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(FOR_EACH):
                raise ForEachError(
                    f"{where}: {key} is nested deeper than a resource's Properties; SAM CLI's "
                    "LanguageExtensions engine leaves it unexpanded: write its keys out"
                )
            _no_loops(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _no_loops(value, f"{where}/{i}")
    return node


def _for_each(key: str, value: Any, parameters: dict[str, Any], where: str, entry: Entry) -> dict[str, Any]:
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[2], dict)):
        raise ForEachError(f"{where}: {key} must be [Identifier, Collection, {{OutputKey: OutputValue}}]")
    identifier, collection, body = value
    if identifier in parameters:
        raise ForEachError(f"{where}: {key}'s identifier {identifier!r} is also a parameter")
    items = _collection(collection, parameters, f"{where}/{key}")
    result: dict[str, Any] = {}
    for item in items:
        copy = _substitute(body, identifier, item)
        for out_key, out_value in _keys(copy, parameters, f"{where}/{key}", entry).items():
            if out_key in result:
                raise ForEachError(f"{where}: {key} produces {out_key!r} twice; put the identifier in the key")
            result[out_key] = out_value
    return result


def _collection(collection: Any, parameters: dict[str, Any], where: str) -> list[str]:
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        spec = parameters.get(collection["Ref"], {})
        if spec.get("Type") != "CommaDelimitedList" or "Default" not in spec:
            raise ForEachError(f"{where}: a collection Ref must name a CommaDelimitedList parameter with a Default")
        default = spec["Default"]
        collection = default if isinstance(default, list) else [part.strip() for part in str(default).split(",")]
    if not isinstance(collection, list) or not all(isinstance(item, str | int | float) for item in collection):
        raise ForEachError(f"{where}: the collection must be a list of strings")
    return [str(item) for item in collection]


def _substitute(node: Any, identifier: str, item: str) -> Any:
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", re.sub(r"[^0-9A-Za-z]", "", item))
    if isinstance(node, list):
        return [_substitute(value, identifier, item) for value in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return item
        return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in node.items()}
    return node


def _plain_sub(value: Any) -> Any:
    """``{"Fn::Sub": "InviteeCreatedQueue"}`` (nothing left to substitute) → the string."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        if isinstance(text, str) and not re.search(r"\$\{[^!]", text):
            return text
    return value


def _simplify(node: Any, mappings: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_simplify(value, mappings) for value in node]
    if not isinstance(node, dict):
        return node
    node = {k: _simplify(v, mappings) for k, v in node.items()}
    if len(node) != 1:
        return node
    ((key, arg),) = node.items()
    if key == "Ref":
        return {"Ref": _plain_sub(arg)}
    if key == "Fn::GetAtt" and isinstance(arg, list):
        return {"Fn::GetAtt": [_plain_sub(part) for part in arg]}
    if key == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 3 and all(isinstance(a, str) for a in arg):
        name, top, second = arg
        with contextlib.suppress(KeyError, TypeError):
            return mappings[name][top][second]
    return node
