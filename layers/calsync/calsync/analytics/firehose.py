"""The lake's Firehose data transformation: lifecycle events as EventBridge delivers them → lake
rows (``LakeRecord.as_row``), one JSON object per row, for the stream's Parquet conversion.

Firehose hands a batch of records (``recordId``, base64 ``data``) and wants every one back with a
result: ``Ok`` with its new data, ``Dropped`` (nothing to keep: a reminder) or ``ProcessingFailed``
(Firehose writes it to the bucket's error prefix, which is alarmed). A lifecycle event may land as
two rows (a reschedule): Firehose's JSON deserializer reads concatenated objects in one record
(``{"a":1}{"a":2}``, not an array), so both go in the one output record. Nothing here raises
for bad input: a record it cannot map is ``ProcessingFailed``, counted, never a crashed batch.
Pure: no AWS (the handler in functions/lake_transformer wires it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calsync.analytics.record import LAKE_KINDS, from_eventbridge
from calsync.lifecycle.events import DetailType

OK, DROPPED, FAILED = "Ok", "Dropped", "ProcessingFailed"


@dataclass
class Tally:
    """What one batch came to: records by result, and the lake rows written."""

    ok: int = 0
    dropped: int = 0
    failed: int = 0
    rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def transform(event: Mapping[str, Any]) -> tuple[dict[str, Any], Tally]:
    """Firehose's transformation event → its response (every ``recordId`` once) and the tally."""
    tally = Tally()
    out: list[dict[str, Any]] = []
    records = event.get("records")
    for record in records if isinstance(records, list) else []:
        record_id = record.get("recordId") if isinstance(record, Mapping) else None
        if not isinstance(record_id, str):
            tally.fail("no_record_id")  # nothing to answer for: Firehose gave no id
            continue
        result, data = _one(record.get("data"), tally)
        # Dropped and ProcessingFailed hand back the data as given (Firehose writes a failed record's
        # original data to the error prefix; a dropped one goes nowhere)
        answer = {"recordId": record_id, "result": result, "data": data if data is not None else record.get("data", "")}
        out.append(answer)
    return {"records": out}, tally


def _one(data: object, tally: Tally) -> tuple[str, str | None]:
    """One record's result and its new (base64) data (None: the data as given)."""
    try:
        envelope = json.loads(base64.b64decode(str(data), validate=True))
    except (binascii.Error, ValueError):  # not base64, not UTF-8, not JSON
        tally.fail("not_json")
        return FAILED, None
    if not isinstance(envelope, Mapping):
        tally.fail("not_an_event")
        return FAILED, None
    try:
        kind = DetailType(str(envelope.get("detail-type")))
    except ValueError:
        tally.fail("unknown_kind")
        return FAILED, None
    if kind not in LAKE_KINDS:  # reminders repeat a booking's state: not kept (docs/analytics.md)
        tally.dropped += 1
        return DROPPED, None
    try:
        rows = [row.as_row() for row in from_eventbridge(envelope)]
    except (ValueError, TypeError):  # a detail the record model refuses (pydantic's errors are ValueErrors)
        tally.fail("unmappable")
        return FAILED, None
    if not rows:  # a lake kind without a time or an event id
        tally.fail("incomplete")
        return FAILED, None
    tally.ok += 1
    tally.rows += len(rows)
    text = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
    return OK, base64.b64encode(text.encode()).decode()
