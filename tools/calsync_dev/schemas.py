"""Write the lifecycle events' JSON Schemas (``make schemas``) from ``calsync.lifecycle.schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from calsync.lifecycle.events import SCHEMA_VERSION, DetailType
from calsync.lifecycle.schema import json_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "lifecycle"


def schema_path(detail_type: DetailType) -> Path:
    return SCHEMAS / f"{detail_type.slug}.v{SCHEMA_VERSION}.json"


def render(detail_type: DetailType) -> str:
    return json.dumps(json_schema(detail_type), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for detail_type in DetailType:
        schema_path(detail_type).write_text(render(detail_type))
        print(f"wrote {schema_path(detail_type).relative_to(SCHEMAS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
