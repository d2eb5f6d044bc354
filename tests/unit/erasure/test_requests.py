"""Erasure requests (``calsync.erasure.requests``): the address a body may ask for, the record
that never holds it, and the worker's run: a duplicate is not run again, a failure is retried and
resumes, the last failure leaves ``failed`` with a reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from calsync.erasure.erase import ErasureStores
from calsync.erasure.requests import (
    BadRequest,
    ErasureJob,
    ErasureRequest,
    Status,
    parse_email,
    request_erasure,
    run_job,
    visible,
)
from calsync.errors import DependencyUnavailable
from tests.unit.erasure.test_erase import ADA, Item, Queues, Stores

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Requests:
    def __init__(self) -> None:
        self.records: dict[str, ErasureRequest] = {}

    def create(self, request: ErasureRequest) -> None:
        self.records[request.erasure_id] = request

    def get(self, erasure_id: str) -> ErasureRequest | None:
        return self.records.get(erasure_id)

    def _set(self, erasure_id: str, **changes: object) -> None:
        if (found := self.records.get(erasure_id)) is not None and found.status is not Status.DONE:
            self.records[erasure_id] = found.model_copy(update=changes)

    def start(self, erasure_id: str, at: datetime) -> ErasureRequest | None:
        found = self.records.get(erasure_id)
        if found is not None:
            self._set(erasure_id, status=Status.RUNNING, started_at=at, attempts=found.attempts + 1)
        return self.records.get(erasure_id)

    def finish(self, erasure_id: str, at: datetime, counts: Mapping[str, int]) -> None:
        self._set(erasure_id, status=Status.DONE, finished_at=at, counts=dict(counts))

    def fail(self, erasure_id: str, at: datetime, reason: str, *, final: bool) -> None:
        changes: dict[str, object] = {"reason": reason}
        if final:
            changes |= {"status": Status.FAILED, "finished_at": at}
        self._set(erasure_id, **changes)


class Queue:
    def __init__(self) -> None:
        self.jobs: list[ErasureJob] = []

    def send(self, job: ErasureJob) -> None:
        self.jobs.append(job)


def stores_with_ada() -> tuple[Stores, ErasureStores]:
    stores = Stores(items=[Item("invitees", "ada"), Item("invitees", "ada at globex", connection_id="globex")])
    return stores, ErasureStores(tombstones=stores, items=stores, queues=Queues(stores), audit=stores)


def requested(connection_id: str | None = "acme") -> tuple[Requests, Queue, ErasureRequest]:
    requests, queue = Requests(), Queue()
    ids = count(1)
    request = request_erasure(
        ADA,
        connection_id,
        requests=requests,
        queue=queue,
        address_hash=lambda email: "0f" * 32,
        now=AT,
        new_id=lambda: f"{next(ids):032x}",
    )
    return requests, queue, request


def test_a_request_is_recorded_pending_without_the_address_and_its_job_carries_it() -> None:
    _requests, queue, request = requested()
    assert request.status is Status.PENDING
    assert ADA not in request.model_dump_json().lower()
    assert ADA not in str(request.view())
    assert queue.jobs == [ErasureJob(erasure_id=request.erasure_id, email=ADA, connection_id="acme")]


def test_the_worker_runs_it_once_dated_by_the_request_and_a_duplicate_changes_nothing() -> None:
    requests, queue, _request = requested()
    stores, services = stores_with_ada()
    later = AT + timedelta(minutes=3)
    done = run_job(queue.jobs[0], requests, services, now=lambda: later, final_attempt=False)
    assert done is not None
    assert (done.status, done.counts, done.finished_at) == (Status.DONE, {"invitees": 1}, later)
    assert stores.log[0] == f"tombstone {AT.isoformat()} in acme"  # the request's time, its scope
    assert [i.name for i in stores.items] == ["ada at globex"]
    # When the same message comes again, nothing is run again
    log = list(stores.log)
    assert run_job(queue.jobs[0], requests, services, now=lambda: later, final_attempt=False) == done
    assert stores.log == log


def test_a_failure_is_retried_and_resumes_and_the_last_one_is_failed_with_a_reason() -> None:
    requests, queue, request = requested(None)
    stores, services = stores_with_ada()
    stores.fail_on = "remove ada"
    with pytest.raises(DependencyUnavailable):
        run_job(queue.jobs[0], requests, services, now=lambda: AT, final_attempt=False)
    found = requests.get(request.erasure_id)
    assert found is not None
    assert (found.status, found.reason) == (Status.RUNNING, "stopped: remove ada failed")
    # A retry that works finishes the erasure
    stores.fail_on = None
    done = run_job(queue.jobs[0], requests, services, now=lambda: AT, final_attempt=False)
    assert done is not None
    assert (done.status, done.attempts, stores.items) == (Status.DONE, 2, [])
    # Another request whose every attempt fails ends failed
    requests2, queue2, request2 = requested(None)
    stores.fail_on = f"tombstone {AT.isoformat()}"
    with pytest.raises(DependencyUnavailable):
        run_job(queue2.jobs[0], requests2, services, now=lambda: AT, final_attempt=True)
    failed = requests2.get(request2.erasure_id)
    assert failed is not None
    assert failed.status is Status.FAILED
    assert failed.view()["reason"] == f"stopped: tombstone {AT.isoformat()} failed"


def test_a_request_that_could_not_be_queued_is_failed_and_the_error_raised() -> None:
    class Unavailable:
        def send(self, job: ErasureJob) -> None:
            raise DependencyUnavailable("sqs:SendMessage (erasure request) failed: ServiceUnavailable")

    requests = Requests()
    with pytest.raises(DependencyUnavailable):
        request_erasure(
            ADA,
            None,
            requests=requests,
            queue=Unavailable(),
            address_hash=lambda e: "0f" * 32,
            now=AT,
            new_id=lambda: "1",
        )
    assert requests.records["1"].status is Status.FAILED
    assert requests.records["1"].reason is not None
    assert requests.records["1"].reason.startswith("not queued")


def test_a_tenant_sees_only_its_own_requests_the_operator_every_one() -> None:
    _, _, acme = requested("acme")
    assert visible(acme, "acme") == acme
    assert visible(acme, "globex") is None
    assert visible(acme, None) == acme


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (b"", "body"),
        (b'{"email": null}', "email"),
        (b'{"email": true}', "email"),
        (b'{"email": "ada@example.com", "x": 1}', "body"),
        ('{"email": "ada@exam\ud800ple.com"}', "body"),
        ('{"email": "ad\u00a0a@example.com"}', "email"),
        (b'{"email": "ada@example.com ada@example.org"}', "email"),
        (b'{"email": "@example.com"}', "email"),
        (b'{"email": "ada\xff@example.com"}', "body"),
        # a body that was not UTF-8, as API Gateway hands it on: each bad byte a U+FFFD
        ('{"email": "ada\ufffd@example.com"}', "body"),
    ],
)
def test_bad_bodies_are_refused_naming_the_parameter(body: str | bytes, parameter: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_email(body)
    assert refused.value.parameter == parameter


def test_a_good_address_is_normalised_and_may_be_international() -> None:
    assert parse_email(b'{"email": "  Ada@Example.COM "}') == ADA
    assert parse_email('{"email": "jos\u00e9@exampl\u00e9.fr"}'.encode()) == "jos\u00e9@exampl\u00e9.fr"
