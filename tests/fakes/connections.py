"""The connections' ports in memory: the ``Registry`` (``DynamoConnectionRegistry``, with the
receiver's ``exists`` of ``DynamoConnectionIds``), ``Tokens`` (``SecretsManagerTokenStore``),
the OAuth ``AppSecret`` (``SecretsManagerOAuthApp``) and ``ReconcileRequests``
(``SqsReconcileRequests``); the ``SigningKeyStore`` is ``tests.fakes.intake.FakeSigningKeys``.
tests/contract/test_connections.py runs the same behaviour against the AWS adapters on moto."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from calsync.aws import keys
from calsync.connections.records import Connection, OAuthApp, PendingAuthorization, StoredToken, TokenNotFound
from calsync.errors import DependencyUnavailable
from calsync.reconcile.requests import ReconcileRequest
from tests.fakes.table import MemoryTable

_CONNECTION_FIELDS = [f.name for f in fields(Connection)]
APP_SECRET_NAME = "calsync/test/oauth-app"


class FakeRegistry:
    """Connection records, refresh leases and pending authorizations in the (in-memory) table.
    Status changes apply only while the connection still has the ``generation`` given (``None``:
    one written before generations existed, which has none)."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()

    @staticmethod
    def _key(connection_id: str) -> keys.Key:
        return keys.connection(connection_id)

    def register(self, connection: Connection, *, now: str) -> None:
        self.table.check("register")
        item: dict[str, Any] = {
            "type": "connection",
            "connection_id": connection.connection_id,
            "kind": connection.kind,
            "status": connection.status,
            "organization": connection.organization,
            "owner": connection.owner,
            "callback_url": connection.callback_url,
            "token_secret": connection.token_secret,
            "signing_key_secret": connection.signing_key_secret,
            "subscription_uri": connection.subscription_uri,
            "token_expires_at": connection.token_expires_at,
            "subscription_events": connection.subscription_events,
            "created_at": connection.created_at or now,
            "updated_at": now,
        }
        if connection.token_generation is not None:
            item["token_generation"] = connection.token_generation
        self.table.put(self._key(connection.connection_id), item)

    def get(self, connection_id: str) -> Connection | None:
        self.table.check("get")
        item = self.table.item(self._key(connection_id))
        return _connection(item) if item is not None else None

    def all(self) -> Iterator[Connection]:
        self.table.check("all")
        return iter([_connection(item) for _, item in self.table.partition(keys.CONNECTIONS_PK)])

    def exists(self, connection_id: str) -> bool:
        """The read API's check (``DynamoConnectionIds``)."""
        return self.table.item(self._key(connection_id)) is not None

    def status(self, connection_id: str) -> str | None:
        """``POST /v1/connections``' check (``DynamoConnectionStatus``)."""
        self.table.check("status")
        item = self.table.item(self._key(connection_id))
        return None if item is None else str(item.get("status", ""))

    def registration(self, connection_id: str, *, now: float | None = None) -> str | None:
        """The receiver's check (``DynamoConnectionIds``): None, "removed", "changing" (removed
        under a lease held now) or "registered"."""
        item = self.table.item(self._key(connection_id))
        if item is None:
            return None
        if item.get("status") != "removed":
            return "registered"
        return "changing" if item.get("lease_until", 0) > (time.time() if now is None else now) else "removed"

    def _holds(self, connection_id: str, generation: str | None) -> dict[str, Any] | None:
        item = self.table.items.get(self._key(connection_id))
        if item is None or item.get("token_generation") != generation:
            return None
        return item

    def _update(
        self,
        connection_id: str,
        generation: str | None,
        values: Mapping[str, Any],
        remove: tuple[str, ...] = (),
    ) -> bool:
        self.table.check("update")
        item = self._holds(connection_id, generation)
        if item is None:
            return False
        self.table.update(self._key(connection_id), values)
        self.table.remove(self._key(connection_id), *remove)
        return True

    def mark_reauth_required(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        values = {"status": "reauth_required", "status_reason": reason, "updated_at": now}
        return self._update(connection_id, generation, values)

    def token_refreshed(self, connection_id: str, *, expires_at: int, now: str, generation: str | None) -> bool:
        values = {"token_expires_at": expires_at, "last_refresh_at": now, "updated_at": now}
        return self._update(connection_id, generation, values, remove=("refresh_unconfirmed", "last_refresh_error"))

    def record_error(
        self, connection_id: str, *, job: str, reason: str, detail: str, now: str, generation: str | None
    ) -> bool:
        values = {f"last_{job}_error": {"reason": reason, "at": now, "detail": detail}}
        return self._update(connection_id, generation, values)

    def refresh_unconfirmed(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        values = {"refresh_unconfirmed": {"reason": reason, "at": now}, "updated_at": now}
        return self._update(connection_id, generation, values)

    def subscription_replaced(
        self,
        connection_id: str,
        *,
        subscription_uri: str,
        record: Mapping[str, Any],
        now: str,
        generation: str | None,
    ) -> bool:
        item = self._holds(connection_id, generation)
        recreated = [*(item or {}).get("subscription_recreated", []), dict(record)]
        values = {"subscription_uri": subscription_uri, "updated_at": now, "subscription_recreated": recreated}
        return self._update(connection_id, generation, values)

    def subscription_healthy(self, connection_id: str, *, now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, {"subscription_healthy_at": now})

    def subscription_events(
        self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None
    ) -> bool:
        return self._update(connection_id, generation, {"subscription_events": dict(record), "updated_at": now})

    def gap_reconcile(self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, {"gap_reconcile": dict(record), "updated_at": now})

    def mark_removed(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        self.table.check("mark_removed")
        item = self.table.items.get(self._key(connection_id))
        if item is None or item.get("lease_owner") != owner:
            return False
        values = {"status": "removed", "removal_pending": list(pending), "token_generation": f"removed-{owner}"}
        self.table.update(self._key(connection_id), {**values, "updated_at": now}, if_absent={"removed_at": now})
        return True

    def removal_progress(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        self.table.check("removal_progress")
        item = self.table.items.get(self._key(connection_id))
        if item is None or item.get("lease_owner") != owner or item.get("status") != "removed":
            return False
        self.table.update(self._key(connection_id), {"removal_pending": list(pending), "updated_at": now})
        return True

    def acquire_lease(self, connection_id: str, *, owner: str, now: int, seconds: int) -> bool:
        self.table.check("acquire_lease")
        item = self.table.items.get(self._key(connection_id))
        if item is None or ("lease_until" in item and not item["lease_until"] < now):
            return False
        self.table.update(self._key(connection_id), {"lease_owner": owner, "lease_until": now + seconds})
        return True

    def release_lease(self, connection_id: str, *, owner: str) -> None:
        self.table.check("release_lease")
        item = self.table.items.get(self._key(connection_id))
        if item is not None and item.get("lease_owner") == owner:
            self.table.remove(self._key(connection_id), "lease_owner", "lease_until")

    def put_pending(self, pending: PendingAuthorization) -> None:
        self.table.check("put_pending")
        attributes = {
            "type": "oauth_state",
            "connection_id": pending.connection_id,
            "redirect_uri": pending.redirect_uri,
            "expires_at": pending.expires_at,
            "return_to": pending.return_to,
        }
        if not self.table.put_new(keys.oauth_state(pending.state), attributes):
            raise DependencyUnavailable("dynamodb:PutItem (oauth state) failed: ConditionalCheckFailedException")

    def take_pending(self, state: str, *, now: int) -> PendingAuthorization | None:
        self.table.check("take_pending")
        key = keys.oauth_state(state)
        item = self.table.item(key)
        if item is None or not item["expires_at"] > now:
            return None
        self.table.delete(key)
        return PendingAuthorization(
            state, item["connection_id"], item["redirect_uri"], int(item["expires_at"]), item.get("return_to")
        )


def _connection(item: Mapping[str, Any]) -> Connection:
    found: dict[str, Any] = {name: item.get(name) for name in _CONNECTION_FIELDS}
    return Connection(**{**found, "subscription_recreated": found["subscription_recreated"] or []})


class FakeTokens:
    """Each connection's Calendly token, as the secret ``<prefix><connection id>`` holds it.
    ``fail``: the store is down (``DependencyUnavailable``)."""

    def __init__(self, prefix: str = "calsync/test/tokens/") -> None:
        self.prefix = prefix
        self.tokens: dict[str, StoredToken] = {}
        self.fail = False
        self.writes = 0

    def _check(self) -> None:
        if self.fail:
            raise DependencyUnavailable("secretsmanager (token) failed: InternalServiceError")

    def secret_name(self, connection_id: str) -> str:
        return f"{self.prefix}{connection_id}"

    def get(self, connection_id: str) -> StoredToken:
        self._check()
        if connection_id not in self.tokens:
            raise TokenNotFound(connection_id)
        return self.tokens[connection_id]

    def put(self, connection_id: str, token: StoredToken) -> str:
        self._check()
        self.writes += 1
        self.tokens[connection_id] = token
        return self.secret_name(connection_id)


class FakeAppSecret:
    """The OAuth app's secret: ``value`` its JSON object (a field missing or not text reads as "")."""

    def __init__(self, value: Mapping[str, Any] | None = None, *, secret_name: str = APP_SECRET_NAME) -> None:
        self.secret_name = secret_name
        self.value: dict[str, Any] = dict(value or {})

    def get(self) -> OAuthApp:
        def text(name: str) -> str:
            found = self.value.get(name)
            return found if isinstance(found, str) else ""

        return OAuthApp(text("client_id"), text("client_secret"), text("webhook_signing_key"))


class FakeReconcileRequests:
    """The reconcile-requests queue: ``requests`` in the order sent. ``fail``: not accepted."""

    def __init__(self) -> None:
        self.requests: list[ReconcileRequest] = []
        self.fail = False

    def send(self, request: ReconcileRequest) -> None:
        if self.fail:
            raise DependencyUnavailable("sqs:SendMessage (reconcile request) failed: ServiceUnavailable")
        self.requests.append(ReconcileRequest.from_message_body(request.message_body()))

    def request(self, connection_id: str, *, since: datetime, reason: str, requested_at: datetime) -> None:
        self.send(ReconcileRequest(connection_id=connection_id, since=since, reason=reason, requested_at=requested_at))


class FakeSecrets:
    """Secret names that exist (``SecretRemover``: ``delete`` removes one; gone already is fine).
    ``fail``: Secrets Manager is down."""

    def __init__(self, names: set[str] | None = None) -> None:
        self.names = set(names or ())
        self.fail = False
        self.deleted: list[str] = []

    def delete(self, name: str) -> None:
        if self.fail:
            raise DependencyUnavailable("secretsmanager:DeleteSecret failed: InternalServiceError")
        if not name:  # as Secrets Manager: a SecretId is 1 to 2048 characters (the adapter's answer)
            raise DependencyUnavailable("secretsmanager:DeleteSecret failed: ValidationException")
        self.names.discard(name)
        self.deleted.append(name)


class FakeTenantData:
    """A connection's stored events (``TenantData``): ``erase`` deletes ``page`` of them per call of
    ``time_left`` while it allows. ``fail``: the table is down."""

    def __init__(self, events: Mapping[str, list[str]] | None = None, *, page: int = 2) -> None:
        self.events = {cid: list(found) for cid, found in (events or {}).items()}
        self.page = page
        self.fail = False

    def erase(self, connection_id: str, *, time_left: Callable[[], float]) -> bool:
        found = self.events.get(connection_id, [])
        while found:
            if self.fail:
                raise DependencyUnavailable("dynamodb:Query failed: ServiceUnavailable")
            del found[: self.page]
            if found and time_left() <= 0:
                return False
        return True
