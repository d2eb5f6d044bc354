"""``Idempotency-Key``: one result per key and connection, for a day.

The first request with a key claims it (a conditional put); the action runs; its answer is kept
(the status and the booking's ids, or a lasting refusal's body: never personal data, the booking
itself stays where erasure finds it). A replay (same key, same request) answers the kept result;
the same key with another request is a 422. A request that found Calendly busy or down (429,
503) releases its key, so a retry with it runs again. A claim whose request died mid-way (its
Lambda timed out) may be taken over once its lease has passed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from calsync.actions.requests import ActionRefused, Answer, canonical

KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
TTL_SECONDS = 24 * 3600
LEASE_SECONDS = 60  # longer than the function's timeout: a live request is never taken over


@dataclass(frozen=True, slots=True)
class Kept:
    """A key already claimed: the request it was claimed for, and its answer once known."""

    fingerprint: str
    status: int | None = None  # None: still running
    booking: tuple[str, str] | None = None
    body: Mapping[str, Any] | None = None


class IdempotencyStore(Protocol):
    def claim(self, connection_id: str, key: str, fingerprint: str, *, now: int) -> Kept | None:
        """Claim the key (``None``), or what it holds; a running claim older than its lease is
        taken over (``None``). Raises ``DependencyUnavailable``."""
        ...

    def keep(self, connection_id: str, key: str, answer: Answer, *, now: int) -> None: ...

    def release(self, connection_id: str, key: str) -> None: ...


def fingerprint(action: str, target: str, body: object) -> str:
    """What makes two requests the same: the action, what it acts on and the validated body."""
    return hashlib.sha256(canonical({"action": action, "target": target, "body": body}).encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is not None and not KEY.fullmatch(key):
        raise ActionRefused(
            400, "bad_request", "Idempotency-Key must be 1-255 printable characters", parameter="Idempotency-Key"
        )
    return key


Commit = Callable[[Answer], None]


def once(
    store: IdempotencyStore,
    connection_id: str,
    key: str | None,
    print_: str,
    run: Callable[[Commit], Answer],
    *,
    now: int,
) -> Answer:
    """``run(commit)`` at most once per key (see the module doc); without a key, just run it.
    ``run`` calls ``commit(answer)`` as soon as Calendly has acted: from then on the key holds
    that answer even if what follows (storing the result) fails."""
    if key is None:
        return run(lambda _answer: None)
    kept = store.claim(connection_id, key, print_, now=now)
    if kept is not None:
        if kept.fingerprint != print_:
            raise ActionRefused(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request; use a new key.",
                parameter="Idempotency-Key",
            )
        if kept.status is None:
            raise ActionRefused(
                409, "request_in_progress", "A request with this Idempotency-Key is still running.", retry_after=1
            )
        return Answer(kept.status, kept.booking, kept.body or {}, replayed=True)
    committed = False

    def commit(answer: Answer) -> None:
        nonlocal committed
        store.keep(connection_id, key, answer, now=now)
        committed = True

    try:
        answer = run(commit)
    except ActionRefused as refused:
        if not committed and refused.lasting:
            store.keep(connection_id, key, Answer(refused.status, body=refused.as_json()), now=now)
        elif not committed:
            store.release(connection_id, key)
        raise
    except BaseException:
        if not committed:
            store.release(connection_id, key)
        raise
    if not committed:
        store.keep(connection_id, key, answer, now=now)
    return answer
