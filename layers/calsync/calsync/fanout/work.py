"""A unit of scheduled work: one job for one connection (the body of one queue message)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds ceiling


class Job(StrEnum):
    REFRESH = "refresh"  # the token refresher
    WATCHDOG = "watchdog"  # the subscription watchdog
    RECONCILE = "reconcile"  # the scheduled reconciler


class WorkUnit(BaseModel):
    """``run`` names the dispatch that sent it (two dispatches at once send two units for the
    same connection: each is idempotent); ``deferrals`` counts how often a worker put it off
    because the connection's rate budget was spent (``fanout.worker``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["fanout"] = "fanout"
    job: Job
    connection_id: str = Field(min_length=1, max_length=128)
    run: str = Field(min_length=1, max_length=128)
    dispatched_at: float
    deferrals: int = Field(default=0, ge=0)

    def to_body(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_body(cls, body: str) -> WorkUnit:
        return cls.model_validate_json(body)

    @staticmethod
    def is_unit(body: str) -> bool:
        """A fan-out unit (other messages on a shared consumer, e.g. reconcile requests, are not)."""
        return '"kind":"fanout"' in body.replace(" ", "")


class Message(BaseModel):
    """One message to send: ``id`` unique within its batch, ``delay`` seconds before it is visible."""

    model_config = ConfigDict(frozen=True)

    id: str
    body: str
    delay: int = Field(default=0, ge=0, le=MAX_DELAY_SECONDS)
