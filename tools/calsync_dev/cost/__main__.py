"""`make cost`: the mix through the pipeline, then $ per 1M deliveries by service and the idle
month, and $ per 1M API reads; the last line is one JSON object of every figure."""

from __future__ import annotations

import argparse
import json
import sys

from calsync_dev.cost.report import figures, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calsync-cost", description=__doc__)
    parser.parse_args(argv)
    from calsync_dev.cost.connections import connection_figures, connection_table, measured
    from calsync_dev.cost.mix import measure
    from calsync_dev.cost.reads import read_figures, read_table

    run = measure()
    result = figures(run)
    result["reads"] = read_figures(run.template)
    print(table(result))
    print(read_table(result["reads"]))
    result["connections"] = connection_figures(measured())
    print(connection_table(result["connections"]))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
