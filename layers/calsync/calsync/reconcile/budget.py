"""A run's budget: API calls (every HTTP request, retries included) and time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


class OutOfBudget(Exception):
    """The run must stop here (``reason``: ``api calls`` or ``time``); nothing was sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"out of budget: {reason}")
        self.reason = reason


@dataclass
class Budget:
    """``spend`` before every request; ``sleep`` for a wait (a 429's ``X-RateLimit-Reset``)
    that must end before the deadline. ``deadline`` is on ``clock``'s scale."""

    max_calls: int
    deadline: float
    clock: Callable[[], float] = time.monotonic
    wait: Callable[[float], None] = time.sleep
    calls: int = field(default=0)

    def spend(self) -> None:
        if self.calls >= self.max_calls:
            raise OutOfBudget("api calls")
        if self.clock() >= self.deadline:
            raise OutOfBudget("time")
        self.calls += 1

    def sleep(self, seconds: float) -> None:
        if self.clock() + seconds >= self.deadline:
            raise OutOfBudget("time")
        self.wait(seconds)

    @classmethod
    def for_run(
        cls,
        max_calls: int,
        seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], None] = time.sleep,
    ) -> Budget:
        return cls(max_calls=max_calls, deadline=clock() + seconds, clock=clock, wait=wait)
