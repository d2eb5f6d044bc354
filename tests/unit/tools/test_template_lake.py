"""The analytics lake in template.yaml: all of it under the Analytics parameter; the Glue table's
columns are the lake record's fields; the named queries are the metrics' SQL files; the rule
matches exactly the kinds the lake keeps; its two roles may do what delivery needs and no more."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

import pytest

from calsync.analytics.metrics import NAMES, sql
from calsync.analytics.record import LAKE_KINDS, LakeRecord
from calsync_dev.analytics import queries
from calsync_dev.template import deployed, load
from tests.iam import ACCOUNT, stack, trust
from tests.iam.policy import Request, allows

TEMPLATE = load()
ON = deployed(TEMPLATE, {})["Resources"]
LAKE_TYPES = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Athena::WorkGroup",
    "AWS::Athena::NamedQuery",
}
GLUE_TYPES = {str: "string", datetime: "timestamp", bool: "boolean"}


def _lake(resources: dict[str, Any]) -> set[str]:
    return {k for k in resources if k.startswith(("Lake", "Athena"))}


def test_the_lake_is_on_by_default_and_nothing_of_it_exists_when_analytics_is_off() -> None:
    # Given the template with its defaults, and with Analytics off
    assert TEMPLATE["Parameters"]["Analytics"]["Default"] == "on"
    off = deployed(TEMPLATE, {"Analytics": "off"})
    # Then every lake resource exists by default, each under the AnalyticsOn condition
    lake = _lake(ON)
    assert {"LakeBucket", "LakeTable", "LakeStream", "LakeRule", "LakeTransformerFunction", "AthenaWorkGroup"} <= lake
    assert {r["Type"] for r in ON.values() if r.get("Condition") == "AnalyticsOn"} >= LAKE_TYPES
    for logical in lake:
        assert TEMPLATE["Resources"][logical].get("Condition") == "AnalyticsOn", logical
    # And none of it (nor its outputs) exists with Analytics off, while the rest of the stack is unchanged
    assert _lake(off["Resources"]) == set()
    assert set(ON) - set(off["Resources"]) == lake
    assert not {k for k in off["Outputs"] if k.startswith(("Lake", "Athena"))}


def test_the_glue_tables_columns_are_the_lake_records_fields_in_order_with_their_types() -> None:
    table = ON["LakeTable"]["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    expected = []
    for name, field in LakeRecord.model_fields.items():
        (kind,) = [a for a in typing.get_args(field.annotation) if a is not type(None)] or [field.annotation]
        expected.append((name, GLUE_TYPES[kind]))
    assert columns == expected
    assert table["Name"] == "lifecycle_events"
    # And it is partitioned by day by projection (no crawler), where Firehose writes
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    params = table["Parameters"]
    assert (params["projection.enabled"], params["projection.dt.type"], params["projection.dt.format"]) == (
        "true",
        "date",
        "yyyy-MM-dd",
    )
    assert params["storage.location.template"] == {"Fn::Sub": "s3://${LakeBucket}/lifecycle_events/dt=${!dt}/"}
    s3 = ON["LakeStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == "lifecycle_events/dt=!{timestamp:yyyy-MM-dd}/"
    assert s3["ErrorOutputPrefix"].startswith("errors/")


def test_the_stream_converts_to_gzip_parquet_against_the_table_after_the_transformer() -> None:
    s3 = ON["LakeStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    conversion = s3["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert conversion["OutputFormatConfiguration"]["Serializer"] == {"ParquetSerDe": {"Compression": "GZIP"}}
    assert conversion["SchemaConfiguration"]["TableName"] == {"Ref": "LakeTable"}
    assert conversion["SchemaConfiguration"]["DatabaseName"] == {"Ref": "LakeDatabase"}
    assert s3["BufferingHints"]["SizeInMBs"] >= 64  # Firehose's minimum with format conversion
    (processor,) = s3["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters["LambdaArn"] == {"Fn::GetAtt": ["LakeTransformerFunction", "Arn"]}
    assert ON["LakeStream"]["Properties"]["DeliveryStreamType"] == "DirectPut"


def test_the_rule_matches_exactly_the_kinds_the_lake_keeps_and_puts_them_on_the_stream() -> None:
    rule = ON["LakeRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"]["source"] == ["calsync"]
    assert sorted(rule["EventPattern"]["detail-type"]) == sorted(kind.value for kind in LAKE_KINDS)
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["LakeStream", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["LakeRuleDLQ", "Arn"]}}


@pytest.mark.parametrize("name", NAMES)
def test_each_metric_is_a_named_query_whose_text_is_its_sql_file(name: str) -> None:
    (query,) = [r for r in ON.values() if r["Type"] == "AWS::Athena::NamedQuery" and r["Properties"]["Name"] == name]
    props = query["Properties"]
    assert props["QueryString"] == sql(name)
    assert (props["Database"], props["WorkGroup"]) == ({"Ref": "LakeDatabase"}, {"Ref": "AthenaWorkGroup"})


def test_the_named_queries_block_is_what_make_lake_queries_writes() -> None:
    text = queries.TEMPLATE.read_text()
    assert queries.current(text) == queries.block(), "run `make lake-queries`"
    assert len([r for r in ON.values() if r["Type"] == "AWS::Athena::NamedQuery"]) == len(NAMES)


def test_athena_has_a_scan_limit_and_its_results_expire() -> None:
    config = ON["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${AthenaResultsBucket}/results/"}
    rules = ON["AthenaResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(r["Status"] == "Enabled" and r.get("ExpirationInDays") for r in rules)


@pytest.mark.parametrize("bucket", ["LakeBucket", "AthenaResultsBucket"])
def test_the_lakes_buckets_are_encrypted_private_and_tls_only(bucket: str) -> None:
    props = ON[bucket]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    (policy,) = [
        r for r in ON.values() if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_the_errors_prefix_alarms_on_the_topic() -> None:
    alarm = ON["LakeErrorsAlarm"]["Properties"]
    read = {q["MetricStat"]["Metric"]["MetricName"] for q in alarm["Metrics"] if "MetricStat" in q}
    # Then it reads what the transformer could not map, what Parquet conversion refused, and S3 delivery
    assert read == {"LakeRecordsFailed", "FailedConversion.Records", "DeliveryToS3.Success"}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # And a crashed or throttled transformer (Firehose retries, then errors/) alarms on its own
    errors = ON["LakeTransformerErrorsAlarm"]
    assert errors["Condition"] == "AnalyticsOn"
    assert "errors/" in str(TEMPLATE["Mappings"]["Functions"]["LakeTransformer"]["Failed"])


# ------------------------------------------------------------------ IAM
def _arn(logical: str) -> str:
    return str(stack().resolve.get_att(logical, "Arn"))


def test_firehose_may_write_the_lake_read_its_schema_and_run_the_transformer_and_nothing_else() -> None:
    role = stack().roles["LakeDeliveryRole"]
    bucket = _arn("LakeBucket")
    assert allows(role, Request("s3:PutObject", f"{bucket}/lifecycle_events/dt=2026-12-05/part.parquet"))
    assert allows(role, Request("s3:PutObject", f"{bucket}/errors/processing-failed/x"))
    assert not allows(role, Request("s3:PutObject", f"{bucket}/elsewhere/x"))
    assert not allows(role, Request("s3:PutObject", f"{_arn('DeliveryBodiesBucket')}/deliveries/x"))
    assert not allows(role, Request("s3:GetObject", f"{bucket}/lifecycle_events/x"))
    assert not allows(role, Request("s3:DeleteObject", f"{bucket}/lifecycle_events/x"))
    transformer = _arn("LakeTransformerFunction")
    assert allows(role, Request("lambda:InvokeFunction", transformer))
    assert not allows(role, Request("lambda:InvokeFunction", _arn("ReceiverFunction")))
    glue = [s for s in role if "glue:GetTable" in s["Action"]]
    assert glue
    assert not any("glue:*" in str(s["Action"]) or s["Resource"] == "*" for s in role)
    # And only Firehose of this account may assume it
    statements = trust("LakeDeliveryRole")
    firehose = ("Service", "firehose.amazonaws.com")
    assert allows(statements, Request("sts:AssumeRole", "*", {"sts:ExternalId": (ACCOUNT,)}, firehose))
    assert not allows(statements, Request("sts:AssumeRole", "*", {"sts:ExternalId": ("999999999999",)}, firehose))


def test_the_rule_may_put_records_on_the_lake_stream_only() -> None:
    role = stack().roles["LakeRuleRole"]
    stream = _arn("LakeStream")
    # EventBridge delivers with PutRecordBatch (up to 500 events a call, one record each)
    assert allows(role, Request("firehose:PutRecordBatch", stream))
    assert allows(role, Request("firehose:PutRecord", stream))
    assert not allows(role, Request("firehose:PutRecord", stream + "-other"))
    assert not allows(role, Request("firehose:DeleteDeliveryStream", stream))
    events = ("Service", "events.amazonaws.com")
    statements = trust("LakeRuleRole")
    assert allows(statements, Request("sts:AssumeRole", "*", {"aws:SourceAccount": (ACCOUNT,)}, events))
    assert not allows(statements, Request("sts:AssumeRole", "*", {"aws:SourceAccount": ("999999999999",)}, events))
