"""``calsync lake backfill`` on the stack provisioned from template.yaml: bookings stored before the
lake existed → Parquet in the local lake (or the lake bucket) → the metrics' numbers in DuckDB;
running it again replaces its files and changes no number."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from calsync.analytics.aws_stored import StoredItems
from calsync.analytics.metrics import MetricWindow
from calsync.migrate.backoff import Backoff
from calsync_dev import cli
from calsync_dev.analytics.lake import connect, run
from calsync_dev.cli.target import Target
from tests.factories import event_json
from tests.integration.conftest import Pipeline
from tests.integration.test_read_api import booking_at

HOURS = (1, 2, 3, 4, 5)
AS_OF = datetime(2026, 12, 10, tzinfo=UTC)


def canceled_at(hour: int) -> bytes:
    """``booking_at(hour)``'s cancellation."""
    text = json.dumps(event_json("invitee_canceled.json"))
    text = text.replace("DEMOEVENT0000001", f"EVENT{hour:011d}").replace("INVITEE00000001", f"INVITEE{hour:08d}")
    text = text.replace("2026-12-01T15:", f"2026-12-03T{hour:02d}:")
    return text.encode()


@pytest.fixture
def stored(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """acme's five bookings (the second canceled) and a routing-form submission, stored with no lake."""
    for body in [*(booking_at(hour) for hour in HOURS), canceled_at(2)]:
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    assert pipeline.post(json.dumps(event_json("routing_form_submission_created.json")).encode())["statusCode"] == 202
    pipeline.drain()
    target = Target(None, pipeline.repo.table_name, {}, {})
    monkeypatch.setattr("calsync_dev.cli.lake.target_from", lambda args: target)
    return pipeline


def metrics(lake: Path) -> dict[str, Any]:
    connection = connect(lake)
    window = MetricWindow(as_of=AS_OF)
    names = ("current_bookings", "rates_by_event_type", "bookings_per_week", "routing_forms")
    return {name: sorted(run(connection, name, window).rows, key=str) for name in names}


def files(lake: Path) -> dict[str, str]:
    return {
        str(path.relative_to(lake)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(lake.glob("dt=*/*.parquet"))
    }


def test_the_backfill_writes_the_stored_bookings_into_the_local_lake(
    stored: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the operator backfills the local lake
    assert cli.main(["lake", "backfill", "--lake", str(tmp_path / "lake")]) == 0
    # Then it says what it did, and the metrics count the stored bookings
    out = capsys.readouterr().out
    assert "6 records" in out  # four bookings scheduled, one canceled (its current state only), a submission
    found = metrics(tmp_path / "lake")
    assert len(found["current_bookings"]) == 5
    (demo,) = found["rates_by_event_type"]
    assert demo[:3] == ("Product demo", 5, 1)  # event type, bookings, canceled
    assert [row[1] for row in found["routing_forms"]] == [1]  # one submission
    # And the files are Parquet under dt= partitions, named by scan segment
    assert files(tmp_path / "lake")
    assert all(Path(name).name.startswith("backfill-") for name in files(tmp_path / "lake"))


def test_running_it_again_replaces_the_same_files_and_changes_no_metric(stored: Pipeline, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert cli.main(["lake", "backfill", "--lake", str(lake), "--quiet"]) == 0
    first, first_metrics = files(lake), metrics(lake)
    assert cli.main(["lake", "backfill", "--lake", str(lake), "--quiet"]) == 0
    assert files(lake) == first  # the same names, the same bytes
    assert metrics(lake) == first_metrics
    # And more segments split the same records differently, with the same numbers
    other = tmp_path / "segments"
    assert cli.main(["lake", "backfill", "--lake", str(other), "--segments", "3", "--json"]) == 0
    assert {Path(name).name for name in files(other)} <= {f"backfill-{i:03d}-of-003.parquet" for i in range(3)}
    assert metrics(other) == first_metrics


def test_with_a_stack_the_backfill_writes_to_the_lake_bucket_under_fixed_keys(
    stored: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed stack's lake bucket (its LakeBucketName output)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="calsync-lake")
    monkeypatch.setattr("calsync_dev.cli.lake.lake_bucket", lambda target, name: "calsync-lake")
    # When the backfill runs twice against it
    for _ in range(2):
        assert cli.main(["lake", "backfill", "--stack", "calsync-prod", "--quiet"]) == 0
    # Then its objects sit under the Firehose stream's prefix and dt= partitions, once each
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="calsync-lake").get("Contents", [])]
    assert keys
    assert all(k.startswith("lifecycle_events/dt=") and "/backfill-" in k for k in keys)
    # And Athena's table over them would give the local lake's numbers
    local = tmp_path / "local"
    for key in keys:
        path = local / key.removeprefix("lifecycle_events/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket="calsync-lake", Key=key)["Body"].read())
    assert cli.main(["lake", "backfill", "--lake", str(tmp_path / "lake"), "--quiet"]) == 0
    assert metrics(local) == metrics(tmp_path / "lake")


def test_a_stack_without_the_lake_is_refused_clearly(
    stored: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("calsync_dev.cli.lake.lake_bucket", lambda target, name: None)
    assert cli.main(["lake", "backfill", "--stack", "calsync-prod"]) == 2
    assert "LakeBucketName" in capsys.readouterr().err


class ThrottledOnce:
    """The table's client, but its first Scan is refused for the rate (after the SDK's retries)."""

    def __init__(self, client: Any) -> None:
        self.client, self.refused = client, 0

    def scan(self, **request: Any) -> Any:
        if not self.refused:
            self.refused += 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Scan")
        return self.client.scan(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_throttled_scan_waits_and_reads_the_same_page_again(stored: Pipeline) -> None:
    waits: list[float] = []
    client = ThrottledOnce(boto3.client("dynamodb"))
    items = StoredItems(stored.repo.table_name, client, Backoff(sleep=waits.append, jitter=lambda: 1.0))  # type: ignore[arg-type]
    found = [item for page in items.pages(0, 1) for item in page.items]
    assert client.refused == 1
    assert waits == [0.5]
    uris = {item.get("uri") for item in found if item["type"] == "invitee"}
    assert {f"https://api.calendly.com/scheduled_events/EVENT{h:011d}/invitees/INVITEE{h:08d}" for h in HOURS} <= uris
