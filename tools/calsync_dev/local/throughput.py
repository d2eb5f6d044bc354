"""``make throughput``: the local stack's throughput and the AWS calls it makes per delivery.

Starts a local stack of its own (free ports, no saved state), resets the emulator's call
counter, runs ``calsync load --count N --concurrency C`` (its own output: accepted/s and
persisted/s), waits for the lifecycle publisher to settle (no new call for a few seconds),
then prints the emulator's calls per delivery and its CPU milliseconds per delivery by
operation — figures that do not depend on the machine's load — with the load average (the
machine may be shared). Last line: one JSON object of every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from calsync_dev.local.faults import CALLS_PATH


def calls(endpoint: str, *, reset: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(f"{endpoint}{CALLS_PATH}?cpu=1", method="DELETE" if reset else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the emulator on loopback
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def settle(endpoint: str, *, quiet_seconds: float = 10, max_seconds: float = 300) -> dict[str, Any]:
    """The call counts once nothing but the pollers' own calls has moved for ``quiet_seconds``."""
    work = ("DynamoDB_20120810.PutItem", "DynamoDB_20120810.UpdateItem", "AWSEvents.PutEvents", "POST /schedules")
    deadline, last, still_since = time.monotonic() + max_seconds, None, time.monotonic()
    while time.monotonic() < deadline:
        seen = calls(endpoint)
        now = tuple(seen["calls"].get(name, 0) for name in work)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_seconds:
            return seen
        time.sleep(0.5)
    return calls(endpoint)


def table(seen: dict[str, Any], deliveries: int) -> list[str]:
    cpu = seen.get("cpu_ms", {})
    rows = sorted(seen["calls"].items(), key=lambda item: -cpu.get(item[0], 0.0))
    lines = [f"{'AWS call':<46}{'per delivery':>13}{'emulator CPU ms/delivery':>26}", "-" * 85]
    for name, count in rows:
        lines.append(f"{name:<46}{count / deliveries:>13.2f}{cpu.get(name, 0.0) / deliveries:>26.2f}")
    total_cpu = sum(cpu.values())
    lines.append(f"{'total':<46}{seen['total'] / deliveries:>13.2f}{total_cpu / deliveries:>26.2f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--wait", type=float, default=900, help="seconds load waits for persistence")
    args = parser.parse_args(argv)
    from calsync_dev.soak import own_stack

    stack = own_stack()
    env = next(stack)
    endpoint = f"http://127.0.0.1:{env['CALSYNC_EMULATOR_PORT']}"
    try:
        calls(endpoint, reset=True)
        before = os.getloadavg()
        command = ["load", "--quiet", "--count", str(args.count), "--concurrency", str(args.concurrency)]
        load = subprocess.run(
            [sys.executable, "-m", "calsync_dev.cli", *command, "--wait", str(args.wait)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        after = os.getloadavg()
        print(load.stdout.strip(), flush=True)
        if load.returncode:
            print(load.stderr.strip(), file=sys.stderr)
        seen = settle(endpoint)
    finally:
        stack.close()
    print("\n".join(table(seen, args.count)))
    print(f"load average (1 min) {before[0]:.1f} before, {after[0]:.1f} after; {os.cpu_count()} cores")
    figures = {
        "count": args.count,
        "concurrency": args.concurrency,
        "load_output": load.stdout.strip().splitlines(),
        "calls_per_delivery": round(seen["total"] / args.count, 2),
        "emulator_cpu_ms_per_delivery": round(sum(seen.get("cpu_ms", {}).values()) / args.count, 2),
        "calls": seen["calls"],
        "cpu_ms": seen.get("cpu_ms", {}),
        "loadavg_before": before,
        "loadavg_after": after,
    }
    print(json.dumps(figures))
    return load.returncode


if __name__ == "__main__":
    sys.exit(main())
