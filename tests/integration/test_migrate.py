"""``calsync migrate`` on the stack provisioned from template.yaml: bookings stored before GSI3 (no
``GSI3PK``) are a 404 by invitee uuid until the ``gsi3-booking-index`` step has run, then the read
API finds them; a second run updates nothing; the write never brings back an erased invitee; the
command prints counts, JSON, the steps' state, and runs only what is pending."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from calsync import compose
from calsync.aws import keys
from calsync.migrate.ports import IndexCandidate, Indexed
from calsync.migrate.steps import STEPS, Options, chosen, migrate
from calsync.read.bookings import get_booking
from calsync_dev import cli
from calsync_dev.cli.target import Target
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.integration.conftest import Pipeline
from tests.integration.test_read_api import booking_at, get_request

HOURS = (1, 2, 3, 4, 5)
BOOKING = "/v1/connections/{connection_id}/bookings/{invitee_uuid}"
NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def uuid(hour: int) -> str:
    return f"INVITEE{hour:08d}"


def invitee_keys(pipeline: Pipeline) -> Iterator[dict[str, Any]]:
    for item in pipeline.items():
        if item["SK"].startswith("INVITEE#"):
            yield {keys.PK: {"S": item["PK"]}, keys.SK: {"S": item["SK"]}}


@pytest.fixture
def stored_before_gsi3(pipeline: Pipeline) -> Pipeline:
    """acme's five bookings as an earlier version stored them: every invitee without GSI3PK."""
    for hour in HOURS:
        assert pipeline.post(booking_at(hour))["statusCode"] == 202
    pipeline.drain()
    dynamodb = boto3.client("dynamodb")
    for key in invitee_keys(pipeline):
        dynamodb.update_item(TableName=pipeline.repo.table_name, Key=key, UpdateExpression="REMOVE GSI3PK")
    assert not any("GSI3PK" in item for item in pipeline.items())
    return pipeline


def run(pipeline: Pipeline, **options: Any) -> dict[str, int]:
    stores = compose.migrations(pipeline.repo.table_name)
    (report,) = migrate(stores, chosen(stores.log, [STEPS[0].name]), options=Options(**options), now=lambda: NOW)
    return report.counts


def test_after_the_migration_the_read_api_finds_old_bookings_by_uuid(stored_before_gsi3: Pipeline) -> None:
    read_api = load_handler(stored_before_gsi3.stack.functions["ReadApiFunction"], apply_environment=False)

    def status(hour: int) -> int:
        request = get_request(BOOKING, connection_id="acme", invitee_uuid=uuid(hour))
        return int(read_api(request, LambdaContext("read-api"))["statusCode"])

    # Given bookings stored before GSI3: not found by uuid
    assert [status(hour) for hour in HOURS] == [404] * 5
    # When the migration runs
    counts = run(stored_before_gsi3)
    # Then it updated each of them, and the read API (and its use case) finds each one
    assert counts == {
        "scanned": 5,
        "updated": 5,
        "already_done": 0,
        "skipped_without_tenant": 0,
        "gone": 0,
        "throttled": 0,
    }
    assert [status(hour) for hour in HOURS] == [200] * 5
    booking = get_booking(compose.tenant_items(stored_before_gsi3.repo.table_name), "acme", uuid(3))
    assert booking is not None
    assert booking.invitee_uuid == uuid(3)
    # And another connection still does not find them
    assert get_booking(compose.tenant_items(stored_before_gsi3.repo.table_name), "beta", uuid(3)) is None


def test_running_twice_updates_nothing_the_second_time(stored_before_gsi3: Pipeline) -> None:
    assert run(stored_before_gsi3)["updated"] == 5
    before = stored_before_gsi3.items()
    second = run(stored_before_gsi3)
    assert (second["updated"], second["already_done"]) == (0, 5)
    assert stored_before_gsi3.items() == before


def test_a_dry_run_counts_and_writes_nothing(stored_before_gsi3: Pipeline) -> None:
    assert run(stored_before_gsi3, dry_run=True)["updated"] == 5
    assert not any("GSI3PK" in item for item in stored_before_gsi3.items())


def test_parallel_segments_update_every_invitee(stored_before_gsi3: Pipeline) -> None:
    counts = run(stored_before_gsi3, segments=4)
    assert (counts["scanned"], counts["updated"]) == (5, 5)
    invitees = [i for i in stored_before_gsi3.items() if i["SK"].startswith("INVITEE#")]
    assert sorted(i["GSI3PK"] for i in invitees) == [f"BOOKING#acme#{uuid(hour)}" for hour in HOURS]


def test_the_write_never_recreates_an_erased_invitee(stored_before_gsi3: Pipeline) -> None:
    # Given an invitee the scan saw, removed (erased) before the write
    index = compose.migrations(stored_before_gsi3.repo.table_name).booking_index
    found, _ = index.invitees(0, 1, None)
    gone = found[0]
    boto3.client("dynamodb").delete_item(
        TableName=stored_before_gsi3.repo.table_name, Key=keys.Key(gone.pk, gone.sk).dynamo()
    )
    # When the migration writes its index key
    # Then nothing is written, and the item stays gone
    assert index.index(gone) is Indexed.GONE
    assert not [i for i in stored_before_gsi3.items() if (i["PK"], i["SK"]) == (gone.pk, gone.sk)]
    # And an invitee a processor indexed meanwhile counts as done
    other = found[1]
    assert index.index(other) is Indexed.UPDATED
    assert index.index(IndexCandidate(other.pk, other.sk, other.tenant, indexed=False)) is Indexed.ALREADY_DONE


@pytest.fixture
def command(stored_before_gsi3: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    target = Target(None, stored_before_gsi3.repo.table_name, {}, {})
    monkeypatch.setattr("calsync_dev.cli.migrate.target_from", lambda args: target)
    monkeypatch.setattr("calsync_dev.cli.migrate.clock", lambda: NOW)
    return stored_before_gsi3


def test_the_command_runs_the_pending_steps_once_and_says_so(
    command: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an operator who first counts
    assert cli.main(["migrate", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "gsi3-booking-index: would update 5; scanned 5, already done 0" in out
    assert "dry run" in out
    # When they run it, with a JSON summary
    assert cli.main(["migrate", "--json", "--segments", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # Then the summary gives every count
    assert summary == {
        "dry_run": False,
        "steps": [
            {
                "step": "gsi3-booking-index",
                "dry_run": False,
                "completed_at": "2026-12-05T01:00:00Z",
                "scanned": 5,
                "updated": 5,
                "already_done": 0,
                "skipped_without_tenant": 0,
                "gone": 0,
                "throttled": 0,
            },
            {  # the processors of this version wrote these bookings' GSI2 keys already
                "step": "gsi2-tenant-invitees",
                "dry_run": False,
                "completed_at": "2026-12-05T01:00:00Z",
                "scanned": 5,
                "updated": 0,
                "already_done": 5,
                "skipped_without_tenant": 0,
                "gone": 0,
                "throttled": 0,
            },
        ],
    }
    # And the step is listed as completed, and nothing is pending any more
    assert cli.main(["migrate", "--list"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["gsi3-booking-index", "2026-12-05T01:00:00Z"]
    assert cli.main(["migrate"]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    # And naming the step runs it again, changing nothing
    assert cli.main(["migrate", "--step", "gsi3-booking-index"]) == 0
    assert "gsi3-booking-index: updated 0; scanned 5, already done 5" in capsys.readouterr().out


def test_the_command_refuses_bad_segments(command: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate", "--segments", "0"]) == 2
    assert "--segments" in capsys.readouterr().err


def test_a_failure_says_to_run_again(
    command: Pipeline, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.errors import DependencyUnavailable
    from calsync.migrate.aws_migrations import DynamoBookingIndex

    def down(self: DynamoBookingIndex, invitee: IndexCandidate) -> Indexed:
        raise DependencyUnavailable("dynamodb:UpdateItem (invitee GSI3PK) failed: InternalServerError")

    monkeypatch.setattr(DynamoBookingIndex, "index", down)
    assert cli.main(["migrate"]) == 1
    assert "run the same command again" in capsys.readouterr().err
    monkeypatch.undo()


def test_the_command_shows_its_progress_on_a_terminal(command: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from calsync_dev.cli.progress import Progress

    terminal = io.StringIO()
    monkeypatch.setattr(
        "calsync_dev.cli.migrate.progress_for",
        lambda args, total, label: Progress(total, label, enabled=True, stream=terminal),
    )
    assert cli.main(["migrate"]) == 0
    shown = terminal.getvalue()
    assert "gsi3-booking-index" in shown
    assert "5 items" in shown
    assert "updated=5" in shown


def test_the_migration_publishes_no_lifecycle_event(pipeline: Pipeline) -> None:
    from tests.factories import event_body
    from tests.integration.test_lifecycle import Lifecycle

    # Given a booking published once, then stored as before GSI3
    lifecycle = Lifecycle(pipeline)
    assert [e["detail-type"] for e in lifecycle.deliver(event_body("invitee_created.json"))] == ["Booking Scheduled"]
    for key in invitee_keys(pipeline):
        boto3.client("dynamodb").update_item(
            TableName=pipeline.repo.table_name, Key=key, UpdateExpression="REMOVE GSI3PK"
        )
    # When the migration writes its index key (and records the step), and the stream is published
    assert run(pipeline)["updated"] == 1
    # Then nothing reaches the bus: an index key and a migration record are no change of a booking
    assert lifecycle.deliver() == []
    assert lifecycle.failed == []
