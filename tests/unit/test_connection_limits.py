"""The refresher's time budget against the template, the functions' secret permissions, and the
PKCE verifier derivation (issue 9, items 4 and 19)."""

from __future__ import annotations

import re
from typing import Any

from calsync.connections.connect import pkce_challenge, pkce_verifier
from calsync.connections.refresh import LEASE_SECONDS, REFRESH_WORST_CASE_SECONDS, TOKEN_CALL
from calsync_dev.template import load


def _functions() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in load()["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def _actions(function: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            action = statement.get("Action", [])
            found.update([action] if isinstance(action, str) else action)
    return found


def test_one_refresh_fits_the_timeout_and_the_lease_outlives_the_function() -> None:
    # Given the refresher as deployed
    timeout = _functions()["TokenRefresherFunction"]["Properties"]["Timeout"]
    # Then a refresh's worst case (token call, every write attempt, registry) < Timeout < lease
    assert REFRESH_WORST_CASE_SECONDS < timeout < LEASE_SECONDS
    # And the token call alone is bounded well inside it
    assert TOKEN_CALL.worst_case < REFRESH_WORST_CASE_SECONDS / 2


def test_only_the_disconnect_may_delete_a_secret() -> None:
    # A failed connect never deletes (credentials are staged), so no function needs DeleteSecret
    # but the disconnect, which deletes a connection's token and signing-key secrets on purpose
    holders = [name for name, function in _functions().items() if "secretsmanager:DeleteSecret" in _actions(function)]
    assert holders == ["DisconnectApiFunction"]


def test_the_pkce_verifier_is_derived_from_the_state_under_the_client_secret() -> None:
    verifier = pkce_verifier("client-secret-1", "state-abc")
    # RFC 7636: 43-128 characters of [A-Za-z0-9-._~]
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    # The same inputs give the same verifier; another state or another secret another one
    assert pkce_verifier("client-secret-1", "state-abc") == verifier
    assert pkce_verifier("client-secret-1", "state-abd") != verifier
    assert pkce_verifier("client-secret-2", "state-abc") != verifier
    # The challenge is S256 (RFC 7636 appendix B's example)
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
