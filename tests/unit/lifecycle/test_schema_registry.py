"""The lifecycle events' schemas in the template's EventBridge schema registry: one per
detail-type, draft 4, equal to what the models generate (``make schemas``)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from calsync.lifecycle.derive import derive
from calsync.lifecycle.events import DetailType, LifecycleEvent
from calsync_dev import template
from calsync_dev.schemas import (
    REGISTRY_LOGICAL_ID,
    registry_content,
    registry_schema_name,
    schema_path,
    with_schemas,
)
from tests.factories import eventbridge_envelope
from tests.fakes.lifecycle import FakeImages
from tests.unit.lifecycle.test_derive import HOSTED, NEW, OLD, invitee


def registry_schemas() -> dict[str, dict[str, Any]]:
    resources = template.load()["Resources"]
    return {
        spec["Properties"]["SchemaName"]: spec["Properties"]
        for spec in resources.values()
        if spec["Type"] == "AWS::EventSchemas::Schema"
    }


def envelope(event: LifecycleEvent) -> dict[str, Any]:
    return eventbridge_envelope(event, "2026-12-01T10:00:00Z")


def test_the_registry_is_named_per_stage() -> None:
    # Given the template's schema registry
    registry = template.load()["Resources"][REGISTRY_LOGICAL_ID]
    # Then it is one registry per stage, beside the stage's bus
    assert registry["Type"] == "AWS::EventSchemas::Registry"
    assert registry["Properties"]["RegistryName"] == {"Fn::Sub": "calsync-${Stage}"}


@pytest.mark.parametrize("detail_type", list(DetailType), ids=lambda d: d.slug)
def test_the_registry_holds_each_detail_types_schema_as_the_models_generate_it(detail_type: DetailType) -> None:
    # Given the template's AWS::EventSchemas::Schema resources
    schemas = registry_schemas()
    # Then each detail-type has one, draft 4, in the stage's registry
    published = schemas[registry_schema_name(detail_type)]
    assert published["Type"] == "JSONSchemaDraft4"
    assert published["RegistryName"] == {"Fn::GetAtt": [REGISTRY_LOGICAL_ID, "RegistryName"]}
    # And its content is what the models generate: run `make schemas` after changing a model
    assert published["Content"] == registry_content(detail_type), "template.yaml is stale: run `make schemas`"


def test_the_registry_holds_nothing_but_the_detail_types() -> None:
    assert set(registry_schemas()) == {registry_schema_name(d) for d in DetailType}


@pytest.mark.parametrize("detail_type", list(DetailType), ids=lambda d: d.slug)
def test_each_published_schema_is_valid_draft_4_with_no_later_keyword(detail_type: DetailType) -> None:
    schema = json.loads(registry_content(detail_type))
    # Then draft 4's meta-schema accepts it
    jsonschema.Draft4Validator.check_schema(schema)
    text = json.dumps(schema)
    # And it uses no keyword draft 4 does not know (a draft-4 reader ignores them silently)
    for later in ('"$defs"', '"const"', '"$id"', "#/$defs/", '"prefixItems"', '"unevaluatedProperties"'):
        assert later not in text
    # And it names its source and detail-type as EventBridge's own schemas do
    assert (schema["x-amazon-events-source"], schema["x-amazon-events-detail-type"]) == ("calsync", detail_type.value)


def emitted() -> list[LifecycleEvent]:
    """Events the code emits: a booking scheduled, canceled, rescheduled, marked no-show."""
    canceled = invitee(
        status="canceled", cancellation={"canceled_by": "Grace", "canceler_type": "host", "reason": "ill"}
    )
    old = invitee(status="canceled", rescheduled=True, rescheduled_to=NEW)
    new = invitee(NEW, rescheduled_from=OLD, start_time="2026-12-02T10:00:00Z")
    marked = invitee(no_show={"uri": "x", "created_at": "2026-12-01T10:40:00Z"}, no_show_v="1")
    return [
        *derive(None, invitee(), FakeImages.of(HOSTED)),
        *derive(invitee(), canceled, FakeImages.of(HOSTED)),
        *derive(invitee(), old, FakeImages.of(new)),
        *derive(invitee(), marked, FakeImages.of(HOSTED)),
    ]


def test_events_the_code_emits_validate_against_both_renderings_alike() -> None:
    # Given events the code emits, each wrapped as EventBridge delivers it
    events = emitted()
    assert len({e.detail_type for e in events}) >= 3
    for event in events:
        whole = envelope(event)
        # Then the registry's draft-4 schema accepts the whole event, and the repository's the detail
        jsonschema.Draft4Validator(json.loads(registry_content(event.detail_type))).validate(whole)
        jsonschema.validate(whole["detail"], json.loads(schema_path(event.detail_type).read_text()))
        # And both refuse the same wrong details
        for wrong in ({**whole["detail"], "schema_version": "1"}, {**whole["detail"], "surprise": 1}):
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.Draft4Validator(json.loads(registry_content(event.detail_type))).validate(
                    {**whole, "detail": wrong}
                )
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(wrong, json.loads(schema_path(event.detail_type).read_text()))


def test_make_schemas_rewrites_only_its_block_of_the_template() -> None:
    # Given the template with its generated block edited by hand
    text = template.TEMPLATE.read_text()
    tampered = text.replace('"x-amazon-events-source":"calsync"', '"x-amazon-events-source":"other"', 1)
    assert tampered != text
    # When `make schemas` rewrites it
    # Then it is the committed template again, byte for byte
    assert with_schemas(tampered) == text
