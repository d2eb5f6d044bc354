"""What an action takes (validated request bodies), what it answers, and why it refuses.

Pure: no AWS, no HTTP. A bad body is an ``ActionRefused`` 400 naming the parameter, never a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calsync import timefmt
from calsync.errors import CalsyncError
from calsync.read.bookings import _aware_utc, address

MAX_BODY = 64 * 1024
CALENDLY_API = "https://api.calendly.com"
_EVENT_TYPE_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_EVENT_TYPE_URI = re.compile(r"https://[^/\s]+/event_types/([A-Za-z0-9][A-Za-z0-9_-]{0,127})")
_TIMEZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}")


class ActionRefused(CalsyncError):
    """An action's clear refusal: ``status`` (4xx, or 503 when Calendly is down), a stable
    ``error`` code, a message, and the parameter at fault or how long to wait, when known."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        parameter: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.parameter = parameter
        self.retry_after = retry_after

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return body

    @property
    def lasting(self) -> bool:
        """Whether the same request would be refused again (kept under its idempotency key);
        a 429 or 503 is worth retrying with the same key."""
        return self.status not in (429, 503)


@dataclass(frozen=True, slots=True)
class Answer:
    """What an action answers: the status and the booking it acted on (``event_uuid``,
    ``invitee_uuid``), whose stored view is the body; or a refusal's body."""

    status: int
    booking: tuple[str, str] | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    replayed: bool = False


def bad_request(parameter: str, message: str) -> ActionRefused:
    return ActionRefused(400, "bad_request", message, parameter=parameter)


Name = Annotated[str, Field(min_length=1, max_length=255)]
Question = Annotated[str, Field(min_length=1, max_length=1024)]


class InviteeInput(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: Name
    email: str
    timezone: str

    _email = field_validator("email", mode="before")(address)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not _TIMEZONE.fullmatch(value):
            raise ValueError("must be an IANA time zone name such as Europe/Paris")
        return value


class QuestionAnswer(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    question: Question
    answer: Annotated[str, Field(max_length=10_000)]
    position: Annotated[int, Field(ge=0, le=100)] | None = None


class BookRequest(BaseModel):
    """``POST /v1/connections/{connection_id}/bookings``: an event type (uuid or Calendly URI),
    an aware start time, the invitee and the answers to the event type's questions."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    event_type: Annotated[str, Field(min_length=1, max_length=512)]
    start_time: datetime
    invitee: InviteeInput
    answers: Annotated[list[QuestionAnswer], Field(max_length=50)] = Field(default_factory=list)

    _start = field_validator("start_time", mode="before")(_aware_utc)

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if not (_EVENT_TYPE_UUID.fullmatch(value) or _EVENT_TYPE_URI.fullmatch(value)):
            raise ValueError("must be an event type's uuid or its https://api.calendly.com/event_types/… URI")
        return value

    def calendly_body(self, api_base: str = CALENDLY_API) -> dict[str, Any]:
        """``POST /invitees``' body (Calendly's Scheduling API)."""
        event_type = self.event_type if "/" in self.event_type else f"{api_base}/event_types/{self.event_type}"
        body: dict[str, Any] = {
            "event_type": event_type,
            "start_time": timefmt.iso_z(self.start_time),
            "invitee": {"name": self.invitee.name, "email": self.invitee.email, "timezone": self.invitee.timezone},
        }
        if self.answers:
            body["questions_and_answers"] = [
                {"question": a.question, "answer": a.answer, "position": i if a.position is None else a.position}
                for i, a in enumerate(self.answers)
            ]
        return body


class CancelRequest(BaseModel):
    """``POST …/bookings/{invitee_uuid}/cancel``: an optional reason (Calendly shows it)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    reason: Annotated[str, Field(max_length=10_000)] | None = None


class NoBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def parse_body[M: BaseModel](model: type[M], raw: bytes) -> M:
    """The JSON body as ``model`` (an empty body is ``{}``), or a 400 naming the first bad parameter."""
    if len(raw) > MAX_BODY:
        raise bad_request("body", f"the body is larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise bad_request("body", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise bad_request("body", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        parameter = ".".join(str(part) for part in first["loc"]) or "body"
        raise bad_request(parameter, first["msg"].removeprefix("Value error, ")) from None


def canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
