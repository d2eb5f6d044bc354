"""On ``PYTHONPATH`` only for ``make timetravel``: keeps ``time.sleep`` working under faketime.

libfaketime 0.9.10 (Debian's) with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` moves the absolute deadline
of ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` by the fake offset although that clock is
not faked, and the call fails with EINVAL; Python 3.13's ``time.sleep`` waits that way. When a
probe shows it failing, sleeps wait in ``select`` instead (a relative timeout, left alone).
Nothing else changes: the wall clock stays faked, the monotonic clock real.
"""

from __future__ import annotations

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


try:
    time.sleep(0.000_001)
except OSError:
    time.sleep = _sleep
