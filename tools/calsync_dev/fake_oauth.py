"""The fake Calendly's OAuth endpoints (``calsync_dev.fake_calendly``): ``POST /oauth/token`` and
``POST /oauth/revoke``, as Calendly documents them."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from calsync_dev.fake_calendly import FakeCalendly


def token(fake: FakeCalendly, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    """``POST /oauth/token``: the authorization-code grant (PKCE checked when the authorization
    asked for it) and the single-use refresh-token grant, behind the client's Basic auth."""
    expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    if headers.get("authorization") != f"Basic {expected}":
        return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
    form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    grant = form.get("grant_type")
    if grant == "authorization_code":
        challenge = fake.codes.pop(form.get("code", ""), "missing")
        if challenge == "missing":
            return 400, {"error": "invalid_grant", "error_description": "The authorization code is invalid."}
        verifier = form.get("code_verifier", "")
        if verifier:
            fake.code_verifiers.append(verifier)
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge is not None and expected != challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed."}
        return 200, fake.issue_tokens()
    if grant == "refresh_token":
        token = form.get("refresh_token", "")
        fake.refresh_uses[token] = fake.refresh_uses.get(token, 0) + 1
        if not fake.refresh_tokens.get(token):
            return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid."}
        fake.refresh_tokens[token] = False  # single use
        return 200, fake.issue_tokens()
    return 400, {"error": "unsupported_grant_type", "error_description": "grant_type"}


def revoke(fake: FakeCalendly, body: bytes) -> tuple[int, Any]:
    """``POST /oauth/revoke`` (form: client_id, client_secret, token): the token stops working;
    one it does not know (revoked, expired, never issued) is 400 invalid_request."""
    form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    if (form.get("client_id"), form.get("client_secret")) != (fake.client_id, fake.client_secret):
        return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
    token = form.get("token", "")
    fake.revoked.append(token)
    if fake.access_tokens.pop(token, None) is not None:
        return 200, {}
    if fake.refresh_tokens.get(token):
        fake.refresh_tokens[token] = False
        return 200, {}
    return 400, {"error": "invalid_request", "error_description": "The token is invalid."}
