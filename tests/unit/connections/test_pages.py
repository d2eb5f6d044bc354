"""The pages a customer sees when connecting: one per outcome, each with a heading, what
happened and what to do next; self-contained (no script, no external asset), every text
escaped, and a Content-Security-Policy that allows only the page's own stylesheet."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from calsync.connections import pages
from calsync.connections.callback import CallbackOutcome, answer, page
from calsync.connections.records import PendingAuthorization

REASONS = [*pages.GUIDES, "something_new"]


@pytest.mark.parametrize("reason", REASONS)
def test_each_outcome_has_its_own_heading_message_and_next_step(reason: str) -> None:
    status = 200 if reason == "connected" else 400
    body = page(status, pages.heading(reason), "What happened.", reason, wants_json=False)["body"]
    heading, next_step = pages.GUIDES.get(reason, pages.FALLBACK)
    assert f"<h1>{heading}</h1>" in body.replace("&#x27;", "'")
    assert "What happened." in body
    assert next_step.replace("'", "&#x27;") in body
    assert f"<code>{reason}</code>" in body
    # failures look like failures, success like success (colour and ARIA role)
    assert ("class='ok' role='status'" in body) == (status == 200)
    assert ("class='failed' role='alert'" in body) == (status != 200)


def test_every_heading_is_distinct_so_a_customer_can_tell_failures_apart() -> None:
    headings = [heading for heading, _ in pages.GUIDES.values()] + [pages.FALLBACK[0]]
    assert len(set(headings)) == len(headings)


def test_nothing_outside_the_page_is_loaded_and_nothing_runs() -> None:
    body = pages.render(400, "t", "m", "r")
    assert "<script" not in body.lower()
    assert not re.search(r"(src|href)\s*=", body, re.I)
    assert "url(" not in body
    assert "@import" not in body


def test_the_policy_allows_exactly_the_page_s_stylesheet() -> None:
    response = page(200, "Connected", "ok", "connected", wants_json=False)
    policy = response["headers"]["Content-Security-Policy"]
    digest = base64.b64encode(hashlib.sha256(pages.CSS.encode()).digest()).decode()
    assert policy.startswith("default-src 'none'; ")
    assert f"style-src 'sha256-{digest}'" in policy
    assert "frame-ancestors 'none'" in policy
    assert f"<style>{pages.CSS}</style>" in response["body"]
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"
    assert response["headers"]["Referrer-Policy"] == "no-referrer"
    assert response["headers"]["Cache-Control"] == "no-store"


def test_hostile_text_is_escaped_everywhere() -> None:
    hostile = "<script>alert(1)</script>\"'&"
    body = pages.render(400, hostile, hostile, hostile)
    assert "<script>" not in body
    assert body.count("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;") == 4  # title, h1, message, code


def test_with_return_to_the_customer_is_sent_back_instead_of_shown_a_page() -> None:
    pending = PendingAuthorization("st", "acme", "https://api/cb", 1, "https://app.example.com/x?y=1")
    sent = answer(CallbackOutcome(400, "access_denied", "no", pending), wants_json=False)
    assert sent["statusCode"] == 303
    assert (
        sent["headers"]["Location"]
        == "https://app.example.com/x?y=1&connection_id=acme&status=failed&reason=access_denied"
    )
    assert sent["headers"]["Referrer-Policy"] == "no-referrer"
    # without one, the page
    shown = answer(CallbackOutcome(200, "connected", "ok", PendingAuthorization("s", "a", "r", 1)), wants_json=False)
    assert shown["statusCode"] == 200
    assert "Connected to Calendly" in shown["body"]
