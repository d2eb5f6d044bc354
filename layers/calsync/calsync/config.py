"""Per-function settings, read once from the environment and validated.

Environment variables hold names and ARNs, never secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

QueueUrl = Annotated[str, Field(min_length=1)]


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        source = os.environ if env is None else env
        return cls.model_validate({k.lower(): v for k, v in source.items()})


class ReceiverSettings(_Settings):
    """What the receiver needs: where each event kind goes and where keys live."""

    invitee_created_queue_url: QueueUrl
    invitee_canceled_queue_url: QueueUrl
    invitee_no_show_queue_url: QueueUrl
    routing_form_queue_url: QueueUrl
    other_queue_url: QueueUrl
    signing_key_prefix: Annotated[str, Field(min_length=1)]
    signature_tolerance_seconds: PositiveInt = 180
    max_body_bytes: PositiveInt = 131_072
    signing_key_cache_seconds: PositiveInt = 300


class ProcessorSettings(_Settings):
    """What a processor needs: the bookings table and how long to keep raw deliveries."""

    bookings_table_name: Annotated[str, Field(min_length=1)]
    archive_ttl_days: PositiveInt = 90


class ConnectionSettings(_Settings):
    """The token refresher, the subscription watchdog and the OAuth callback."""

    bookings_table_name: Annotated[str, Field(min_length=1)]
    token_secret_prefix: Annotated[str, Field(min_length=1)]
    signing_key_prefix: Annotated[str, Field(min_length=1)]
    oauth_app_secret_name: Annotated[str, Field(min_length=1)]
    calendly_api_url: str = "https://api.calendly.com"
    calendly_token_url: str = "https://auth.calendly.com/oauth/token"  # noqa: S105 - a URL


@cache
def connection_settings() -> ConnectionSettings:
    return ConnectionSettings.from_env()


@cache
def receiver_settings() -> ReceiverSettings:
    return ReceiverSettings.from_env()


@cache
def processor_settings() -> ProcessorSettings:
    return ProcessorSettings.from_env()
