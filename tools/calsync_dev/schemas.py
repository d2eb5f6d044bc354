"""Write the lifecycle events' JSON Schemas (``make schemas``) from ``calsync.lifecycle.schema``.

Two renderings of each detail-type's model:

- ``schemas/lifecycle/<detail-type>.v<version>.json``: the ``detail`` as JSON Schema 2020-12 (what
  pydantic writes; tests check every emitted event against it);
- the template's EventBridge schema registry (``AWS::EventSchemas::Schema``, ``Type:
  JSONSchemaDraft4``, one per detail-type): the whole EventBridge event (envelope and ``detail``)
  in JSON Schema draft 4, the shape EventBridge exports its own schemas in, so consumers can
  download code bindings. Its ``Content`` is written into ``template.yaml`` between two marker
  comments; a test fails when it differs from the models.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from calsync.lifecycle.events import SCHEMA_VERSION, DetailType
from calsync.lifecycle.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "lifecycle"
TEMPLATE = ROOT / "template.yaml"
SOURCE = "calsync"
REGISTRY_LOGICAL_ID = "EventSchemaRegistry"
BEGIN = "  # ---- BEGIN lifecycle event schemas: written by `make schemas` (tools/calsync_dev/schemas.py); do not edit"
END = "  # ---- END lifecycle event schemas"
DRAFT4 = "http://json-schema.org/draft-04/schema#"


def schema_path(detail_type: DetailType) -> Path:
    return SCHEMAS / f"{detail_type.slug}.v{SCHEMA_VERSION}.json"


def render(detail_type: DetailType) -> str:
    return json.dumps(json_schema(detail_type), indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------ the registry's draft-4 copy
def type_name(detail_type: DetailType) -> str:
    """``Invitee No-Show Marked`` → ``InviteeNoShowMarked`` (the detail's definition, the schema's name)."""
    return re.sub(r"[^A-Za-z0-9]", "", detail_type.value.title())


def registry_schema_name(detail_type: DetailType) -> str:
    """``calsync@BookingScheduled``: ``<source>@<DetailType>``, as EventBridge names discovered schemas."""
    return f"{SOURCE}@{type_name(detail_type)}"


def schema_logical_id(detail_type: DetailType) -> str:
    return f"EventSchema{type_name(detail_type)}"


def _draft4(node: Any) -> Any:
    """A 2020-12 schema fragment as draft 4: ``$defs`` → ``definitions``, ``const`` → a one-value
    ``enum``, ``anyOf [T, null]`` → ``type: [T, "null"]`` (what code generators read as an optional
    field), no ``title`` below the top (generators would name classes after them)."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "$ref":
            out[key] = str(value).replace("#/$defs/", "#/definitions/")
        elif key == "const":
            out["enum"] = [value]
        elif key in ("properties", "$defs"):
            out["definitions" if key == "$defs" else key] = {k: _draft4(v) for k, v in value.items()}
        else:
            out[key] = _draft4(value)
    branches = out.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
        (other,) = [b for b in branches if b != {"type": "null"}]
        if isinstance(other.get("type"), str) and not {"$ref", "enum", "anyOf"} & other.keys():
            del out["anyOf"]
            out.update({**other, "type": [other["type"], "null"]})
    return out


def registry_schema(detail_type: DetailType) -> dict[str, Any]:
    """The whole EventBridge event of a detail-type as JSON Schema draft 4: the envelope, with
    ``detail`` a reference to the detail's definition (and the definitions it uses)."""
    detail = json_schema(detail_type)
    definitions = _draft4(detail.pop("$defs", {}))
    name = type_name(detail_type)
    body = _draft4({k: v for k, v in detail.items() if not k.startswith("$")})
    body["description"] = body.get("description", f"The detail of a calsync {detail_type.value} event.")
    string = {"type": "string"}
    return {
        "$schema": DRAFT4,
        "title": name,
        "description": f"calsync lifecycle event {detail_type.value!r} (detail schema_version {SCHEMA_VERSION}); "
        "see docs/events.md.",
        "type": "object",
        "x-amazon-events-source": SOURCE,
        "x-amazon-events-detail-type": detail_type.value,
        "definitions": {name: body, **definitions},
        "properties": {
            "version": string,
            "id": string,
            "detail-type": {"type": "string", "enum": [detail_type.value]},
            "source": {"type": "string", "enum": [SOURCE]},
            "account": string,
            "time": {"type": "string", "format": "date-time"},
            "region": string,
            "resources": {"type": "array", "items": string},
            "detail": {"$ref": f"#/definitions/{name}"},
        },
        "required": ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"],
    }


def registry_content(detail_type: DetailType) -> str:
    """The ``Content`` of the detail-type's ``AWS::EventSchemas::Schema`` (compact JSON text)."""
    return json.dumps(registry_schema(detail_type), separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def _yaml_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def template_block() -> str:
    """The template's generated schema resources, markers included."""
    lines = [BEGIN]
    for detail_type in DetailType:
        lines += [
            f"  {schema_logical_id(detail_type)}:",
            "    Type: AWS::EventSchemas::Schema",
            "    Properties:",
            f"      RegistryName: !GetAtt {REGISTRY_LOGICAL_ID}.RegistryName",
            f"      SchemaName: {registry_schema_name(detail_type)}",
            "      Type: JSONSchemaDraft4",
            f"      Description: calsync {detail_type.value} (detail schema_version {SCHEMA_VERSION})",
            f"      Content: {_yaml_single_quoted(registry_content(detail_type))}",
        ]
    lines.append(END)
    return "\n".join(lines)


def with_schemas(template_text: str) -> str:
    """``template_text`` with its generated block replaced by :func:`template_block`."""
    start, end = template_text.find(BEGIN), template_text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"template.yaml has no generated schema block (a line {BEGIN!r} … {END!r})")
    return template_text[:start] + template_block() + template_text[end + len(END) :]


def main() -> int:
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for detail_type in DetailType:
        schema_path(detail_type).write_text(render(detail_type))
        print(f"wrote {schema_path(detail_type).relative_to(ROOT)}")
    text = TEMPLATE.read_text()
    updated = with_schemas(text)
    if updated != text:
        TEMPLATE.write_text(updated)
    print(f"wrote {TEMPLATE.relative_to(ROOT)}: {len(DetailType)} AWS::EventSchemas::Schema (JSONSchemaDraft4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
