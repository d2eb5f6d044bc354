"""The emulator's hot spots, made cheap without changing what it answers (local stack only).

Profiling the moto server under ``calsync load`` (``CALSYNC_EMULATOR_PROFILE``) showed two costs
that have nothing to do with the AWS semantics it emulates:

- every request lists moto's package folder and stats each of its ~200 entries
  (``backends.list_of_moto_modules``, asked by the dispatcher for each request's host): the
  folder does not change while the server runs, so it is read once;
- SQS decides each message's visibility by building ``datetime`` objects (``unix_time_millis``:
  five calls and two datetimes per message, per scan of the queue — every receive and every
  depth question scans it): the same number, from ``time.time()``.
"""

from __future__ import annotations

import time
from typing import Any


def _unix_time(dt: Any = None, *, original: Any) -> float:
    return time.time() if dt is None else float(original(dt))


def apply() -> None:
    """Patch the running moto (call before the server starts)."""
    from moto import backends
    from moto.sqs import models as sqs

    modules = tuple(backends.list_of_moto_modules())
    original_unix_time = getattr(sqs, "unix_time")  # noqa: B009 - moto does not export it

    def unix_time(dt: Any = None) -> float:
        return _unix_time(dt, original=original_unix_time)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(backends, "list_of_moto_modules", lambda: modules)  # noqa: B010 - patching a module
    setattr(sqs, "unix_time", unix_time)  # noqa: B010
    setattr(sqs, "unix_time_millis", unix_time_millis)  # noqa: B010
