"""A small soak (`make soak` runs the long one): mixed kinds, duplicates and reordering at a
bounded rate; nothing accepted is lost and nothing is applied twice."""

from __future__ import annotations

import pytest

from calsync_dev.cli.target import Target
from calsync_dev.soak import soak
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_a_small_soak_loses_nothing_and_applies_nothing_twice(local_stack: RunningStack, target: Target) -> None:
    # Given 200 signed deliveries of every kind, some twice, shuffled
    # When they are sent at <= 40/s
    result = soak(local_stack.webhook_url, target, count=200, rate=40, max_seconds=300, seed=7, out=lambda _: None)
    # Then all are accepted and processed, none lost, none applied twice
    print("\n" + result.summary())
    assert result.sent.accepted_count == 200
    assert result.drained
    assert result.verdict.lost == []
    assert result.verdict.double_applied == []
    assert result.verdict.archived == len(result.sent.accepted)
