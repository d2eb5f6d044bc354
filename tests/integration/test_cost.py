"""`make cost`: the fixture mix runs through the whole pipeline and its counts are plausible."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from calsync.intake.routing import QueueKind
from calsync_dev.cost.__main__ import main
from calsync_dev.cost.mix import Run, measure, mix
from calsync_dev.cost.prices import READ_PAGE_BOOKINGS
from calsync_dev.cost.reads import measure_reads, read_figures
from calsync_dev.cost.report import figures, table
from calsync_dev.template import processor_logical_id


@pytest.fixture(scope="module")
def run() -> Run:
    return measure()


def test_the_mix_holds_every_kind_duplicates_a_reschedule_pair_and_a_no_show() -> None:
    names = [name for name, _ in mix()]
    kinds = {json.loads(body)["event"] for _, body in mix()}
    assert {
        "invitee.created",
        "invitee.canceled",
        "invitee_no_show.created",
        "invitee_no_show.deleted",
        "routing_form_submission.created",
    } <= kinds
    assert len(kinds) >= 6  # and an event calsync does not model
    assert "events/invitee_rescheduled_canceled_old.json" in names
    assert "events/invitee_rescheduled_created_new.json" in names
    assert any(name.startswith("duplicate:") for name in names)


def test_every_delivery_is_one_api_request_one_receiver_call_and_one_queue_message(run: Run) -> None:
    # Given the mix ran through receiver → queue → processor → table → stream → publisher
    result = figures(run)
    per = result["per_delivery"]
    # Then every delivery was one API request, one receiver invocation and at least one SQS send
    assert run.deliveries == len(mix())
    assert per["api_requests"] == 1
    assert run.usage["ReceiverFunction"].invocations == run.deliveries
    assert run.usage["ReceiverFunction"].requests["sqs:SendMessage"] == run.deliveries
    # And every delivery was processed (one batch each) and the stream published
    processors = {processor_logical_id(kind) for kind in QueueKind}
    processed = sum(u.invocations for name, u in run.usage.items() if name in processors)
    assert processed == run.deliveries
    assert run.usage["LifecyclePublisherFunction"].invocations > 0
    assert per["eventbridge_events"] > 0
    # And DynamoDB was written and read, each write at least one unit, the archive every time
    assert per["dynamodb_write_units"] >= 1
    assert per["dynamodb_read_units"] > 0
    archive_writes = [w for w in run.writes if w[1].startswith("PutItem") and w[1].endswith("delivery")]
    assert len(archive_writes) == run.deliveries
    # And logs and Lambda time were measured; dollars add up
    assert per["log_bytes"] > 0
    assert per["lambda_gb_seconds"] > 0
    usd = result["usd_per_million_deliveries"]
    assert usd["total"] == pytest.approx(sum(v for k, v in usd.items() if k != "total"), abs=0.01)
    assert result["idle_usd_per_month"]["counts"]["alarms"] > 0


def test_make_cost_prints_a_table_and_ends_with_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    # When `make cost` runs
    assert main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    # Then the table names every service, and the last line is one JSON object of every figure
    assert any(line.startswith("DynamoDB") for line in out)
    last = json.loads(out[-1])
    assert last["usd_per_million_deliveries"]["api_gateway"] == pytest.approx(3.5)
    assert last["per_delivery"]["dynamodb_write_units"] > 0
    # And it prices a million API reads too
    assert any(line.startswith("1M API reads") for line in out)
    assert last["reads"]["usd_per_million_reads"]["api_gateway"] == pytest.approx(3.5)
    # And the scheduled jobs' cost per connection per month, from the scale simulation's counts
    assert any(line.startswith("Scheduled jobs per connection per month") for line in out)
    totals = last["connections"]["usd_per_month"]
    assert totals["100000"] == pytest.approx(10 * totals["10000"], rel=0.01)


def test_a_million_api_reads_are_priced_from_a_measured_page() -> None:
    # Given one bookings page of the stated size read by the real handler on moto
    measured = measure_reads(iterations=5)
    reads = read_figures(measured=measured)
    # Then the page came back full, at most one read unit per booking, the key read once
    assert measured["page_bookings"] == reads["assumptions"]["page_bookings"] == READ_PAGE_BOOKINGS
    assert 0 < measured["read_units_per_booking"] <= 1
    assert measured["secret_reads_first_call"] == 1
    # And the function is billed for its own time and each DynamoDB request it waits for
    assert reads["billed_ms"] >= measured["dynamodb_requests"] * reads["assumptions"]["dynamodb_request_ms"]
    assert reads["memory_mb"] > 0
    # And dollars add up, API Gateway's $3.50 a million among them
    usd = reads["usd_per_million_reads"]
    assert usd["api_gateway"] == pytest.approx(3.5)
    assert usd["total"] == pytest.approx(sum(v for k, v in usd.items() if k != "total"), abs=0.01)


def test_x_ray_is_counted_only_when_the_template_turns_tracing_on(run: Run) -> None:
    # Given the mix ran with the template's parameters at their defaults (Tracing: PassThrough)
    result = figures(run)
    # Then no trace is recorded or billed, and the table says why
    assert run.tracing == "PassThrough"
    assert result["per_delivery"]["xray_traces"] == 0
    assert result["usd_per_million_deliveries"]["xray"] == 0
    assert "Tracing: PassThrough" in table(result)
    # When the same run is priced with Tracing: Active
    active = figures(replace(run, tracing="Active"))
    # Then a trace per API request and per stream batch is billed
    assert active["per_delivery"]["xray_traces"] >= 1
    assert active["usd_per_million_deliveries"]["xray"] > 0
    assert "Tracing: Active" in table(active)


def test_secret_reads_are_cache_fills_priced_at_a_stated_steady_state_not_divided_by_the_mix(run: Run) -> None:
    # Given the mix ran (a few seconds: far shorter than any secret cache's lifetime)
    result = figures(run)
    secrets = result["secrets_manager"]
    # Then every read it measured is kept visible, and each was a cache fill, none per delivery
    assert secrets["measured_calls"] == run.usage["ReceiverFunction"].requests["secretsmanager:GetSecretValue"] + sum(
        u.requests["secretsmanager:GetSecretValue"] for name, u in run.usage.items() if name != "ReceiverFunction"
    )
    assert secrets["measured_calls"] > 0
    assert secrets["cache_fills"] == secrets["measured_calls"]
    assert result["per_delivery"]["secrets_manager_calls"] == 0
    # And the receiver's signing-key cache lifetime is the one its settings use (300 s)
    assert secrets["cache_seconds"]["ReceiverFunction"] == 300
    # And the processors' erasure key is read once per cold start
    assert secrets["cache_seconds"]["InviteeCreatedProcessor"] is None
    # And the steady state (warm environments re-reading once per cache lifetime, cold starts
    # re-reading per-cold-start secrets) is what is priced, per 1M deliveries a month
    steady = secrets["steady_calls_per_month"]
    per_fill = {
        name: 730 * 3600 / ttl if ttl else secrets["cold_starts_per_month"]
        for name, ttl in secrets["cache_seconds"].items()
    }
    fills = secrets["cache_fills_by_function"]
    assert steady == pytest.approx(secrets["warm_environments"] * sum(n * per_fill[f] for f, n in fills.items()))
    assert secrets["deliveries_per_month"] == 1_000_000
    assert result["usd_per_million_deliveries"]["secrets_manager"] == pytest.approx(steady * 0.05 / 10_000, abs=1e-4)
    assert "cache" in table(result)


def test_the_idle_month_counts_only_what_the_default_parameters_deploy(run: Run) -> None:
    # Given the mix ran with the template's defaults (Slack and HTTP forwarding off)
    result = figures(run)
    idle = result["idle_usd_per_month"]
    # Then the consumers' secrets, pollers and alarms are not billed (three stack secrets: the OAuth
    # app, the erasure key, the read API's cursor key; ten queues polled: five intake queues, the
    # reconcile requests, the erasure requests and the three scheduled jobs' work queues — an event
    # source mapping's pollers receive from an idle queue too, ~$0.26 a month each: docs/scale.md)
    assert idle["counts"]["secrets"] == 3
    assert idle["counts"]["sqs_event_sources"] == 10
    # And the figure with every consumer on is shown too: two more secrets, pollers, and six alarms
    # reading eight metrics (CloudWatch bills an alarm per metric it reads: each consumer's errors
    # alarm adds its Lambda Errors and Throttles, each DLQ alarm its queue's depth: the queue's DLQ
    # and the rule's)
    extra = 2 * 0.40 + 2 * 15 * 730 * 60 * 0.40 / 1_000_000 + 8 * 0.10
    assert idle["total_all_consumers_on"] == pytest.approx(idle["total"] + extra, abs=0.01)
    assert "with Slack and forwarding on" in table(result)


def test_the_mix_writes_at_most_600_bytes_of_logs_per_delivery_across_all_functions(run: Run) -> None:
    # Given the mix ran through every function a delivery reaches (reminders fired included)
    result = figures(run)
    # Then CloudWatch Logs receives at most 600 bytes per delivery at INFO (issue 12's budget)
    assert result["per_delivery"]["log_bytes"] <= 600
    # And no function writes more than 2 lines per invocation (one INFO line, platform lines off)
    for name, usage in run.usage.items():
        assert usage.log_lines <= 2 * usage.invocations, name


def test_the_analytics_lake_adds_its_firehose_s3_and_transformer_cost_within_5_percent(run: Run) -> None:
    # Given the mix ran with Analytics on (the default): every lifecycle event the lake keeps went
    # to the stream as EventBridge delivers it, and through the transformer (one record a batch)
    result = figures(run)
    lake, usd, per = result["lake"], result["usd_per_million_deliveries"], result["per_delivery"]
    assert run.lake_record_sizes
    assert run.usage["LakeTransformerFunction"].invocations == len(run.lake_record_sizes)
    # Then Firehose bills each record rounded up to the next 5 KB, for ingestion and for conversion
    assert all(size < 5 * 1024 for size in run.lake_record_sizes)  # one 5 KB unit each today
    assert lake["billed_bytes_per_record"] == 5 * 1024
    expected = per["lake_billed_bytes"] * 1_000_000 / 1024**3 * (0.029 + 0.018)
    assert usd["firehose"] == pytest.approx(expected, abs=1e-3)
    # And the lake's whole share (Firehose, S3 objects, the transformer's Lambda) stays within 5 % of
    # the pipeline without it
    without_lake = usd["total"] - lake["usd_per_million_deliveries"]
    assert 0 < lake["usd_per_million_deliveries"] <= 0.05 * without_lake
    assert "Analytics lake" in table(result)


def test_the_lake_costs_nothing_per_delivery_and_only_its_alarms_idle_when_analytics_is_off(run: Run) -> None:
    # Given the same run priced as if the stack were deployed with Analytics off
    off = replace(run, lake_record_sizes=[], lake_rows=0, parameters={**run.parameters, "Analytics": "off"})
    on_idle, off_idle = figures(run)["idle_usd_per_month"], figures(off)["idle_usd_per_month"]
    # Then the lake bills nothing per delivery
    assert figures(off)["usd_per_million_deliveries"]["firehose"] == 0
    # And idle it is its three alarms reading 6 metrics (errors prefix 3, transformer 2, rule DLQ 1): $0.60
    assert on_idle["counts"]["alarms"] - off_idle["counts"]["alarms"] == 3
    assert on_idle["total"] - off_idle["total"] == pytest.approx(0.60, abs=0.001)
