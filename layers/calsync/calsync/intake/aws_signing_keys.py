"""Signing keys from Secrets Manager, cached per connection.

One secret per connection, ``<prefix><connection_id>``, holding JSON
``{"current": "...", "previous": "..." | null}``. The receiver's IAM allows reading only
that prefix. Key material never appears in logs or errors.

What forged requests cost (each Secrets Manager call is billed, $0.05 per 10,000): the cache
is two bounded LRU maps, one for connections that have keys and one (short-lived) for ids that
have none, so forged ids never evict real connections and memory stays bounded. The receiver
also passes ``exists``, a cheap check that the connection is registered (a key-only GetItem of
its registry record, ~1/80 of a Secrets Manager read): an id it does not know costs that
check, and Secrets Manager is read only for registered ids. No budget is shared between
forged and real ids, so no flood can make a real connection's first delivery fail (the
API's throttle bounds how many checks a flood causes). Services that must always know
(connections, the CLI) pass no check.

Key rotation: a delivery whose signature matches no cached key may be signed with a key
rotated since it was read. ``refresh`` reads the keys again, only for a connection that has
keys and at most once per ``refresh_after_seconds`` (30 s): forged signatures cannot make
it read more often.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.aws import clients, secret_json
from calsync.errors import DependencyUnavailable
from calsync.intake.receive import ConnectionRemoved

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

REMOVED = "removed"  # what ``registration`` answers for a disconnected connection
UNREADABLE = "unreadable"  # the registry could not be read (an outage): ask the keys' store
CHANGING = "changing"  # … for one removed whose lease a connect or disconnect holds now
NEGATIVE_CACHE_SECONDS = 60.0
MAX_KNOWN = 10_000  # connections with keys kept in memory (a few hundred bytes each)
MAX_UNKNOWN = 1_024  # ids without keys remembered for NEGATIVE_CACHE_SECONDS
# A connection's keys are read again for a signature they do not verify only when read
# longer ago than this (Calendly retries a refused delivery; the next one finds the new key).
REFRESH_AFTER_SECONDS = 30.0
# A connection with cached keys: how often the registry is asked whether it was disconnected.
RECHECK_SECONDS = 10.0


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
        exists: Callable[[str], bool] | None = None,
        registration: Callable[[str], str | None] | None = None,
        refresh_after_seconds: float = REFRESH_AFTER_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._client = client
        self.clock = clock
        self.max_known = max_known
        self.max_unknown = max_unknown
        self.exists = exists
        # Like ``exists``, also telling a disconnected connection ("removed"): ConnectionRemoved,
        # never cached (a re-connect must be seen at once), and no Secrets Manager read. Asked
        # again for a connection with cached keys every ``recheck_seconds``, so a warm receiver
        # answers 410 at most that long after a disconnect.
        self.registration = registration
        self.recheck_seconds = recheck_seconds
        self._checked: dict[str, float] = {}  # id -> when its registration was last read
        self.refresh_after_seconds = refresh_after_seconds
        # id -> (read at, last read tried at, keys): valid until read at + ttl; ``refresh`` reads
        # again only refresh_after_seconds after the last try
        self._known: OrderedDict[str, tuple[float, float, tuple[bytes, ...]]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()

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
            if known[0] + self._ttl > now:
                self._recheck(connection_id, known[0], now)
                return known[2]
        elif (until := self._unknown.get(connection_id)) is not None and until > now:
            return None
        if self.registration is not None:
            try:
                state = self.registration(connection_id)
            except DependencyUnavailable:  # the table is down: Secrets Manager still tells a real id
                state = UNREADABLE
            if state == REMOVED:
                self.invalidate(connection_id)
                raise ConnectionRemoved(connection_id)
            if state == CHANGING:  # removed, being re-connected or disconnected: Calendly retries
                raise DependencyUnavailable("the connection is being connected or disconnected right now")
            if state is None and known is None:
                self._remember(connection_id, None, now)  # not registered: no Secrets Manager read
                return None
        elif known is None and self.exists is not None and not self._exists(connection_id):
            self._remember(connection_id, None, now)  # not registered: no Secrets Manager read
            return None
        keys = self._fetch(connection_id)
        self._remember(connection_id, keys, now)
        return keys

    def _exists(self, connection_id: str) -> bool:
        """``exists``, taken as yes when the registry cannot be read (a table outage must not turn
        real deliveries away; the keys' own read then tells whether the id is real)."""
        assert self.exists is not None
        try:
            return self.exists(connection_id)
        except DependencyUnavailable:
            return True

    def _recheck(self, connection_id: str, read_at: float, now: float) -> None:
        """A connection whose keys are cached is asked about again every ``recheck_seconds`` (one
        key-only GetItem): once it is removed (disconnected), ``ConnectionRemoved``. A failed read
        changes nothing (the cached keys keep serving)."""
        if self.registration is None or now - self._checked.get(connection_id, read_at) < self.recheck_seconds:
            return
        self._checked[connection_id] = now
        try:
            state = self.registration(connection_id)
        except DependencyUnavailable:
            return
        if state == REMOVED:
            self.invalidate(connection_id)
            raise ConnectionRemoved(connection_id)

    def refresh(self, connection_id: str) -> tuple[bytes, ...] | None:
        """The keys read again, for a signature the cached ones do not verify; ``None`` without a
        read when the connection has no cached keys or they were read less than
        ``refresh_after_seconds`` ago. The attempt counts even if the read fails (raises
        ``DependencyUnavailable``): a failing store is not asked again for every request."""
        now = self.clock()
        known = self._known.get(connection_id)
        if known is None or now - known[1] < self.refresh_after_seconds:
            return None
        self._known[connection_id] = (known[0], now, known[2])
        keys = self._fetch(connection_id)
        self._remember(connection_id, keys, now)
        return keys

    def _remember(self, connection_id: str, keys: tuple[bytes, ...] | None, now: float) -> None:
        self.invalidate(connection_id)
        if keys:
            self._known[connection_id] = (now, now, keys)
            if len(self._known) > self.max_known:
                evicted, _ = self._known.popitem(last=False)
                self._checked.pop(evicted, None)
        else:
            self._unknown[connection_id] = now + NEGATIVE_CACHE_SECONDS
            if len(self._unknown) > self.max_unknown:
                self._unknown.popitem(last=False)

    def invalidate(self, connection_id: str) -> None:
        self._checked.pop(connection_id, None)
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
