"""Signature header parsing and verification (no AWS)."""

from __future__ import annotations

import pytest

from calsync.intake import signature
from calsync.intake.signature import SignatureError, SignatureFailure

BODY = b'{"event":"invitee.created"}'
KEY = b"key-current"


def test_a_header_signed_with_the_key_verifies() -> None:
    # Given a header signed with the key over t.body
    parsed = signature.parse_header(signature.sign_header(KEY, BODY, 1_700_000_000))
    # Then it matches that body and key, and no other body or key
    assert signature.matches(parsed, BODY, [KEY])
    assert not signature.matches(parsed, BODY + b" ", [KEY])
    assert not signature.matches(parsed, BODY, [b"another-key"])


def test_any_of_several_v1_values_and_any_of_several_keys_may_match() -> None:
    good = signature.compute_signature(b"key-previous", 1_700_000_000, BODY).hex()
    header = f"t=1700000000,v1={'ab' * 32},v1={good}"
    parsed = signature.parse_header(header)
    assert signature.matches(parsed, BODY, [KEY, b"key-previous"])
    assert not signature.matches(parsed, BODY, [KEY])


def test_the_signed_string_is_timestamp_dot_raw_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature.sign_header(KEY, BODY, 1_700_000_000) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    ("header", "failure"),
    [
        (None, SignatureFailure.MISSING),
        ("", SignatureFailure.MISSING),
        ("garbage", SignatureFailure.MALFORMED),
        ("t=abc,v1=" + "00" * 32, SignatureFailure.MALFORMED),
        ("t=-5,v1=" + "00" * 32, SignatureFailure.MALFORMED),
        ("v1=" + "00" * 32, SignatureFailure.MALFORMED),
        ("t=1700000000", SignatureFailure.MALFORMED),
        ("t=1700000000,v1=zz", SignatureFailure.MALFORMED),
        ("t=1700000000,v1=abcd", SignatureFailure.MALFORMED),
        ("t=1,t=2,v1=" + "00" * 32, SignatureFailure.MALFORMED),
        ("t=1700000000,v1=" + "00" * 32 + ",x" * 600, SignatureFailure.MALFORMED),
    ],
)
def test_missing_or_garbled_headers_are_refused_with_a_reason(header: str | None, failure: SignatureFailure) -> None:
    with pytest.raises(SignatureError) as caught:
        signature.parse_header(header)
    assert caught.value.failure is failure


def test_unknown_schemes_are_ignored_beside_v1() -> None:
    header = signature.sign_header(KEY, BODY, 1_700_000_000) + ",v0=deadbeef"
    assert signature.matches(signature.parse_header(header), BODY, [KEY])


@pytest.mark.parametrize("skew", [-181, 181, -10_000, 10_000])
def test_timestamps_outside_the_tolerance_are_stale_both_ways(skew: int) -> None:
    parsed = signature.parse_header(signature.sign_header(KEY, BODY, 1_700_000_000))
    with pytest.raises(SignatureError) as caught:
        signature.check_timestamp(parsed, now=1_700_000_000 - skew, tolerance_seconds=180)
    assert caught.value.failure is SignatureFailure.STALE


@pytest.mark.parametrize("skew", [-180, 0, 180])
def test_timestamps_within_the_tolerance_pass(skew: int) -> None:
    parsed = signature.parse_header(signature.sign_header(KEY, BODY, 1_700_000_000))
    signature.check_timestamp(parsed, now=1_700_000_000 + skew, tolerance_seconds=180)
