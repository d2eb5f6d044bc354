"""Every Calendly API fixture parses with its model, with the key fields checked (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

# isort: split
from calsync.calendly.bodies import CalendlyErrorBody, OAuthErrorBody, OAuthToken, WebhookSubscriptionCreate
from calsync.calendly.models import (
    Cancellation,
    EventType,
    Invitee,
    InviteeNoShow,
    Page,
    Pagination,
    Resource,
    RoutingFormSubmission,
    ScheduledEvent,
    User,
    WebhookSubscription,
)
from tests.factories import API_FIXTURES

API = "https://api.calendly.com"

Parser = Callable[[Any], Any]


def resource(model: type[Any]) -> Parser:
    return lambda raw: Resource[model].model_validate(raw).resource  # type: ignore[valid-type]


def page(model: type[Any]) -> Parser:
    return lambda raw: Page[model].model_validate(raw)  # type: ignore[valid-type]


def legacy_v1_rejected(raw: Any) -> Any:
    """The legacy API v1 webhook shape must not pass for a v2 Invitee (no uri/status, event is an object)."""
    with pytest.raises(ValidationError):
        Invitee.model_validate(raw["payload"])
    with pytest.raises(ValidationError):
        Invitee.model_validate(raw["payload"]["invitee"])
    return raw


NOT_FOUND = {"title": "Resource Not Found", "message": "The server could not find the requested resource."}

# file name -> (how to parse it, {dotted path: expected value}). A new fixture without an entry fails.
EXPECTED: dict[str, tuple[Parser, dict[str, Any]]] = {
    # --- errors
    "error_401_unauthenticated__calendlyr.json": (
        CalendlyErrorBody.model_validate,
        {"title": "Unauthenticated", "message": "The access token is invalid", "details.0.parameter": "string"},
    ),
    "error_403_permission_denied__calendlyr.json": (
        CalendlyErrorBody.model_validate,
        {"title": "Permission Denied", "message": "You do not have permission to access this resource."},
    ),
    "error_403_upgrade_required__calendlyr.json": (
        CalendlyErrorBody.model_validate,
        {"title": "Permission Denied", "details": []},
    ),
    "error_403_webhook_create_basic_tier__calendly_openapi_example.json": (
        CalendlyErrorBody.model_validate,
        {"title": "Permission Denied", "message": "Please upgrade your Calendly account to Professional"},
    ),
    "error_404_not_found__calendly_openapi_example.json": (
        CalendlyErrorBody.model_validate,
        {**NOT_FOUND, "details.0.message": "string"},
    ),
    "error_404_not_found__calendlyr.json": (CalendlyErrorBody.model_validate, NOT_FOUND),
    "error_404_not_found__koshilife.json": (CalendlyErrorBody.model_validate, {**NOT_FOUND, "details": []}),
    "error_409_webhook_url_exists__calendly_openapi_example.json": (
        CalendlyErrorBody.model_validate,
        {"title": "Already Exists", "message": "Hook with this url already exists"},
    ),
    "error_424_external_calendar__calendlyr.json": (
        CalendlyErrorBody.model_validate,
        {"title": "External Calendar Error", "message": "There is a problem accessing your calendar."},
    ),
    "oauth_error_400_invalid_grant__koshilife.json": (
        OAuthErrorBody.model_validate,
        {"error": "invalid_grant"},
    ),
    # --- OAuth
    "oauth_token_refresh_response__koshilife.json": (
        OAuthToken.model_validate,
        {
            "token_type": "Bearer",
            "access_token": "NEW_TOKEN",
            "refresh_token": "NEW_REFRESH_TOKEN",
            "scope": "default",
            "created_at": 1596207600,
            "expires_in": 7200,
            "expires_at": 1596214800,
            "owner": f"{API}/users/U001",
            "organization": None,
        },
    ),
    # --- users
    "users_me__calendly_openapi_example.json": (
        resource(User),
        {
            "uri": f"{API}/users/AAAAAAAAAAAAAAAA",
            "current_organization": f"{API}/organizations/AAAAAAAAAAAAAAAA",
            "email": "user@example.com",
        },
    ),
    "users_me__koshilife.json": (
        resource(User),
        {
            "uri": f"{API}/users/U001",
            "current_organization": f"{API}/organizations/ORG001",
            "timezone": "Asia/Tokyo",
            "created_at": datetime(2020, 5, 1, tzinfo=UTC),
        },
    ),
    "users_get__calendlyr_docs_example.json": (
        resource(User),
        {"uri": f"{API}/users/abc123", "resource_type": "User", "slug": "acmesales"},
    ),
    # --- event types
    "event_types_list__calendly_openapi_example.json": (
        page(EventType),
        {
            "collection.0.uri": f"{API}/event_types/AAAAAAAAAAAAAAAA",
            "collection.0.duration": 30,
            "collection.0.profile.owner": f"{API}/users/AAAAAAAAAAAAAAAA",
            "collection.0.custom_questions.2.answer_choices": ["1", "2-10", "11-20", "20+"],
            "pagination.count": 1,
            "pagination.next_page_token": "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi",
            "pagination.previous_page_token": "VJs2rfDYeY8ahZpq0QI1O114LJkNjd7H",
        },
    ),
    "event_types_list_page1__koshilife.json": (
        page(EventType),
        {
            "collection.0.uri": f"{API}/event_types/ET003",
            "collection.1.uri": f"{API}/event_types/ET002",
            "collection.1.internal_note": "foo bar notes",
            "pagination.count": 2,
            "pagination.next_page_token": None,
        },
    ),
    "event_types_list_page2_last__koshilife.json": (
        page(EventType),
        {"collection.0.uri": f"{API}/event_types/ET001", "collection.0.active": True, "pagination.next_page": None},
    ),
    # --- scheduled events
    "scheduled_event_get__calendly_openapi_example.json": (
        resource(ScheduledEvent),
        {
            "uri": f"{API}/scheduled_events/GBGBDCAADAEDCRZ2",
            "status": "active",
            "start_time": datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC),
            "location.type": "physical",
            "event_memberships.0.user": f"{API}/users/GBGBDCAADAEDCRZ2",
            "event_guests.0.email": "user@example.com",
            "calendar_event.kind": "google",
        },
    ),
    "scheduled_events_list__calendly_openapi_example.json": (
        page(ScheduledEvent),
        {
            "collection.0.uri": f"{API}/scheduled_events/GBGBDCAADAEDCRZ2",
            "collection.0.invitees_counter.limit": 0,
            "pagination.next_page_token": "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi",
        },
    ),
    "scheduled_events_list__calendlyr_docs_example.json": (
        page(ScheduledEvent),
        {"collection.0.name": "15 Minute Meeting", "pagination.count": 1, "pagination.next_page_token": None},
    ),
    "scheduled_events_list_page1__koshilife.json": (
        page(ScheduledEvent),
        {
            "collection.0.uri": f"{API}/scheduled_events/EV013",
            "collection.0.location.type": "google_conference",
            "collection.1.location.type": "zoom",
            "collection.1.location.data.id": 12345678901,
            "collection.1.event_memberships.1.user": f"{API}/users/U102",
        },
    ),
    "scheduled_events_list_page2_last__koshilife.json": (
        page(ScheduledEvent),
        {
            "collection.0.uri": f"{API}/scheduled_events/EV011",
            "collection.0.status": "canceled",
            "collection.0.cancellation.canceler_type": "invitee",
            "pagination.next_page": None,
        },
    ),
    "scheduled_event_cancellation_response__koshilife.json": (
        resource(Cancellation),
        {"canceled_by": "FooBar", "canceler_type": "host", "reason": None},
    ),
    # --- invitees
    "invitee_get_active__calendly_openapi_example.json": (
        resource(Invitee),
        {
            "status": "active",
            "event": f"{API}/scheduled_events/ABCDABCDABCDABCD",
            "payment.amount": 1234.56,
            "payment.currency": "USD",
            "reconfirmation.confirmed_at": datetime(2020, 11, 23, 20, 1, 18, 341657, tzinfo=UTC),
            "questions_and_answers.2.position": 2,
            "no_show": None,
        },
    ),
    "invitee_get_canceled__calendly_openapi_example.json": (
        resource(Invitee),
        {
            "status": "canceled",
            "cancellation.canceler_type": "invitee",
            "cancellation.reason": "Meeting Conflict",
            "rescheduled": False,
        },
    ),
    "invitee_get_canceled_rescheduled__koshilife.json": (
        resource(Invitee),
        {
            "uri": f"{API}/scheduled_events/EV301/invitees/INV001",
            "status": "canceled",
            "rescheduled": True,
            "new_invitee": f"{API}/scheduled_events/EV301_NEW1/invitees/INV001",
            "cancellation.canceled_by": "FooBar",
            "tracking.utm_campaign": "FOOBAR_CAMPAIGN",
            "text_reminder_number": "12345678",
            "questions_and_answers.4.answer": "+81 70-1234-5678",
        },
    ),
    "scheduled_event_invitees_list__calendly_openapi_example.json": (
        page(Invitee),
        {
            "collection.0.first_name": "John",
            "collection.0.payment.provider": "stripe",
            "pagination.next_page_token": "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi",
        },
    ),
    "scheduled_event_invitees_list__calendlyr_docs_example.json": (
        page(Invitee),
        {"collection.0.uri": f"{API}/scheduled_events/abc123/invitees/abc123", "collection.0.payment.successful": True},
    ),
    "scheduled_event_invitees_list_page1__koshilife.json": (
        page(Invitee),
        {
            "collection.0.uri": f"{API}/scheduled_events/EV201/invitees/INV003",
            "collection.1.old_invitee": f"{API}/scheduled_events/EV201_OLD1/invitees/INV002",
            "collection.1.tracking.salesforce_uuid": "FOOBAR_SALESFORCE_UUID_2",
            "collection.1.routing_form_submission": None,
        },
    ),
    "scheduled_event_invitees_list_page2_last__koshilife.json": (
        page(Invitee),
        {"collection.0.uri": f"{API}/scheduled_events/EV201/invitees/INV001", "pagination.next_page": None},
    ),
    # --- no-shows
    "invitee_no_show_create_response__calendly_openapi_example.json": (
        resource(InviteeNoShow),
        {"uri": f"{API}/invitee_no_shows/639fa667-4c1b-4b20-93b5-1b1969d67dc6"},
    ),
    "invitee_no_show_get__calendlyr.json": (
        resource(InviteeNoShow),
        {"invitee": f"{API}/scheduled_events/GBGBDCAADAEDCRZ2/invitees/7c1dbe46-bd84-42e2-9b97-05e2fb379bfe"},
    ),
    "invitee_no_show_get__koshilife.json": (
        resource(InviteeNoShow),
        {
            "uri": f"{API}/invitee_no_shows/NO_SHOW001",
            "invitee": f"{API}/scheduled_events/EV001/invitees/INV001",
            "created_at": datetime(2022, 4, 13, 14, 28, 18, 123000, tzinfo=UTC),
        },
    ),
    # --- routing forms
    "routing_form_submission_get__calendly_openapi_example.json": (
        resource(RoutingFormSubmission),
        {
            "uri": f"{API}/routing_form_submissions/AAAAAAAAAAAAAAAA",
            "questions_and_answers.0.answer": "IT & Software",
            "result.type": "event_type",
            "result.value": f"{API}/event_types/GBGBDCAADAEDCRZ2",
            "submitter_type": "Invitee",
        },
    ),
    "routing_form_submission_get__calendlyr.json": (
        resource(RoutingFormSubmission),
        {"routing_form": f"{API}/routing_forms/AAAAAAAAAAAAAAAA", "tracking.utm_source": None},
    ),
    "routing_form_submission_get__koshilife.json": (
        resource(RoutingFormSubmission),
        {
            "uri": f"{API}/routing_form_submissions/SUBMISSION001",
            "questions_and_answers.1.question_uuid": "question-002",
            "submitter": f"{API}/scheduled_events/EV001/invitees/INV001",
            "tracking.utm_term": "FOOBAR_TERM",
        },
    ),
    # --- legacy v1 shape: kept only as a negative case
    "sample_webhook_data__legacy_v1_shape__calendlyr.json": (legacy_v1_rejected, {"event": "invitee.created"}),
    # --- webhook subscriptions
    "webhook_subscription_get__calendly_openapi_example.json": (
        resource(WebhookSubscription),
        {
            "uri": f"{API}/webhook_subscriptions/AAAAAAAAAAAAAAAA",
            "callback_url": "https://blah.foo/bar",
            "state": "active",
            "scope": "user",
            "creator": f"{API}/users/AAAAAAAAAAAAAAAA",
        },
    ),
    "webhook_subscription_get_org_scope__koshilife.json": (
        resource(WebhookSubscription),
        {
            "scope": "organization",
            "user": None,
            "events": ["invitee.created", "invitee.canceled", "routing_form_submission.created"],
            "organization": f"{API}/organizations/ORG001",
        },
    ),
    "webhook_subscription_get_user_scope__koshilife.json": (
        resource(WebhookSubscription),
        {
            "scope": "user",
            "user": f"{API}/users/U001",
            "retry_started_at": datetime(2020, 9, 17, 4, tzinfo=UTC),
        },
    ),
    "webhook_subscriptions_create_request_org_scope__calendly_openapi_example.json": (
        WebhookSubscriptionCreate.model_validate,
        {"scope": "organization", "user": None, "signing_key": "5mEzn9C-I28UtwOjZJtFoob0sAAFZ95GbZkqj4y3i0I"},
    ),
    "webhook_subscriptions_create_request_user_scope__calendly_openapi_example.json": (
        WebhookSubscriptionCreate.model_validate,
        {"scope": "user", "user": f"{API}/users/BBBBBBBBBBBBBBBB", "events": ["invitee.created", "invitee.canceled"]},
    ),
    "webhook_subscriptions_create_response__calendly_openapi_example.json": (
        resource(WebhookSubscription),
        {"uri": f"{API}/webhook_subscriptions/AAAAAAAAAAAAAAAA", "events": ["invitee.created"]},
    ),
    "webhook_subscriptions_create_response__calendlyr.json": (
        resource(WebhookSubscription),
        {"uri": f"{API}/webhook_subscriptions/abc123", "organization": f"{API}/organizations/abc123"},
    ),
    "webhook_subscriptions_list__calendly_openapi_example.json": (
        page(WebhookSubscription),
        {
            "collection.0.callback_url": "https://blah.foo/bar",
            "pagination.next_page_token": "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi",
        },
    ),
    "webhook_subscriptions_list__calendlyr.json": (
        page(WebhookSubscription),
        {"collection.0.uri": f"{API}/webhook_subscriptions/abc123", "pagination.previous_page": None},
    ),
    "webhook_subscriptions_list_page1__koshilife.json": (
        page(WebhookSubscription),
        {
            "collection.0.uri": f"{API}/webhook_subscriptions/ORG_WEBHOOK003",
            "collection.0.retry_started_at": None,
            "collection.1.uri": f"{API}/webhook_subscriptions/ORG_WEBHOOK002",
            "pagination.count": 2,
        },
    ),
    "webhook_subscriptions_list_page2_last__koshilife.json": (
        page(WebhookSubscription),
        {"collection.0.uri": f"{API}/webhook_subscriptions/ORG_WEBHOOK001", "pagination.next_page": None},
    ),
}


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _load(name: str) -> Any:
    return json.loads((API_FIXTURES / name).read_text(encoding="utf-8"))


FILES = sorted(path.name for path in API_FIXTURES.glob("*.json"))


def test_the_fixture_directory_is_found_and_every_mapping_names_a_real_file() -> None:
    # Given the fixture corpus in tests/fixtures/calendly
    # Then it is there, and no expectation points at a file that has gone
    assert FILES, f"no fixtures found in {API_FIXTURES}"
    assert sorted(set(EXPECTED) - set(FILES)) == []


@pytest.mark.parametrize("name", FILES)
def test_every_api_fixture_parses_with_its_model(name: str) -> None:
    # Given a fixture file (a new file without an entry in EXPECTED fails here)
    if name not in EXPECTED:
        pytest.fail(f"{name}: no model mapping; add it to EXPECTED in {Path(__file__).name}")
    parse, expected = EXPECTED[name]
    # When it is parsed with its model
    parsed = parse(_load(name))
    # Then its key fields hold the fixture's values
    assert expected, "check at least one field"
    for path, value in expected.items():
        assert _dig(parsed, path) == value, f"{name}: {path}"


def test_datetimes_are_utc_aware() -> None:
    # Given an invitee list whose timestamps end in Z
    page_ = Page[Invitee].model_validate(_load("scheduled_event_invitees_list_page1__koshilife.json"))
    # Then they parse as aware UTC datetimes
    created = page_.collection[0].created_at
    assert created is not None
    assert created.tzinfo is UTC


def test_the_rescheduled_pair_links_old_and_new_invitees() -> None:
    # Given the old half of a reschedule (canceled) and the new half (active, old_invitee set)
    old = Resource[Invitee].model_validate(_load("invitee_get_canceled_rescheduled__koshilife.json")).resource
    new = Page[Invitee].model_validate(_load("scheduled_event_invitees_list_page1__koshilife.json")).collection[1]
    # Then the old one points forward and the new one points back
    assert (old.status, old.rescheduled, old.new_invitee is not None) == ("canceled", True, True)
    assert (new.status, new.old_invitee) == ("active", f"{API}/scheduled_events/EV201_OLD1/invitees/INV002")


def test_secrets_are_masked_in_reprs_and_revealed_only_for_the_wire() -> None:
    # Given a token response and a webhook subscription request with a signing key
    token = OAuthToken.model_validate(_load("oauth_token_refresh_response__koshilife.json"))
    request = WebhookSubscriptionCreate.model_validate(
        _load("webhook_subscriptions_create_request_user_scope__calendly_openapi_example.json")
    )
    # Then neither repr nor str nor a default dump shows the secrets
    for text in (
        repr(token),
        str(token),
        repr(request),
        str(request),
        str(token.model_dump()),
        str(request.model_dump()),
    ):
        assert "NEW_TOKEN" not in text
        assert "NEW_REFRESH_TOKEN" not in text
        assert "5mEzn9C-I28UtwOjZJtFoob0sAAFZ95GbZkqj4y3i0I" not in text
    # And the request body for the wire carries the key
    assert request.to_json()["signing_key"] == "5mEzn9C-I28UtwOjZJtFoob0sAAFZ95GbZkqj4y3i0I"
    assert "group" not in request.to_json()


def test_models_ignore_unknown_fields_and_are_frozen() -> None:
    # Given a webhook subscription with a field Calendly might add tomorrow
    raw = _load("webhook_subscription_get__calendly_openapi_example.json")["resource"] | {"brand_new": 1}
    # When it is parsed
    subscription = WebhookSubscription.model_validate(raw)
    # Then the field is dropped and the model cannot be changed
    assert not hasattr(subscription, "brand_new")
    with pytest.raises(ValidationError):
        subscription.__setattr__("state", "disabled")


def test_pagination_fields_are_all_optional() -> None:
    # Given pagination from an old response, or none at all
    # Then both parse
    assert Pagination.model_validate({}).count is None
    assert Page[User].model_validate({"collection": []}).pagination.next_page is None


def test_an_invitee_without_uri_event_or_status_is_refused() -> None:
    # Given an invitee missing what identifies it
    raw = _load("invitee_get_active__calendly_openapi_example.json")["resource"]
    for key in ("uri", "event", "status"):
        # Then it does not validate
        with pytest.raises(ValidationError):
            Invitee.model_validate({k: v for k, v in raw.items() if k != key})
