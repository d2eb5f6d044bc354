"""The analytics lake's share of `make cost`: the lifecycle events the lake rule matches, as
EventBridge hands them to the Firehose stream, and what Firehose, the transformer and S3 bill.

Firehose bills ingestion (Direct PUT) and Parquet format conversion per GB, each record rounded
up to the next 5 KB: a 2 KB event is billed as 5 KB. The transformer runs in the mix through the
meter like every other function (one record a batch: at booking volumes Firehose's 60-second
buffer holds a handful of events, so this is the upper bound). S3: Firehose writes one object per
buffer (15 minutes, or 128 MB) while events arrive."""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from calsync.analytics.record import LAKE_KINDS

FIREHOSE_RECORD_ROUNDING = 5 * 1024
LAKE_FUNCTION = "LakeTransformerFunction"
_KINDS = {kind.value for kind in LAKE_KINDS}


def lake_envelopes(calls: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[bytes]:
    """Every PutEvents entry the lake rule matches, as the event EventBridge puts on the stream
    (the rule's target receives the whole event: version, id, account, time, region, resources)."""
    found = []
    for service, operation, params in calls:
        if (service, operation) != ("events", "PutEvents"):
            continue
        for entry in params.get("Entries", []):
            if entry.get("Source") != "calsync" or entry.get("DetailType") not in _KINDS:
                continue
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": "123456789012",
                "time": "2026-11-20T09:00:05Z",
                "region": "us-east-1",
                "resources": list(entry.get("Resources", [])),
                "detail": json.loads(entry["Detail"]),
            }
            found.append(json.dumps(event, separators=(",", ":")).encode())
    return found


def firehose_event(records: Iterable[bytes]) -> dict[str, Any]:
    """Firehose's data-transformation event for these records."""
    return {
        "invocationId": str(uuid.uuid4()),
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/calsync-cost-lake",
        "region": "us-east-1",
        "records": [
            {"recordId": str(i), "approximateArrivalTimestamp": 1763629205000, "data": base64.b64encode(r).decode()}
            for i, r in enumerate(records)
        ],
    }


def billed_bytes(sizes: Iterable[int]) -> int:
    """Firehose's billed volume: each record rounded up to the next 5 KB."""
    return sum(max(1, math.ceil(size / FIREHOSE_RECORD_ROUNDING)) * FIREHOSE_RECORD_ROUNDING for size in sizes)


def lake_rows(records: Iterable[bytes]) -> int:
    """The lake rows these events become (a reschedule is two)."""
    from calsync.analytics.record import from_eventbridge

    return sum(len(from_eventbridge(json.loads(record))) for record in records)
