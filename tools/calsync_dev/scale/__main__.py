"""`make scale`: N connections (default 10,000) over a simulated day; the last line is one JSON
object (docs/scale.md describes every key)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from calsync_dev.scale.sim import Config, Simulation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-scale", description=__doc__)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (default a day)")
    parser.add_argument("--concurrency", type=int, default=2, help="FanOutMaximumConcurrency per queue")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args(argv)
    config = Config(
        connections=args.connections,
        seconds=args.hours * 3600,
        concurrency=args.concurrency,
        seed=args.seed,
        progress=True,
    )
    started = time.monotonic()
    result = Simulation(config).run()
    print(
        f"scale: {args.connections:,} connections, {args.hours:g} simulated hours in "
        f"{time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
