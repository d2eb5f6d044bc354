"""Signing keys from Secrets Manager, cached per connection.

One secret per connection, ``<prefix><connection_id>``, holding JSON
``{"current": "...", "previous": "..." | null}``. The receiver's IAM allows reading only
that prefix. Key material never appears in logs or errors.

What forged requests cost (each Secrets Manager call is billed): the cache is two bounded LRU
maps, one for connections that have keys and one (short-lived) for ids that have none, so
forged ids never evict real connections and memory stays bounded. The receiver also passes a
lookup budget (a token bucket): an id it does not know is looked up only while the budget lasts;
beyond it the id reads as unknown (401, not remembered, so Calendly's retry of a genuinely new
connection finds it once the budget refills). A known connection's refresh never waits on the
budget. Services that must always know (connections, the CLI) pass no budget.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.store import clients, secret_json

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NEGATIVE_CACHE_SECONDS = 60.0
MAX_KNOWN = 10_000  # connections with keys kept in memory (a few hundred bytes each)
MAX_UNKNOWN = 1_024  # ids without keys remembered for NEGATIVE_CACHE_SECONDS
# The receiver's budget for looking up ids it does not know: ~86,400 calls a day per warm
# container at most (~$0.43 at $0.05 per 10,000), whatever a flood of forged ids does.
LOOKUPS_PER_SECOND = 1.0
LOOKUP_BURST = 10


def encode_keys(current: str | None, previous: str | None = None) -> str:
    return secret_json.encode({"current": current, "previous": previous})


def decode_keys(secret_string: str) -> tuple[bytes, ...]:
    """The usable keys, current first; a malformed secret yields no key (fails closed)."""
    try:
        data = secret_json.decode(secret_string)
    except ValueError:
        return ()
    found = [data.get("current"), data.get("previous")]
    return tuple(k.encode() for k in found if isinstance(k, str) and k)


class SecretsManagerSigningKeys:
    def __init__(
        self,
        prefix: str,
        *,
        ttl_seconds: float = 300.0,
        client: SecretsManagerClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_known: int = MAX_KNOWN,
        max_unknown: int = MAX_UNKNOWN,
        lookups_per_second: float | None = None,
        lookup_burst: int = LOOKUP_BURST,
    ) -> None:
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._client = client
        self.clock = clock
        self.max_known = max_known
        self.max_unknown = max_unknown
        self.lookups_per_second = lookups_per_second
        self.lookup_burst = lookup_burst
        self._known: OrderedDict[str, tuple[float, tuple[bytes, ...]]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._tokens = float(lookup_burst)
        self._tokens_at: float | None = None

    def secret_name(self, connection_id: str) -> str:
        return f"{self._prefix}{connection_id}"

    @property
    def cached(self) -> int:
        """How many connection ids the cache holds (at most ``max_known + max_unknown``)."""
        return len(self._known) + len(self._unknown)

    def keys_for(self, connection_id: str) -> tuple[bytes, ...] | None:
        now = self.clock()
        known = self._known.get(connection_id)
        if known is not None:
            self._known.move_to_end(connection_id)
            if known[0] > now:
                return known[1]
        elif (until := self._unknown.get(connection_id)) is not None and until > now:
            return None
        elif not self._spend(now):
            return None  # over budget: reads as unknown, and is not remembered as such
        keys = self._fetch(connection_id)
        self._remember(connection_id, keys, now)
        return keys

    def _spend(self, now: float) -> bool:
        """Take one lookup from the budget (always granted without one)."""
        if self.lookups_per_second is None:
            return True
        elapsed = 0.0 if self._tokens_at is None else now - self._tokens_at
        self._tokens = min(float(self.lookup_burst), self._tokens + elapsed * self.lookups_per_second)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _remember(self, connection_id: str, keys: tuple[bytes, ...] | None, now: float) -> None:
        self.invalidate(connection_id)
        if keys:
            self._known[connection_id] = (now + self._ttl, keys)
            if len(self._known) > self.max_known:
                self._known.popitem(last=False)
        else:
            self._unknown[connection_id] = now + NEGATIVE_CACHE_SECONDS
            if len(self._unknown) > self.max_unknown:
                self._unknown.popitem(last=False)

    def invalidate(self, connection_id: str) -> None:
        self._known.pop(connection_id, None)
        self._unknown.pop(connection_id, None)

    def _fetch(self, connection_id: str) -> tuple[bytes, ...] | None:
        client = self._client or clients.secretsmanager()
        value = secret_json.read(client, self.secret_name(connection_id))
        return (decode_keys(value) or None) if value is not None else None

    def put(self, connection_id: str, current: str | None, previous: str | None = None) -> None:
        """Create or rotate a connection's signing keys (``current`` None and ``previous``
        None: no usable key, the receiver refuses everything for this connection)."""
        client = self._client or clients.secretsmanager()
        secret_json.write(client, self.secret_name(connection_id), encode_keys(current, previous))
        self.invalidate(connection_id)

    def stored(self, connection_id: str) -> tuple[str | None, str | None] | None:
        """``(current, previous)`` as stored now (uncached), or ``None`` if there is no secret."""
        client = self._client or clients.secretsmanager()
        value = secret_json.read(client, self.secret_name(connection_id))
        if value is None:
            return None
        try:
            data = secret_json.decode(value)
        except ValueError:
            return (None, None)

        def key(name: str) -> str | None:
            found = data.get(name)
            return found if isinstance(found, str) and found else None

        return key("current"), key("previous")
