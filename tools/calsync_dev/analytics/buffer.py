"""The local stack's lake writer: lifecycle events in, Parquet files out, buffered like Firehose.

Each event is turned into lake records (``calsync.analytics.record.from_eventbridge``, the same
mapping the AWS lake uses) and held; the held records are written as one Parquet file per date
(``calsync_dev.analytics.lake.write_records``) once ``max_records`` are held or ``max_seconds``
have passed since the first of them (``due``, asked by the owner's loop), and at stop: a few files per minute under
load, never one per event. A failed write keeps the records for the next flush.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from calsync.analytics.record import LakeRecord, from_eventbridge

DEFAULT_MAX_RECORDS = 1000
DEFAULT_MAX_SECONDS = 5.0


def _write_parquet(records: Iterable[LakeRecord], directory: Path) -> list[Path]:
    from calsync_dev.analytics.lake import write_records  # pyarrow and duckdb: only once something is written

    return write_records(records, directory)


class LakeBuffer:
    def __init__(
        self,
        directory: Path,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[Iterable[LakeRecord], Path], list[Path]] = _write_parquet,
    ) -> None:
        self.directory = directory
        self.max_records = max(1, max_records)
        self.max_seconds = max_seconds
        self._clock = clock
        self._write = write
        self._held: list[LakeRecord] = []
        self._since: float | None = None  # when the first held record came
        self._lock = threading.Lock()
        self.written = 0  # records written so far

    @property
    def held(self) -> int:
        return len(self._held)

    def add(self, envelope: Mapping[str, Any]) -> int:
        """Hold the records of one lifecycle event as EventBridge delivers it (how many; a
        reminder has none). The owner's loop writes them when ``due``."""
        records = from_eventbridge(envelope)
        if records:
            with self._lock:
                if not self._held:
                    self._since = self._clock()
                self._held.extend(records)
        return len(records)

    def due(self) -> bool:
        """Whether the held records have waited ``max_seconds`` (or fill the buffer)."""
        with self._lock:
            if not self._held or self._since is None:
                return False
            return len(self._held) >= self.max_records or self._clock() - self._since >= self.max_seconds

    def flush(self) -> list[Path]:
        """Write what is held (one file per date); kept for the next flush if writing fails."""
        with self._lock:
            held, self._held, self._since = self._held, [], None
            if not held:
                return []
            try:
                paths = self._write(held, self.directory)
            except BaseException:
                self._held, self._since = held + self._held, self._clock()
                raise
            self.written += len(held)
            return paths
