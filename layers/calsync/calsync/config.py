"""Per-function settings, read once (by the handler's cached composition) and validated.

Environment variables hold names and ARNs, never secrets. Names are matched case-insensitively.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from calsync.intake.routing import QueueKind

Name = Annotated[str, Field(min_length=1)]
RECENT_DAYS = 7  # the reconciler's recent window; by default also the publisher's late-``Booking Ended`` window


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        source = os.environ if env is None else env
        return cls.model_validate({k.lower(): v for k, v in source.items()})


class _IntakeQueues(_Settings):
    """Where each event kind goes: one variable per kind (``QueueKind.env_var``, e.g.
    ``InviteeCreatedQueueUrl``)."""

    queue_urls: dict[QueueKind, Name]
    # Bodies too large for a queue message go to this bucket (docs/large-deliveries.md); the
    # threshold is the whole message as SQS counts it, at most 256 KiB (see QUEUE_MESSAGE_MAX_BYTES).
    delivery_bodies_bucket: Name | None = None
    queue_message_max_bytes: Annotated[int, Field(ge=4096, le=262_144)] = 262_144

    @model_validator(mode="before")
    @classmethod
    def _queue_urls_from_env(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "queue_urls" not in data:
            urls = {kind: data.get(kind.env_var.lower()) for kind in QueueKind}
            missing = [kind.env_var for kind, url in urls.items() if not url]
            if missing:
                raise ValueError(f"missing queue URL variables: {', '.join(missing)}")
            return {**data, "queue_urls": urls}
        return data


class ReceiverSettings(_IntakeQueues):
    """What the receiver needs: where each event kind goes, where keys live, and the table
    whose connection records say which connection ids exist."""

    signing_key_prefix: Name
    bookings_table_name: Name
    signature_tolerance_seconds: PositiveInt = 180
    # webhooks.receiver.MAX_BODY_BYTES, the most Lambda can receive (docs/large-deliveries.md); a
    # literal: importing the receiver here would load the webhook models in every function
    max_body_bytes: PositiveInt = 6_258_688
    signing_key_cache_seconds: PositiveInt = 300


class ProcessorSettings(_Settings):
    """What a processor needs: the bookings table, how long to keep raw deliveries, and the
    secret holding the key of erased people's address hashes (tombstones)."""

    bookings_table_name: Name
    erasure_key_secret_name: Name
    archive_ttl_days: PositiveInt = 90
    delivery_bodies_bucket: Name | None = None  # where bodies too large for a message are read from


class ReminderSettings(_Settings):
    """The reminder function: the table it reads the booking from, the bus it writes to."""

    bookings_table_name: Name
    event_bus_name: Name


class PublisherSettings(ReminderSettings):
    """The lifecycle publisher: also where reminders are scheduled (lead times in seconds,
    e.g. ``86400,3600``), what they invoke, where the scheduler puts one it could not deliver, and
    how recent the end of a booking first stored after it must be for its ``Booking Ended`` to be
    published at once (days; 0: never)."""

    schedule_group_name: Name
    reminder_target_arn: Name
    scheduler_role_arn: Name
    reminder_dlq_arn: Name
    reminder_lead_seconds: tuple[PositiveInt, ...] = (86_400, 3_600)
    late_ended_window_days: NonNegativeInt = RECENT_DAYS  # "recent": RECONCILE_RECENT_DAYS (template default)
    recap_text_in_events: bool = False  # Meeting Recap Ready carries the recap's text (personal data)

    @model_validator(mode="before")
    @classmethod
    def _recent(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("late_ended_window_days") == "recent":
            return {**data, "late_ended_window_days": data.get("reconcile_recent_days", RECENT_DAYS)}
        return data

    @field_validator("reminder_lead_seconds", mode="before")
    @classmethod
    def _leads(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value


class SlackSettings(_Settings):
    """The Slack notifier: the secret holding the incoming-webhook URL, and which personal
    fields messages may show (comma-separated: ``name``, ``email``, ``answers``)."""

    slack_secret_name: Name
    bookings_table_name: Name  # where it records the events it sent (``lifecycle.once``)
    slack_personal_fields: frozenset[str] = frozenset({"name"})

    @field_validator("slack_personal_fields", mode="before")
    @classmethod
    def _fields(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value


class ForwarderSettings(_Settings):
    """The signed HTTP forwarder: the secret holding ``url`` and ``signing_secret``, and the
    table where it records the events it sent (``lifecycle.once``)."""

    forward_secret_name: Name
    bookings_table_name: Name


class ConnectionSettings(_Settings):
    """The token refresher, the subscription watchdog, the OAuth callback and the CLI."""

    bookings_table_name: Name
    token_secret_prefix: Name
    signing_key_prefix: Name
    oauth_app_secret_name: Name
    calendly_api_url: str = "https://api.calendly.com"
    calendly_token_url: str = "https://auth.calendly.com/oauth/token"  # noqa: S105 - a URL
    # The scheduled jobs' fan-out (docs/scale.md): the job's work queue (set: a scheduled run
    # dispatches one unit per connection there; unset: the CLI's in-process loop), how long a worker
    # sleeps for its connection's rate budget before putting the unit off, the refresh spread.
    work_queue_url: str | None = None
    rate_budget_max_wait_seconds: NonNegativeInt = 5
    refresh_spread_seconds: Annotated[int, Field(ge=0, le=900)] = 840


class ReconcilerSettings(ConnectionSettings, _IntakeQueues):
    """The reconciler: connections and their tokens, the intake queues it repairs through, the
    queue of requested reconciles (for a continuation), its windows (days) and budget, and the
    erasure key (an erased person's bookings are not repaired: the processors would refuse them)."""

    reconcile_requests_queue_url: Name
    erasure_key_secret_name: Name
    reconcile_upcoming_days: PositiveInt = 90
    reconcile_recent_days: PositiveInt = RECENT_DAYS
    reconcile_api_calls: PositiveInt = 250  # per connection per run: half of Calendly's 500/min


class WatchdogSettings(ConnectionSettings):
    """The subscription watchdog: also where gap reconciles are requested (``RECONCILE_REQUESTS_QUEUE_URL``)
    and how far before the first failed delivery they start."""

    reconcile_requests_queue_url: Name
    gap_margin_seconds: NonNegativeInt = 3600


class ReadApiSettings(_Settings):
    """The read API (``/v1``): the table it reads and the secret holding the key that signs its
    ``next_cursor`` (``{"key": ...}``, generated by the template)."""

    bookings_table_name: Name
    cursor_key_secret_name: Name


class ConnectApiSettings(_Settings):
    """``POST /v1/connections``: where pending authorizations and connection records live, the
    OAuth app secret (its client id and secret make the link), the origins ``return_to`` may
    point at (``ConnectReturnOrigins``, comma-separated; empty: none) and Calendly's authorize URL."""

    bookings_table_name: Name
    oauth_app_secret_name: Name
    connect_return_origins: str = ""
    calendly_authorize_url: Name = "https://auth.calendly.com/oauth/authorize"


class ErasureApiSettings(_Settings):
    """The erasure API (``/v1/…/erasures``): the table (connections, request records), the
    erasure key (the request record keeps the address's keyed hash) and the worker's queue."""

    bookings_table_name: Name
    erasure_key_secret_name: Name
    erasure_queue_url: Name


class ErasureWorkerSettings(_Settings):
    """The erasure worker: what ``calsync erase`` sweeps (the table, the delivery-bodies bucket,
    ``erasure_sweep_queues``: a JSON object of queue name → URL, empty URLs being queues this
    stack does not have) and how many receives a request gets before it is ``failed``."""

    bookings_table_name: Name
    erasure_key_secret_name: Name
    delivery_bodies_bucket: Name | None = None
    erasure_sweep_queues: dict[str, str] = {}
    erasure_max_receives: PositiveInt = 3  # the erasure queue's maxReceiveCount
    erasure_sweep_wait_seconds: NonNegativeInt = 1  # each queue receive's long poll (0 for emulators)

    @field_validator("erasure_sweep_queues", mode="before")
    @classmethod
    def _queues_from_json(cls, value: Any) -> Any:
        import json

        found = json.loads(value) if isinstance(value, str) else value
        return {k: v for k, v in found.items() if v} if isinstance(found, dict) else found


class ActionsApiSettings(ConnectionSettings):
    """The actions API (``POST /v1/connections/{id}/bookings…``, docs/actions.md): connections and
    their tokens, the erasure key (a booking about an erased person is stored like its webhook
    would be) and how long the action's own delivery is archived (as the processors keep theirs)."""

    erasure_key_secret_name: Name
    archive_ttl_days: PositiveInt = 90
