"""Erasure as a service: an erasure asked for through the API (``POST /v1/erasures``, or
``POST /v1/connections/{id}/erasures`` for one tenant's data), recorded, then run by a worker.

The API validates the address, writes the request record (status ``pending``; only the keyed
hash of the address, never the address) and hands the work to the worker through a queue whose
message carries the address (SQS encrypts it at rest; the message is deleted once processed).
The worker runs the same use case ``calsync erase`` runs (``erase.erase``), dated by the
request's time, so a duplicate message or a run after one that failed halfway finishes the work
and changes nothing already done; the record ends ``done`` with counts per store, or ``failed``
with a reason once the last retry failed.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from calsync.erasure.rules import GLOBAL, addresses_in, normalise

if TYPE_CHECKING:
    from calsync.erasure.erase import ErasureStores

MAX_EMAIL = 254  # RFC 5321's longest path
MAX_BODY_BYTES = 4096  # a request body is one short JSON object
# Characters no address holds: controls, format characters (zero-width, bidi), surrogates,
# private use, unassigned, and any kind of space or separator.
_ODD = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
REPLACEMENT = "\ufffd".encode()  # U+FFFD: what stands for bytes that were not UTF-8


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BadRequest(Exception):
    """Input the API refuses with a 400 naming ``parameter`` (never the address itself)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.message = parameter, message

    def as_json(self) -> dict[str, str]:
        return {"error": "bad_request", "message": self.message, "parameter": self.parameter}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: StrictStr


def parse_email(body: str | bytes | None) -> str:
    """The address in a request body ``{"email": "..."}``, normalised; ``BadRequest`` for a
    missing, huge or non-JSON body, other fields, a non-string, or anything that is not one whole
    address (odd Unicode included): what the erasure matches must be what was asked for."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if not raw.strip():
        raise BadRequest("body", 'a JSON body {"email": "..."} is required')
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("body", f"the body is over {MAX_BODY_BYTES} bytes")
    if REPLACEMENT in raw:  # API Gateway hands on a body that was not UTF-8 with U+FFFD for each bad byte
        raise BadRequest("body", "the body is not valid UTF-8")
    try:
        parsed = _Body.model_validate_json(raw)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"]}
        parameter = "email" if fields == {"email"} else "body"
        raise BadRequest(parameter, 'the body must be a JSON object {"email": "<address>"} and nothing else') from None
    email = parsed.email.strip()
    if not email or len(email) > MAX_EMAIL:
        raise BadRequest("email", f"email must be an address of 1 to {MAX_EMAIL} characters")
    if any(unicodedata.category(c) in _ODD for c in email):
        raise BadRequest("email", "email holds a control, invisible or space character")
    if addresses_in(email) != {normalise(email)}:
        raise BadRequest("email", "email must be one address, local-part@domain")
    return normalise(email)


class ErasureJob(BaseModel):
    """The worker's message: the only place the address travels (SQS SSE; deleted once done)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    erasure_id: str = Field(min_length=1, max_length=128)
    email: str = Field(min_length=3, max_length=MAX_EMAIL)
    connection_id: str | None = None  # None: everywhere


class ErasureRequest(BaseModel):
    """The request record (``keys.erasure_request``): status and counts, never the address."""

    model_config = ConfigDict(frozen=True)

    erasure_id: str
    connection_id: str | None  # the scope; None: everywhere
    status: Status
    requested_at: datetime
    address_hash: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    reason: str | None = None
    attempts: int = 0
    requested_by: str | None = None  # the signed caller's IAM ARN (the audit record's principal)

    def view(self) -> dict[str, Any]:
        """The API's ``Erasure`` (openapi/calsync-v1.yaml): no hash, no address."""
        from calsync import timefmt

        return {
            "erasure_id": self.erasure_id,
            "scope": {"connection_id": self.connection_id},
            "status": self.status.value,
            "requested_at": timefmt.sortable(self.requested_at),
            "finished_at": timefmt.sortable(self.finished_at) if self.finished_at else None,
            "counts": dict(sorted(self.counts.items())),
            "reason": self.reason,
        }


class ErasureRequests(Protocol):
    def create(self, request: ErasureRequest) -> None: ...

    def get(self, erasure_id: str) -> ErasureRequest | None: ...

    def start(self, erasure_id: str, at: datetime) -> ErasureRequest | None:
        """Mark it running (one more attempt) unless it is done; the record, None if unknown."""
        ...

    def finish(self, erasure_id: str, at: datetime, counts: Mapping[str, int]) -> None: ...

    def fail(self, erasure_id: str, at: datetime, reason: str, *, final: bool) -> None:
        """Note why an attempt failed; ``final``: no retry follows, the status is ``failed``."""
        ...


class ErasureQueue(Protocol):
    def send(self, job: ErasureJob) -> None: ...


def request_erasure(
    email: str,
    connection_id: str | None,
    *,
    requests: ErasureRequests,
    queue: ErasureQueue,
    address_hash: Callable[[str], str],
    now: datetime,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    requested_by: str | None = None,
) -> ErasureRequest:
    """Record the request (pending), then hand it to the worker: a request whose message could
    not be sent is ``failed`` ("not queued") and the error raised (the caller answers 503: nothing
    was erased; ask again)."""
    from calsync.errors import DependencyUnavailable

    request = ErasureRequest(
        erasure_id=new_id(),
        connection_id=connection_id,
        status=Status.PENDING,
        requested_at=now,
        address_hash=address_hash(email),
        requested_by=requested_by,
    )
    requests.create(request)
    try:
        queue.send(ErasureJob(erasure_id=request.erasure_id, email=email, connection_id=connection_id))
    except DependencyUnavailable:
        requests.fail(request.erasure_id, now, "not queued: the erasure queue was unavailable; ask again", final=True)
        raise
    return request


def visible(request: ErasureRequest | None, connection_id: str | None) -> ErasureRequest | None:
    """A request as seen from a path: a tenant's path shows that tenant's requests only; the
    operator's (``/v1/erasures/{id}``) shows every one."""
    if request is None or (connection_id is not None and request.connection_id != connection_id):
        return None
    return request


def scope_name(connection_id: str | None) -> str:
    return connection_id or GLOBAL


def run_job(
    job: ErasureJob,
    requests: ErasureRequests,
    stores: ErasureStores,
    *,
    now: Callable[[], datetime],
    final_attempt: bool,
) -> ErasureRequest | None:
    """The worker: run the erasure a request asked for, the use case ``calsync erase`` runs,
    dated by the request (so the tombstone's time is the same however often it runs). A done
    request is not run again (a duplicate message); an unknown one is ignored (nothing asked for
    it). A failure is noted on the record and raised, so the queue retries it; on the last
    attempt (``final_attempt``) the record is ``failed`` with the reason (never the address)."""
    from calsync.erasure.erase import erase
    from calsync.errors import DependencyUnavailable

    request = requests.start(job.erasure_id, now())
    if request is None or request.status is Status.DONE:
        return request
    try:
        report = erase(
            job.email,
            stores,
            principal=request.requested_by or f"api erasure {job.erasure_id}",
            connection_id=request.connection_id,
            now=lambda: request.requested_at,
            erasure_id=job.erasure_id,
        )
    except DependencyUnavailable as exc:  # names the AWS operation only
        requests.fail(job.erasure_id, now(), f"stopped: {exc}", final=final_attempt)
        raise
    except Exception as exc:  # noted on the record (its kind only: a message might quote data), then raised
        requests.fail(job.erasure_id, now(), f"stopped: {type(exc).__name__}", final=final_attempt)
        raise
    requests.finish(job.erasure_id, now(), report.counts)
    return requests.get(job.erasure_id)
