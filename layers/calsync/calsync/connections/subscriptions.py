"""A connection's webhook subscription: which of an organization's subscriptions are ours, and
replacing one without a moment with none.

Calendly refuses a second subscription with the same callback URL in an organization (409),
and a disabled subscription still holds its URL. So a replacement is created first, at a
*distinct* URL that still reaches the same connection: the connection's callback URL plus
``?subscription=<n>`` (the receiver routes on the path alone; API Gateway passes query strings
through). Only once the new one exists is the old one deleted; if the create fails, the old
one stays. Deliveries doubled while both exist are absorbed by dedupe and version checks.

A subscription asks for every event the token's scopes allow (``connections.events``); when
Calendly refuses the create (403: the plan lacks an event's feature, or a personal access
token a scope), it is created again without the refused events, and they are reported
(``Subscribed.refused``). Calendly subscriptions cannot be edited: events are added by a
replacement (``widen``), new before old.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from calsync.calendly.errors import CalendlyConflict, CalendlyError, CalendlyNotFound, CalendlyPermissionError
from calsync.calendly.models import WebhookSubscription
from calsync.connections.events import ALL_EVENTS, attempts
from calsync.connections.ports import Calendly

WEBHOOK_EVENTS = ALL_EVENTS  # every event calsync subscribes to (14 in 2026)
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


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A subscription and the events asked for that it does not have (Calendly refused them)."""

    subscription: WebhookSubscription
    refused: tuple[str, ...] = ()

    @property
    def events(self) -> list[str]:
        return list(self.subscription.events)


def create_allowed(
    calendly: Calendly, url: str, events: Sequence[str], organization: str, signing_key: str | None
) -> Subscribed:
    """Subscribe ``url`` to ``events``; on 403, to fewer (``events.attempts``), reporting the
    ones left out. Raises the first 403 when even the core events are refused (the token lacks
    ``webhooks:write``, or webhooks are not allowed at all); ``CalendlyConflict`` as Calendly
    answers it."""
    first: CalendlyPermissionError | None = None
    for tried in attempts(list(events)):
        try:
            made = calendly.create_webhook_subscription(
                url, tried, organization, "organization", signing_key=signing_key
            )
        except CalendlyPermissionError as exc:
            first = first or exc
            continue
        return Subscribed(made, tuple(e for e in events if e not in tried))
    assert first is not None  # attempts() is never empty
    raise first


def _create(
    calendly: Calendly,
    *,
    base_url: str,
    organization: str,
    signing_key: str | None,
    taken: list[str],
    events: Sequence[str],
) -> Subscribed:
    for _ in range(3):  # a subscription may appear between the list and the create
        try:
            return create_allowed(calendly, free_url(base_url, taken), events, organization, signing_key)
        except CalendlyConflict:
            taken = [s.callback_url for s in calendly.list_webhook_subscriptions(organization, "organization")]
    raise CalendlyConflict(409, "Already Exists", "every replacement URL was taken meanwhile")


def replace(
    calendly: Calendly,
    *,
    base_url: str,
    organization: str,
    signing_key: str | None,
    old: Sequence[WebhookSubscription],
    events: Sequence[str] = WEBHOOK_EVENTS,
) -> Subscribed:
    """Create a new subscription (to ``events``, less those refused) at a URL none of ``old``
    holds, then delete ``old``.

    A failed create raises and leaves ``old`` as it was. A failed delete leaves an extra old
    subscription (doubled or, if disabled, no deliveries): harmless, and the watchdog deletes
    disabled leftovers on its next run."""
    taken = [s.callback_url for s in old]
    new = _create(
        calendly, base_url=base_url, organization=organization, signing_key=signing_key, taken=taken, events=events
    )
    delete_quietly(calendly, [s for s in old if s.uri != new.subscription.uri])
    return new


def widen(
    calendly: Calendly,
    *,
    base_url: str,
    organization: str,
    signing_key: str | None,
    live: WebhookSubscription,
    found: Sequence[WebhookSubscription],
    events: Sequence[str],
) -> Subscribed | None:
    """Add the ``events`` the delivering subscription ``live`` lacks: a new one with the full
    list first, then the old ones deleted (no gap; an event delivered by both meanwhile is
    absorbed as a duplicate). If Calendly still refuses every missing event, the new one is
    deleted again and ``live`` kept: ``None`` (the refusal is in the result's ``refused``
    only when something was gained)."""
    new = _create(
        calendly,
        base_url=base_url,
        organization=organization,
        signing_key=signing_key,
        taken=[s.callback_url for s in found],
        events=events,
    )
    if not set(new.events) - set(live.events):
        delete_quietly(calendly, [new.subscription])
        return None
    delete_quietly(calendly, [s for s in found if s.uri != new.subscription.uri])
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


def ensure(
    calendly: Calendly,
    *,
    base_url: str,
    organization: str,
    signing_key: str | None,
    events: Sequence[str] = WEBHOOK_EVENTS,
) -> Subscribed:
    """Connect's subscription: keep an enabled one of ours that has every one of ``events`` when
    no new signing key must be sent (OAuth: the app's key), else create one, new before old."""
    found = ours(calendly.list_webhook_subscriptions(organization, "organization"), base_url)
    keep = current(found, None)
    if keep is not None and signing_key is None and set(events) <= set(keep.events):
        delete_quietly(calendly, [s for s in found if s.state == "disabled"])
        return Subscribed(keep)
    return replace(
        calendly, base_url=base_url, organization=organization, signing_key=signing_key, old=found, events=events
    )
