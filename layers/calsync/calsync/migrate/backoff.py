"""Waiting out throttling: a migration reads and writes as fast as the table lets it, and when
AWS still refuses the rate after the SDK's own retries (``Throttled``) it waits longer and
tries the same call again, so a run on a provisioned table slows down instead of failing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from calsync.errors import Throttled


@dataclass(frozen=True, slots=True)
class Backoff:
    """Up to ``attempts`` tries of one call; before each retry a wait of ``base × 2**n`` seconds
    (capped at ``cap``) times a random factor in [0.5, 1] (``jitter``), so parallel segments
    throttled together do not retry together. ``sleep`` and ``jitter`` are injected in tests."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0))  # noqa: S311 - not a secret

    def call[R](self, call: Callable[[], R], *, throttled: Callable[[], None] = lambda: None) -> R:
        """``call()``, retried after a wait while it is ``Throttled``; the last refusal propagates."""
        for attempt in range(self.attempts - 1):
            try:
                return call()
            except Throttled:
                throttled()
                self.sleep(min(self.cap, self.base * 2**attempt) * self.jitter())
        return call()
