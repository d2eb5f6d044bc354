"""Scheduled reconciliation: what Calendly's API lists and calsync lacks is repaired through the
normal queues and processors, version-aware, under a budget, resumably, with a report."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
import respx

from calsync import compose
from calsync.aws.dynamo import scan_items
from calsync.aws.views import ScheduledEventItem, StoredBooking, StoredSubmission
from calsync.config import ReconcilerSettings
from calsync.connections.records import Connection, StoredToken
from calsync.reconcile import scheduled as service
from calsync.reconcile.budget import Budget
from calsync.reconcile.report import Report, scheduled_windows
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import event_json
from tests.integration.conftest import Pipeline
from tests.integration.fanout_runs import run_scheduled

NOW = datetime(2026, 12, 2, tzinfo=UTC)  # Ada's event (Dec 1) is recent, the others upcoming


def _as(webhook: dict[str, Any], invitee_id: str, email: str, name: str) -> dict[str, Any]:
    """The same delivery about another invitee of the same scheduled event."""
    text = json.dumps(webhook).replace("INVITEE00000001", invitee_id)
    text = text.replace("ada@example.com", email).replace("Ada Lovelace", name)
    changed: dict[str, Any] = json.loads(text)
    return changed


def lost_webhooks() -> list[dict[str, Any]]:
    """Deliveries of a group event (Ada marked no-show, Bob booked, Cy booked then canceled)
    and a reschedule (Grace's old booking canceled, her new one created)."""
    created, canceled = event_json("invitee_created.json"), event_json("invitee_canceled.json")
    return [
        created,
        event_json("invitee_no_show_created.json"),
        _as(created, "INVITEE0000000B", "bob@example.com", "Bob Babbage"),
        _as(created, "INVITEE0000000C", "cy@example.com", "Cy Cerf"),
        _as(canceled, "INVITEE0000000C", "cy@example.com", "Cy Cerf"),
        event_json("invitee_rescheduled_canceled_old.json"),
        event_json("invitee_rescheduled_created_new.json"),
    ]


def calendly_lists(webhooks: list[dict[str, Any]]) -> FakeCalendly:
    """The API's state after those deliveries: each invitee as its last delivery left it."""
    fake = FakeCalendly()
    for webhook in webhooks:
        fake.add_booking(webhook["payload"])
    return fake


@dataclass
class Reconcile:
    pipeline: Pipeline
    services: compose.Reconciling

    def reconciler(self, fake: FakeCalendly, calls: int) -> tuple[Any, Any]:
        """The function's reconciler for "acme" (a fresh token), its client answered by ``fake``."""
        token = fake.add_pat()
        self.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=token))
        connection = self.services.connections.registry.get("acme")
        assert connection is not None
        budget = Budget.for_run(calls, 600, wait=lambda _: None)
        reconciler, client = self.services.reconciler_for(connection, budget)
        client._transport = httpx.MockTransport(fake.httpx_handler)
        return reconciler, client

    def __call__(self, fake: FakeCalendly, *, calls: int = 250) -> Report:
        reconciler, client = self.reconciler(fake, calls)
        with client:
            report = service.scheduled(
                reconciler,
                self.services.state,
                connection_id="acme",
                organization=fake.organization,
                windows=scheduled_windows(NOW, upcoming_days=90, recent_days=7),
            )
        self.pipeline.drain()
        return report


def connect(services: compose.Reconciling, organization: str) -> None:
    services.connections.registry.register(
        Connection(
            connection_id="acme",
            kind="pat",
            status="active",
            organization=organization,
            owner=None,
            callback_url="https://example.com/webhooks/calendly/acme",
            token_secret=services.connections.tokens.secret_name("acme"),
            signing_key_secret="calsync/test/signing-keys/acme",
        ),
        now="2026-11-01T00:00:00Z",
    )


@pytest.fixture
def reconcile(pipeline: Pipeline) -> Reconcile:
    env = pipeline.stack.functions["ReconcilerFunction"].environment
    services = compose.reconciling(ReconcilerSettings.from_env(env))
    connect(services, FakeCalendly().organization)
    return Reconcile(pipeline, services)


def stored_bookings(pipeline: Pipeline) -> dict[str, Any]:
    """Every booking and scheduled event as the read views show them (the no-show's version
    stamp aside: a webhook dates it at its delivery, a repair at the mark)."""
    found: dict[str, Any] = {}
    for item in (*pipeline.repo.scan_type("invitee"), *pipeline.repo.scan_type("event")):
        assert isinstance(item, StoredBooking | ScheduledEventItem)
        key = f"{type(item).__name__}:{item.uri}"
        found[key] = {k: v for k, v in item.attributes.items() if k != "nsv"}
    return found


def forget_everything(pipeline: Pipeline) -> None:
    for item in scan_items(pipeline.repo.client, "test", TableName=pipeline.repo.table_name):
        if item["type"] in ("invitee", "event", "delivery"):
            pipeline.repo.client.delete_item(
                TableName=pipeline.repo.table_name, Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}}
            )


def test_a_reconcile_after_lost_webhooks_stores_exactly_what_the_webhooks_would_have(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given the state the webhooks produce when they all arrive
    webhooks = lost_webhooks()
    for webhook in webhooks:
        pipeline.post(json.dumps(webhook).encode())
    pipeline.drain()
    delivered = stored_bookings(pipeline)
    assert len([k for k in delivered if k.startswith("StoredBooking")]) == 5
    # And a calsync that lost every one of them, while Calendly's API lists the bookings
    forget_everything(pipeline)
    fake = calendly_lists(webhooks)
    # When the reconciler runs
    report = reconcile(fake)
    # Then the stored bookings are exactly those the webhooks produced
    assert stored_bookings(pipeline) == delivered
    assert pipeline.total_depth() == 0
    # And the report says what was missing and repaired, over every window, covered
    assert report.complete
    assert [w.covered for w in report.windows] == [True, True, True]
    assert report.counts["events_seen"] == 3
    assert report.counts["invitees_seen"] == 5
    assert report.counts["missing"] == 5
    assert report.counts["repaired"] == 5
    # one list per booking window, one invitee list per event, one list of routing forms, one
    # page of event types
    assert report.api_calls == 2 + 3 + 1 + 1


def test_a_second_run_repairs_nothing_and_changes_nothing(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given a reconcile repaired every lost booking
    fake = calendly_lists(lost_webhooks())
    assert reconcile(fake).counts["repaired"] == 5
    before = json.dumps(pipeline.items(), sort_keys=True, default=str)
    # When it runs again
    report = reconcile(fake)
    # Then nothing was missing, stale or repaired, and nothing changed
    assert {k: report.counts[k] for k in ("missing", "stale", "repaired")} == {"missing": 0, "stale": 0, "repaired": 0}
    assert report.counts["invitees_seen"] == 5
    assert json.dumps(pipeline.items(), sort_keys=True, default=str) == before


def test_a_webhook_newer_than_the_apis_copy_is_never_overwritten(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given Ada's cancellation arrived by webhook, and the API still lists her as active (read before it)
    pipeline.post(json.dumps(event_json("invitee_canceled.json")).encode())
    pipeline.drain()
    fake = calendly_lists([event_json("invitee_created.json")])
    # When the reconciler runs
    report = reconcile(fake)
    # Then the cancellation stands, and nothing was counted as repaired
    (ada,) = [b for b in pipeline.repo.all_bookings() if b.invitee_uuid == "INVITEE00000001"]
    assert ada.status == "canceled"
    assert report.counts["newer"] == 1
    assert report.counts["repaired"] == 0


def test_a_no_show_cleared_in_calendly_is_cleared_and_counted_stale(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given Ada's no-show mark is stored, and its removal (in Calendly) was lost
    pipeline.post(json.dumps(event_json("invitee_no_show_created.json")).encode())
    pipeline.drain()
    fake = calendly_lists([event_json("invitee_no_show_deleted.json")])
    # When the reconciler runs
    report = reconcile(fake)
    # Then the mark is cleared
    (ada,) = [b for b in pipeline.repo.all_bookings() if b.invitee_uuid == "INVITEE00000001"]
    assert ada.no_show is None
    assert (report.counts["stale"], report.counts["repaired"]) == (1, 1)
    # And the next run repairs nothing
    assert reconcile(fake).counts["repaired"] == 0


def starting(at: datetime) -> dict[str, Any]:
    """Ada's booking, its meeting moved to start at ``at`` (the schedule's windows follow the clock)."""
    webhook = event_json("invitee_created.json")
    event = webhook["payload"]["scheduled_event"]
    event["start_time"] = at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    event["end_time"] = (at + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return webhook


def many_bookings(count: int) -> list[dict[str, Any]]:
    """``count`` one-invitee events, an hour apart, from Dec 3."""
    created = event_json("invitee_created.json")
    webhooks = []
    for n in range(count):
        text = json.dumps(created).replace("DEMOEVENT0000001", f"EVENT{n:011d}")
        text = text.replace("INVITEE00000001", f"INVITEE{n:08d}")
        text = text.replace("2026-12-01T15:", f"2026-12-{3 + n // 24:02d}T{n % 24:02d}:")
        text = text.replace("2026-12-01T15:30", f"2026-12-{3 + n // 24:02d}T{n % 24:02d}:30")
        webhooks.append(json.loads(text))
    return webhooks


def test_a_run_over_its_budget_resumes_next_run_and_finishes(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given Calendly lists 30 bookings the table lacks (page size 100: 1 list call per window)
    fake = calendly_lists(many_bookings(30))
    # When runs with a budget of 12 API calls each follow one another
    reports = []
    while not reports or not reports[-1].complete:
        reports.append(reconcile(fake, calls=12))
        assert len(reports) < 10, "the reconcile never finishes"
    # Then the first stopped with a cursor, each later one resumed where the one before stopped
    assert reports[0].cursor is not None
    assert [(w.name, w.coverage) for w in reports[0].windows] == [
        ("recent", "covered"),
        ("submissions", "covered"),
        ("upcoming", "partial"),
    ]
    # And every run covered the recent window (no-shows) before spending the rest on upcoming
    assert all(r.windows[0].name == "recent" and r.windows[0].covered for r in reports)
    assert all(r.api_calls <= 12 for r in reports)
    # And together they repaired every booking exactly once
    assert sum(r.counts["repaired"] for r in reports) == 30
    assert len(pipeline.repo.all_bookings()) == 30
    # And the cursor is gone once a run finished
    assert reconcile.services.state.cursor("acme") is None


def test_429_answers_are_waited_out_and_counted_in_the_budget(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given Calendly answers every third request 429 (X-RateLimit-Reset: 1)
    fake = calendly_lists(lost_webhooks())
    fake.rate_limit_every, fake.rate_limit_reset = 3, 1
    # When the reconciler runs
    report = reconcile(fake)
    # Then it covered everything, and the retried requests were counted (6 for the bookings,
    # 1 for the event types)
    assert report.complete
    assert fake.rate_limited >= 1
    assert report.api_calls == 7 + fake.rate_limited
    assert report.counts["repaired"] == 5


def test_the_scheduled_function_reconciles_and_stores_its_report(
    pipeline: Pipeline, reconcile: Reconcile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a booking tomorrow only Calendly knows (its webhook was lost)
    fake = calendly_lists([starting(datetime.now(UTC) + timedelta(days=1))])
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    spec = pipeline.stack.functions["ReconcilerFunction"]
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        handler = load_handler(spec, apply_environment=False)
        # When the schedule fires (a unit per connection), and the reconcile queue is worked
        context = LambdaContext("reconciler", timeout_seconds=900)
        dispatch, outcomes = run_scheduled(pipeline.stack, "ReconcilerFunction", handler, context)
    pipeline.drain()
    # Then the booking is stored and the run left a report
    assert (dispatch["sent"], outcomes) == (1, {"acme": "complete"})
    assert [b.invitee_uuid for b in pipeline.repo.all_bookings()] == ["INVITEE00000001"]
    (report,) = reconcile.services.state.reports("acme")
    assert report["reason"] == "scheduled"
    assert report["repaired"] == 1
    assert [w["covered"] for w in report["windows"]] == [True, True, True]


def test_a_requested_reconcile_covers_the_gap_and_says_why(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given a booking only Calendly knows, and the watchdog's request to reconcile the gap
    from calsync.reconcile.requests import ReconcileRequest

    fake = calendly_lists([event_json("invitee_created.json")])
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    request = ReconcileRequest(
        connection_id="acme",
        since=datetime(2026, 11, 30, tzinfo=UTC),
        until=datetime(2026, 12, 31, tzinfo=UTC),
        reason="subscription recreated (was disabled)",
        requested_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    sqs = boto3.client("sqs")
    queue_url = pipeline.stack.queue_urls["ReconcileRequestsQueue"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=request.message_body())
    from calsync_dev.pump import SqsEventSource

    spec = pipeline.stack.functions["ReconcilerFunction"]
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        handler = load_handler(spec, apply_environment=False)
        source = SqsEventSource(
            sqs,
            queue_url,
            pipeline.stack.queue_arns["ReconcileRequestsQueue"],
            handler,
            LambdaContext("reconciler", timeout_seconds=900),
        )
        # When the reconciler consumes it
        source.drain()
    pipeline.drain()
    # Then the booking is stored, and the report gives the request's reason
    assert [b.invitee_uuid for b in pipeline.repo.all_bookings()] == ["INVITEE00000001"]
    (report,) = reconcile.services.state.reports("acme")
    assert report["reason"] == "requested: subscription recreated (was disabled)"
    assert [w["name"] for w in report["windows"]] == ["submissions", "requested"]


def test_one_broken_connection_does_not_stop_the_others_and_the_run_fails_loudly(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given a connection whose token secret is gone, listed before a healthy one
    services = reconcile.services
    healthy = services.connections.registry.get("acme")
    assert healthy is not None
    broken = dataclasses.replace(
        healthy, connection_id="aaa-broken", token_secret=services.connections.tokens.secret_name("aaa-broken")
    )
    services.connections.registry.register(broken, now="2026-11-01T00:00:00Z")
    fake = calendly_lists([starting(datetime.now(UTC) + timedelta(days=1))])
    services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    handler = load_handler(pipeline.stack.functions["ReconcilerFunction"], apply_environment=False)
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        # When the schedule fires, and the reconcile queue is worked
        context = LambdaContext("reconciler", timeout_seconds=900)
        _, outcomes = run_scheduled(pipeline.stack, "ReconcilerFunction", handler, context)
    pipeline.drain()
    # Then the broken one's unit failed (retried alone, then dead-lettered: the DLQ's alarm)
    assert outcomes == {"aaa-broken": "error", "acme": "complete"}
    dlq = pipeline.stack.queue_urls["ReconcileWorkDLQ"]
    (dead,) = boto3.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert '"connection_id":"aaa-broken"' in dead["Body"]
    # And the healthy connection was reconciled all the same
    assert [b.invitee_uuid for b in pipeline.repo.all_bookings()] == ["INVITEE00000001"]
    assert services.state.reports("acme")


def test_a_requested_reconcile_over_its_budget_continues_by_a_new_request_until_done(
    pipeline: Pipeline, reconcile: Reconcile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 bookings only Calendly knows, a budget of 12 calls a run, and the watchdog's request
    from calsync.reconcile.requests import ReconcileRequest
    from calsync_dev.pump import SqsEventSource

    fake = calendly_lists(many_bookings(30))
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    monkeypatch.setenv("RECONCILE_API_CALLS", "12")
    request = ReconcileRequest(
        connection_id="acme",
        since=datetime(2026, 12, 1, tzinfo=UTC),
        until=datetime(2026, 12, 31, tzinfo=UTC),
        reason="retry_started_at seen",
        requested_at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    sqs = boto3.client("sqs")
    queue = "ReconcileRequestsQueue"
    sqs.send_message(QueueUrl=pipeline.stack.queue_urls[queue], MessageBody=request.message_body())
    handler = load_handler(pipeline.stack.functions["ReconcilerFunction"], apply_environment=False)
    source = SqsEventSource(
        sqs,
        pipeline.stack.queue_urls[queue],
        pipeline.stack.queue_arns[queue],
        handler,
        LambdaContext("reconciler", timeout_seconds=900),
    )
    # When the reconciler consumes the request and whatever continuations it sends
    from tests.iam import not_granted, recorded_calls

    with respx.mock(assert_all_called=False) as router, recorded_calls() as calls:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        handled = source.drain()
    pipeline.drain()
    # (each request of the requested runs, continuations included, is one its role allows)
    assert not_granted("ReconcilerFunction", calls) == []
    # Then it took several runs, each within its budget, and every booking is stored
    reports = reconcile.services.state.reports("acme", limit=20)
    assert handled == len(reports) > 1
    assert all(r["api_calls"] <= 12 for r in reports)
    assert sum(r["repaired"] for r in reports) == 30
    assert len(pipeline.repo.all_bookings()) == 30
    assert {r["reason"] for r in reports} == {"requested: retry_started_at seen"}
    assert (
        sqs.get_queue_attributes(
            QueueUrl=pipeline.stack.queue_urls["ReconcileRequestsDLQ"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_an_erased_person_calendly_still_lists_is_counted_erased_and_never_restored(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    from tests.integration.test_erasure import found_in_table, run_erase

    # Given Ada's booking arrived and she was then erased, while Calendly's API still lists her
    webhooks = [event_json("invitee_created.json")]
    pipeline.post(json.dumps(webhooks[0]).encode())
    pipeline.drain()
    run_erase(pipeline.stack, "ada@example.com")
    # When the reconciler runs (twice)
    first, second = reconcile(calendly_lists(webhooks)), reconcile(calendly_lists(webhooks))
    # Then she is counted as erased, nothing is sent for her, and she is nowhere in the table
    for report in (first, second):
        assert (report.counts["erased"], report.counts["missing"], report.counts["repaired"]) == (1, 0, 0)
    assert found_in_table(pipeline, "ada@example.com") == []


def test_an_event_whose_invitees_calendly_refuses_is_counted_unreadable_and_the_rest_reconciled(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given three bookings only Calendly knows, and Calendly answers 404 to one event's invitee list
    webhooks = []
    for n in range(3):  # from tomorrow (the schedule's windows follow the clock)
        text = json.dumps(starting(datetime.now(UTC) + timedelta(days=1 + n)))
        text = text.replace("DEMOEVENT0000001", f"EVENT{n:011d}").replace("INVITEE00000001", f"INVITEE{n:08d}")
        webhooks.append(json.loads(text))
    fake = calendly_lists(webhooks)
    refused = "/scheduled_events/EVENT00000000001/invitees"
    token = fake.add_pat()
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=token))
    spec = pipeline.stack.functions["ReconcilerFunction"]
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com", path=refused).mock(
            return_value=httpx.Response(404, json={"title": "Resource Not Found", "message": "gone"})
        )
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        handler = load_handler(spec, apply_environment=False)
        # When the schedule fires twice (and its units are worked)
        for _ in range(2):
            run_scheduled(pipeline.stack, "ReconcilerFunction", handler, LambdaContext("r", timeout_seconds=900))
    pipeline.drain()
    # Then the other two bookings are stored, and each run passed the refused event, counted
    assert sorted(b.invitee_uuid for b in pipeline.repo.all_bookings()) == ["INVITEE00000000", "INVITEE00000002"]
    reports = reconcile.services.state.reports("acme", limit=2)
    assert [(r["unreadable"], r["complete"]) for r in reports] == [(1, True), (1, True)]
    assert reconcile.services.state.cursor("acme") is None


def submission_made(at: str) -> dict[str, Any]:
    """Ada's routing-form submission (she booked from it), made at ``at``."""
    webhook = event_json("routing_form_submission_created.json")
    webhook["created_at"] = webhook["payload"]["created_at"] = webhook["payload"]["updated_at"] = at
    return webhook


def stored_submissions(pipeline: Pipeline) -> dict[str, Any]:
    """Every stored submission, by where it is stored (its submitter's event, or its own)."""
    return {
        f"{item.event_uuid}|{item.submission_uuid}": item.attributes
        for item in pipeline.repo.scan_type("routing_form_submission")
        if isinstance(item, StoredSubmission)
    }


def test_a_routing_form_submission_whose_webhook_was_lost_is_stored_as_the_webhook_would_have(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given what Ada's submission (made four days ago) leaves when its webhook arrives
    webhook = submission_made("2026-11-28T10:00:00.000000Z")
    pipeline.post(json.dumps(webhook).encode())
    pipeline.drain()
    delivered = stored_submissions(pipeline)
    assert len(delivered) == 1
    # And a calsync that lost it, while Calendly's API lists it under its routing form
    for item in scan_items(pipeline.repo.client, "test", TableName=pipeline.repo.table_name):
        if item["type"] == "routing_form_submission":
            key = {"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}}
            pipeline.repo.client.delete_item(TableName=pipeline.repo.table_name, Key=key)
    fake = FakeCalendly()
    fake.add_submission(webhook["payload"])
    # When the reconciler runs
    report = reconcile(fake)
    # Then the submission is stored exactly as the webhook stored it, and counted repaired
    assert stored_submissions(pipeline) == delivered
    assert report.complete
    assert (report.counts["submissions_seen"], report.counts["missing"], report.counts["repaired"]) == (1, 1, 1)
    assert [(w.name, w.coverage) for w in report.windows][1] == ("submissions", "covered")
    # And a second run repairs nothing
    again = reconcile(fake)
    assert (again.counts["submissions_seen"], again.counts["repaired"]) == (1, 0)


def test_submissions_made_before_the_window_are_not_listed_further(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given a routing form with one submission in the recent window and 150 older ones (two pages)
    fake = FakeCalendly()
    recent = submission_made("2026-11-29T10:00:00.000000Z")
    fake.add_submission(recent["payload"])
    for n in range(150):
        old = submission_made(f"2026-10-{1 + n % 28:02d}T10:00:{n % 60:02d}.000000Z")["payload"]
        old["uri"] = f"https://api.calendly.com/routing_form_submissions/OLD{n:013d}"
        fake.add_submission(old)
    # When the reconciler runs
    report = reconcile(fake)
    # Then only the recent one was repaired, and listing stopped at the first page (newest first)
    assert (report.counts["submissions_seen"], report.counts["repaired"]) == (1, 1)
    assert report.api_calls == 2 + 1 + 1 + 1  # two booking lists, the forms, one page of submissions, the event types
    assert len(stored_submissions(pipeline)) == 1


def test_an_organization_without_routing_forms_is_covered_and_says_so(pipeline: Pipeline, reconcile: Reconcile) -> None:
    # Given a plan without routing forms (Calendly answers 403) and a lost booking
    fake = calendly_lists(lost_webhooks())
    fake.routing_forms_plan = False
    # When the reconciler runs
    report = reconcile(fake)
    # Then the bookings are repaired, the run is complete, and the submissions window says why it was passed
    assert report.complete
    assert report.counts["repaired"] == 5
    assert [(w.name, w.coverage) for w in report.windows] == [
        ("recent", "covered"),
        ("submissions", "unavailable"),
        ("upcoming", "covered"),
    ]


def test_an_erased_persons_submission_is_counted_erased_and_never_restored(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    from tests.integration.test_erasure import run_erase

    # Given Ada's submission names her address in an answer, and Ada was erased after making it
    webhook = submission_made("2026-11-28T10:00:00.000000Z")
    webhook["payload"]["questions_and_answers"].append({"question": "Email", "answer": "ada@example.com"})
    fake = FakeCalendly()
    fake.add_submission(webhook["payload"])
    run_erase(pipeline.stack, "ada@example.com")
    # When the reconciler runs
    report = reconcile(fake)
    # Then it is counted erased, not repaired, and nothing is stored
    assert (report.counts["erased"], report.counts["missing"], report.counts["repaired"]) == (1, 0, 0)
    assert stored_submissions(pipeline) == {}


def test_a_submission_stored_before_anyone_booked_from_it_is_not_stored_twice(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given Ada's submission arrived by webhook before she booked (no submitter: stored on its own)
    webhook = submission_made("2026-11-28T10:00:00.000000Z")
    webhook["payload"]["submitter"] = webhook["payload"]["submitter_type"] = None
    pipeline.post(json.dumps(webhook).encode())
    pipeline.drain()
    # And Calendly now lists it with her booking as its submitter
    fake = FakeCalendly()
    fake.add_submission(submission_made("2026-11-28T10:00:00.000000Z")["payload"])
    # When the reconciler runs
    report = reconcile(fake)
    # Then it is found stored, and not stored a second time under her event
    assert (report.counts["submissions_seen"], report.counts["repaired"]) == (1, 0)
    assert list(stored_submissions(pipeline)) == ["None|ROUTINGSUBMIT001"]


def test_every_call_the_reconciler_makes_is_granted_by_its_own_policy(pipeline: Pipeline, reconcile: Reconcile) -> None:
    from tests.iam import not_granted, recorded_calls

    # Given a booking and a routing-form submission only Calendly knows
    fake = calendly_lists([starting(datetime.now(UTC) + timedelta(days=1))])
    fake.add_submission(submission_made(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"))["payload"])
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    spec = pipeline.stack.functions["ReconcilerFunction"]
    with recorded_calls() as calls, respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        handler = load_handler(spec, apply_environment=False)
        # When the schedule fires and the run (the connection's unit) repairs both
        context = LambdaContext("reconciler", timeout_seconds=900)
        assert run_scheduled(pipeline.stack, "ReconcilerFunction", handler, context)[1] == {"acme": "complete"}
    # Then every action it called is one its policy grants (in AWS anything else is AccessDenied)
    assert "dynamodb:BatchGetItem" in calls
    assert not_granted("ReconcilerFunction", calls) == []


def test_an_operators_reconcile_of_a_range_repairs_the_submissions_made_in_it(
    pipeline: Pipeline, reconcile: Reconcile, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync_dev.cli import main
    from tests.integration.test_erasure import target_of

    # Given a submission made two weeks ago whose webhook was lost
    made = datetime.now(UTC) - timedelta(days=14)
    fake = FakeCalendly()
    fake.add_submission(submission_made(made.strftime("%Y-%m-%dT%H:%M:%S.000000Z"))["payload"])
    reconcile.services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    env = pipeline.stack.functions["ReconcilerFunction"].environment
    target = dataclasses.replace(target_of(pipeline.stack), token_prefix=env["TOKEN_SECRET_PREFIX"])
    monkeypatch.setattr("calsync_dev.cli.reconcile.target_from", lambda args: target)
    # When an operator reconciles from five days before it
    since = (made - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        code = main(["reconcile", "--connection-id", "acme", "--since", since, "--json"])
    pipeline.drain()
    # Then the submission is stored, and the report says so
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [w["name"] for w in report["windows"]] == ["submissions", "manual"]
    assert (report["submissions_seen"], report["repaired"]) == (1, 1)
    assert len(stored_submissions(pipeline)) == 1


# ------------------------------------------------------------------ submissions under a small budget


def with_forms(fake: FakeCalendly, forms: int) -> FakeCalendly:
    """``forms`` routing forms, each with one submission made in October (older than any window)."""
    for n in range(forms):
        payload = submission_made("2026-10-01T10:00:00.000000Z")["payload"]
        payload["routing_form"] = f"https://api.calendly.com/routing_forms/FORM{n:012d}"
        payload["uri"] = f"https://api.calendly.com/routing_form_submissions/OLDSUB{n:010d}"
        fake.add_submission(payload)
    return fake


def run_requested(reconcile: Reconcile, fake: FakeCalendly, request: Any, calls: int) -> service.Requested:
    """One requested run, as the function runs it for one message."""
    reconciler, client = reconcile.reconciler(fake, calls)
    with client:
        result = service.requested(
            reconciler,
            reconcile.services.state,
            request,
            organization=fake.organization,
            horizon=datetime(2027, 3, 1, tzinfo=UTC),
            now=lambda: NOW,
        )
    reconcile.pipeline.drain()
    return result


def gap_request() -> Any:
    from calsync.reconcile.requests import ReconcileRequest

    return ReconcileRequest(
        connection_id="acme",
        since=datetime(2026, 12, 1, tzinfo=UTC),
        until=datetime(2026, 12, 31, tzinfo=UTC),
        reason="retry_started_at seen",
        requested_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_gap_reconcile_progresses_when_the_routing_forms_would_take_its_whole_budget(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given 30 bookings in the gap only Calendly knows, 10 routing forms, 12 calls a run
    fake = with_forms(calendly_lists(many_bookings(30)), 10)
    request, runs = gap_request(), []
    # When the reconciler runs the request and each continuation it sends
    while request is not None:
        runs.append(run_requested(reconcile, fake, request, calls=12))
        assert len(runs) <= 10, "the requested reconcile never finishes"
        request = runs[-1].continuation
    # Then every booking of the gap is stored: the forms took at most half of the first run's calls
    assert len(pipeline.repo.all_bookings()) == 30
    first = runs[0].report
    assert [(w.name, w.coverage) for w in first.windows] == [("submissions", "partial"), ("requested", "partial")]
    assert first.counts["events_seen"] >= 5
    # And the continuations list no routing form again: their windows are the bookings only
    assert all([w.name for w in r.report.windows] == ["requested"] for r in runs[1:])


def test_scheduled_runs_share_their_calls_with_the_forms_and_resume_the_forms_not_done(
    pipeline: Pipeline, reconcile: Reconcile
) -> None:
    # Given 12 routing forms, one of them with a submission from Nov 29 (in the recent window)
    # that calsync lacks, and 30 upcoming bookings, and runs of 16 calls
    fake = with_forms(calendly_lists(many_bookings(30)), 12)
    recent = submission_made("2026-11-29T10:00:00.000000Z")["payload"]
    recent["routing_form"] = "https://api.calendly.com/routing_forms/FORM000000000011"  # the last form listed
    fake.add_submission(recent)
    # When six scheduled runs follow one another
    reports = [reconcile(fake, calls=16) for _ in range(6)]
    # Then the first run paused the forms at their share and still went on with upcoming
    first = reports[0]
    assert [(w.name, w.coverage) for w in first.windows] == [
        ("recent", "covered"),
        ("submissions", "partial"),
        ("upcoming", "partial"),
    ]
    assert first.counts["events_seen"] > 0
    # And the second resumed with the forms not done: the last form's submission was repaired
    assert [w.coverage for w in reports[1].windows][1] == "covered"
    assert reports[1].counts["repaired"] >= 1
    assert len(stored_submissions(pipeline)) == 1
    # And together the runs stored every booking, each once (the submission's link to Ada's
    # booking is a stub until her booking arrives), and repaired the submission once
    assert len([b for b in pipeline.repo.all_bookings() if b.uri]) == 30
    assert sum(r.counts["repaired"] for r in reports) == 30 + 1
