"""The local emulator's speed-ups change how fast moto answers, never what it answers."""

from __future__ import annotations

import time

import pytest

from calsync_dev.local import speedups


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.sqs import models as sqs

    for module, name in ((backends, "list_of_moto_modules"), (sqs, "unix_time"), (sqs, "unix_time_millis")):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored after the test
    speedups.apply()


def test_the_patched_clock_reads_what_moto_s_own_clock_reads(patched: None) -> None:
    from moto.core import utils
    from moto.sqs import models as sqs

    # Given moto's SQS clock patched, When it is read next to moto's own
    before = utils.unix_time_millis()
    fast = sqs.unix_time_millis()
    after = utils.unix_time_millis()
    # Then it reads the same time (to the millisecond), and a given time is converted as before
    assert before - 1 <= fast <= after + 1
    moment = utils.utcnow()
    assert sqs.unix_time(moment) == utils.unix_time(moment)
    assert abs(sqs.unix_time() - time.time()) < 0.01


def test_the_dispatcher_sees_the_same_backends_read_once(patched: None) -> None:
    from moto import backends

    # Given the module list read once, Then it is moto's list of service folders
    listed = list(backends.list_of_moto_modules())
    assert "sqs" in listed
    assert "dynamodb" in listed
    assert listed == list(backends.list_of_moto_modules())
