"""Calendly API v2: typed models (``calsync.calendly.models``) and the HTTP clients
(``calsync.calendly.client``, the only module in calsync that imports httpx).

Names are loaded on first use, so ``import calsync.calendly.models`` (or this package) does not
import httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calsync.calendly.client import (
        CalendlyAuthError,
        CalendlyClient,
        CalendlyConflict,
        CalendlyError,
        CalendlyNotFound,
        CalendlyPermissionError,
        CalendlyRateLimited,
        CalendlyUnavailable,
        InvalidGrant,
        OAuthClient,
        OAuthError,
    )
    from calsync.calendly.models import (
        CalendlyErrorBody,
        EventType,
        Invitee,
        InviteeNoShow,
        OAuthErrorBody,
        OAuthToken,
        OrganizationMembership,
        Pagination,
        RoutingFormSubmission,
        ScheduledEvent,
        User,
        WebhookSubscription,
    )

_CLIENT = (
    "CalendlyAuthError",
    "CalendlyClient",
    "CalendlyConflict",
    "CalendlyError",
    "CalendlyNotFound",
    "CalendlyPermissionError",
    "CalendlyRateLimited",
    "CalendlyUnavailable",
    "InvalidGrant",
    "OAuthClient",
    "OAuthError",
)
_MODELS = (
    "CalendlyErrorBody",
    "EventType",
    "Invitee",
    "InviteeNoShow",
    "OAuthErrorBody",
    "OAuthToken",
    "OrganizationMembership",
    "Pagination",
    "RoutingFormSubmission",
    "ScheduledEvent",
    "User",
    "WebhookSubscription",
)
_HOME = {name: "calsync.calendly.client" for name in _CLIENT} | {name: "calsync.calendly.models" for name in _MODELS}

__all__ = [
    "CalendlyAuthError",
    "CalendlyClient",
    "CalendlyConflict",
    "CalendlyError",
    "CalendlyErrorBody",
    "CalendlyNotFound",
    "CalendlyPermissionError",
    "CalendlyRateLimited",
    "CalendlyUnavailable",
    "EventType",
    "InvalidGrant",
    "Invitee",
    "InviteeNoShow",
    "OAuthClient",
    "OAuthError",
    "OAuthErrorBody",
    "OAuthToken",
    "OrganizationMembership",
    "Pagination",
    "RoutingFormSubmission",
    "ScheduledEvent",
    "User",
    "WebhookSubscription",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
