"""How long one Calendly call may take, retries included (pure: no httpx, so the composition
root can name limits without importing the HTTP clients).

The clients (``calendly.http.Retrier``) retry a network error or a 5xx ``max_retries`` times,
after an equal-jitter back-off of at most ``0.5 × 2**n`` s (capped at 8 s), and a 429 as many
times again, each waiting at most ``max_rate_limit_wait``. Every attempt may spend the connect
timeout, then the read timeout sending (httpx's write timeout) and again answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BACKOFF_BASE = 0.5  # calendly.http's back-off (kept equal by a unit test)
BACKOFF_CAP = 8.0


@dataclass(frozen=True, slots=True)
class CallLimits:
    connect_seconds: float
    read_seconds: float  # also the write and pool timeouts
    max_retries: int
    max_rate_limit_wait: float

    @property
    def worst_case_seconds(self) -> float:
        attempts = 1 + 2 * self.max_retries
        backoff = sum(min(BACKOFF_CAP, BACKOFF_BASE * 2.0**n) for n in range(self.max_retries))
        waits = self.max_retries * self.max_rate_limit_wait
        return attempts * (self.connect_seconds + 2 * self.read_seconds) + backoff + waits

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``CalendlyClient`` and ``OAuthClient``."""
        return {
            "timeout": self.read_seconds,
            "connect_timeout": self.connect_seconds,
            "max_retries": self.max_retries,
            "max_rate_limit_wait": self.max_rate_limit_wait,
        }


# The OAuth callback (30 s), the watchdog (120 s; per call, so one connection's hung call leaves
# time for the others) and the CLI: 3 attempts × (2 s + 2 × 3 s) + 0.5 s + 2 s = 26.5 s.
INTERACTIVE = CallLimits(connect_seconds=2.0, read_seconds=3.0, max_retries=1, max_rate_limit_wait=2.0)
# The reconciler (900 s): the clients' defaults (9 × 35 s + 7.5 s + 4 × 60 s ≈ 563 s at most); its
# budget's deadline stops it sooner (rate-limit waits sleep through the budget).
RECONCILE = CallLimits(connect_seconds=5.0, read_seconds=15.0, max_retries=4, max_rate_limit_wait=60.0)
