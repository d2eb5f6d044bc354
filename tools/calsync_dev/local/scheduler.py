"""The template's schedules: scheduled functions invoked at their rate, and on demand."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from calsync_dev.functions import FunctionError, FunctionPool
from calsync_dev.local.config import REGION
from calsync_dev.provision import FunctionSpec


def parse_rate(expression: str) -> float:
    """Seconds between runs for ``rate(N unit)``."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"unsupported schedule expression {expression!r} (only rate(...) runs locally)")
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


def schedules(functions: Mapping[str, FunctionSpec]) -> Iterator[tuple[str, float]]:
    """(function, seconds between runs) for every schedule event in the template."""
    for name, spec in functions.items():
        for event in spec.events.values():
            if event.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            props = event["Properties"]
            yield name, parse_rate(props.get("Schedule") or props.get("ScheduleExpression", ""))


def scheduled_event(name: str) -> dict[str, Any]:
    """The event EventBridge sends a scheduled function."""
    return {
        "version": "0",
        "id": str(time.time_ns()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/{name}"],
        "detail": {},
    }


class Scheduler:
    """Runs each scheduled function at its rate until stopped; ``run`` runs one now."""

    def __init__(self, pools: Mapping[str, FunctionPool], out: Callable[[str], None]) -> None:
        self.pools = pools
        self.out = out
        self._stopped = threading.Event()

    def every(self, name: str, seconds: float) -> None:
        """Loop (in a thread of its own) until ``stop``."""
        while not self._stopped.wait(seconds):
            self.run(name)

    def run(self, name: str) -> Any:
        try:
            return self.pools[name].invoke(scheduled_event(name))
        except FunctionError as exc:
            self.out(f"{name}: scheduled run failed: {exc}")
            return None

    def stop(self) -> None:
        self._stopped.set()
