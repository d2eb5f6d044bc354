"""A connection's webhook subscription: which of an organization's subscriptions are ours, and
replacing one without a moment with none.

Calendly refuses a second subscription with the same callback URL in an organization (409),
and a disabled subscription still holds its URL. So a replacement is created first, at a
*distinct* URL that still reaches the same connection: the connection's callback URL plus
``?subscription=<n>`` (the receiver routes on the path alone; API Gateway passes query strings
through). Only once the new one exists is the old one deleted; if the create fails, the old
one stays. Deliveries doubled while both exist are absorbed by dedupe and version checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

from calsync.calendly.errors import CalendlyConflict, CalendlyError, CalendlyNotFound
from calsync.calendly.models import WebhookEvent, WebhookSubscription
from calsync.connections.ports import Calendly

WEBHOOK_EVENTS = tuple(WebhookEvent)  # every event calsync models
REPLACEMENT_PARAMETER = "subscription"
MAX_REPLACEMENT_URLS = 20  # more of ours than this in one organization: something else is wrong


def is_ours(callback_url: str, base_url: str) -> bool:
    """``callback_url`` is ``base_url`` itself or a replacement URL of it."""
    found, base = urlsplit(callback_url), urlsplit(base_url)
    if (found.scheme, found.netloc, found.path.rstrip("/")) != (base.scheme, base.netloc, base.path.rstrip("/")):
        return False
    return not found.query or set(parse_qs(found.query, keep_blank_values=True)) == {REPLACEMENT_PARAMETER}


def ours(subscriptions: Iterable[WebhookSubscription], base_url: str) -> list[WebhookSubscription]:
    return [s for s in subscriptions if is_ours(s.callback_url, base_url)]


def free_url(base_url: str, taken: Iterable[str]) -> str:
    """The first of ``base_url``, ``base_url?subscription=2``, ``…=3`` … no subscription holds."""
    held = set(taken)
    if base_url not in held:
        return base_url
    for n in range(2, MAX_REPLACEMENT_URLS + 2):
        candidate = f"{base_url}?{REPLACEMENT_PARAMETER}={n}"
        if candidate not in held:
            return candidate
    raise RuntimeError(f"{MAX_REPLACEMENT_URLS} subscriptions of this connection exist: delete the stale ones")


def current(found: Sequence[WebhookSubscription], subscription_uri: str | None) -> WebhookSubscription | None:
    """Of our subscriptions, the one delivering: the recorded one if enabled, else any enabled."""
    enabled = [s for s in found if s.state != "disabled"]
    return next((s for s in enabled if str(s.uri) == subscription_uri), enabled[0] if enabled else None)


def replace(
    calendly: Calendly,
    *,
    base_url: str,
    organization: str,
    signing_key: str | None,
    old: Sequence[WebhookSubscription],
) -> WebhookSubscription:
    """Create a new subscription at a URL none of ``old`` holds, then delete ``old``.

    A failed create raises and leaves ``old`` as it was. A failed delete leaves an extra old
    subscription (doubled or, if disabled, no deliveries): harmless, and the watchdog deletes
    disabled leftovers on its next run."""
    taken = [s.callback_url for s in old]
    for _ in range(3):  # a subscription may appear between the list and the create
        try:
            new = calendly.create_webhook_subscription(
                free_url(base_url, taken), WEBHOOK_EVENTS, organization, "organization", signing_key=signing_key
            )
            break
        except CalendlyConflict:
            taken = [s.callback_url for s in calendly.list_webhook_subscriptions(organization, "organization")]
    else:
        raise CalendlyConflict(409, "Already Exists", "every replacement URL was taken meanwhile")
    delete_quietly(calendly, [s for s in old if s.uri != new.uri])
    return new


def delete_quietly(calendly: Calendly, subscriptions: Iterable[WebhookSubscription]) -> list[str]:
    """Delete each, best effort: the URIs that could not be deleted (one already gone is fine).
    Only ever called for subscriptions a newer one replaces, so a failure costs at most doubled
    deliveries; the watchdog deletes disabled leftovers on its next run."""
    failed: list[str] = []
    for subscription in subscriptions:
        try:
            calendly.delete_webhook_subscription(str(subscription.uri))
        except CalendlyNotFound:
            continue
        except CalendlyError:
            failed.append(str(subscription.uri))
    return failed


def ensure(calendly: Calendly, *, base_url: str, organization: str, signing_key: str | None) -> WebhookSubscription:
    """Connect's subscription: keep an enabled one of ours when no new signing key must be sent
    (OAuth: the app's key), else create one, new before old."""
    found = ours(calendly.list_webhook_subscriptions(organization, "organization"), base_url)
    keep = current(found, None)
    if keep is not None and signing_key is None:
        delete_quietly(calendly, [s for s in found if s.state == "disabled"])
        return keep
    return replace(calendly, base_url=base_url, organization=organization, signing_key=signing_key, old=found)
