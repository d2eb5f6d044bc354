"""CloudWatch Logs volume: what the delivery path writes per delivery at INFO (issue 12: ≤ 600 bytes)."""

from __future__ import annotations

import json
import os

import pytest

from calsync.observability import logger
from calsync_dev import logbytes


@pytest.fixture(autouse=True)
def _environment_restored() -> object:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("batch", [1, 10])
def test_a_delivery_costs_at_most_600_bytes_of_logs_across_receiver_processor_and_publisher(batch: int) -> None:
    # Given the template's logging settings and ten distinct invitee.created deliveries, after
    # another function ran in this process (its Lambda context keys left on the shared logger)
    logger.append_keys(function_name="TokenRefresherFunction", cold_start=True, correlation_id="stale")
    # When they go through the receiver, the processor and the lifecycle publisher, `batch` at a time
    figures = logbytes.measure(10, batch)
    # Then every function together wrote at most 600 bytes per delivery (platform lines included)
    assert figures["per_delivery"] <= 600, json.dumps(figures)
    assert all(figures[f]["application_bytes"] > 0 for f in logbytes.FUNCTIONS), "nothing was captured"
    # and Lambda's own START/END/REPORT lines are not among them
    assert all(figures[f]["platform_bytes"] == 0 for f in logbytes.FUNCTIONS)


def test_each_function_writes_one_compact_info_line_per_invocation_with_its_correlation_ids() -> None:
    # Given one delivery sent through the whole path
    lines = logbytes.lines(1)
    # Then the receiver, the processor and the publisher each wrote one JSON line
    assert sorted(lines) == sorted(logbytes.FUNCTIONS)
    receiver, processor, publisher = (lines[f] for f in ("receiver", "processor", "publisher"))
    assert [len(receiver), len(processor), len(publisher)] == [1, 1, 1]
    # carrying what links them: the API request id, the queue message ids, the lifecycle event ids
    assert receiver[0]["correlation_id"]
    assert receiver[0]["event"] == "invitee.created"
    assert len(processor[0]["message_ids"]) == 1
    assert processor[0]["applied"] == 1
    assert len(publisher[0]["event_ids"]) == 1
    assert publisher[0]["events"] == 1
    # and no payload: no invitee e-mail or name
    text = json.dumps(lines)
    assert "@example.com" not in text
