"""The connection registry, refresh leases and pending OAuth authorizations, in the bookings
table (keys in ``calsync.aws.keys``): one item per connection, all under one partition (references
such as secret names and the subscription URI, never secrets); the refresh lease, two attributes of
that item taken with a conditional write; a pending authorization, its own item, single use, TTL."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item, query_items, serialise, serialise_item
from calsync.aws.errors import CONDITION_FAILED, aws_call, unless
from calsync.connections.records import Connection, PendingAuthorization

REMOVED = "removed"  # a disconnected connection's status (connections.disconnect)
REGISTERED = "registered"
CHANGING = "changing"


def _key(connection_id: str) -> dict[str, Any]:
    return keys.connection(connection_id).dynamo()


def connection_from_item(data: Mapping[str, Any]) -> Connection:
    """A connection record from its stored item (the registry's reads and the /v1 read path)."""
    return Connection(
        connection_id=data["connection_id"],
        kind=data["kind"],
        status=data["status"],
        organization=data["organization"],
        owner=data.get("owner"),
        callback_url=data["callback_url"],
        token_secret=data["token_secret"],
        signing_key_secret=data["signing_key_secret"],
        subscription_uri=data.get("subscription_uri"),
        status_reason=data.get("status_reason"),
        token_expires_at=int(data["token_expires_at"]) if data.get("token_expires_at") is not None else None,
        created_at=data.get("created_at"),
        subscription_recreated=[
            {k: (int(v) if k.endswith("_at_epoch") else v) for k, v in entry.items()}
            for entry in data.get("subscription_recreated", [])
        ],
        token_generation=data.get("token_generation"),
        last_refresh_error=data.get("last_refresh_error"),
        last_check_error=data.get("last_check_error"),
        refresh_unconfirmed=data.get("refresh_unconfirmed"),
        subscription_healthy_at=data.get("subscription_healthy_at"),
        gap_reconcile=data.get("gap_reconcile"),
        removed_at=data.get("removed_at"),
        removal_pending=list(data["removal_pending"]) if data.get("removal_pending") is not None else None,
        subscription_events=data.get("subscription_events"),
    )


def _generation_condition(generation: str | None) -> tuple[str, dict[str, Any]]:
    """The connection still descends from the connect ``generation`` (items written before
    generations existed have none)."""
    if generation is None:
        return "attribute_exists(PK) AND attribute_not_exists(token_generation)", {}
    return "attribute_exists(PK) AND token_generation = :generation", {":generation": {"S": generation}}


class DynamoConnectionRegistry(clients.TableAdapter):
    # -- connections ----------------------------------------------------------------------

    def register(self, connection: Connection, *, now: str) -> None:
        item = {
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
            "token_generation": connection.token_generation,
            "subscription_events": connection.subscription_events,
            "created_at": connection.created_at or now,
            "updated_at": now,
        }
        with aws_call("dynamodb:PutItem (connection)"):
            self.client.put_item(
                TableName=self.table_name,
                Item=serialise_item(
                    {
                        **keys.connection(connection.connection_id).attributes(),
                        **{k: v for k, v in item.items() if v is not None or k != "token_generation"},
                    }
                ),
            )

    def get(self, connection_id: str) -> Connection | None:
        with aws_call("dynamodb:GetItem (connection)"):
            item = self.client.get_item(TableName=self.table_name, Key=_key(connection_id), ConsistentRead=True)
        return connection_from_item(plain_item(item["Item"])) if "Item" in item else None

    def all(self) -> Iterator[Connection]:
        items = query_items(
            self.client,
            "connections",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.CONNECTIONS_PK}},
            ConsistentRead=True,
        )
        return (connection_from_item(item) for item in items)

    def _update(
        self,
        connection_id: str,
        what: str,
        generation: str | None,
        values: Mapping[str, Any],
        remove: tuple[str, ...] = (),
    ) -> bool:
        """SET ``values`` (REMOVE ``remove``) if the connection still has ``generation``."""
        names = {f"#a{i}": name for i, name in enumerate(values)}
        names.update({f"#r{i}": name for i, name in enumerate(remove)})
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values)))
        if remove:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition, condition_values = _generation_condition(generation)
        return conditional(
            f"dynamodb:UpdateItem ({what})",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **{f":a{i}": serialise(v) for i, v in enumerate(values.values())},
                    **condition_values,
                },
            ),
        )

    def mark_reauth_required(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        return self._update(
            connection_id,
            "reauth",
            generation,
            {"status": "reauth_required", "status_reason": reason, "updated_at": now},
        )

    def token_refreshed(self, connection_id: str, *, expires_at: int, now: str, generation: str | None) -> bool:
        return self._update(
            connection_id,
            "refreshed",
            generation,
            {"token_expires_at": expires_at, "last_refresh_at": now, "updated_at": now},
            remove=("refresh_unconfirmed", "last_refresh_error"),
        )

    def record_error(
        self, connection_id: str, *, job: str, reason: str, detail: str, now: str, generation: str | None
    ) -> bool:
        """The last failure of ``job`` (``refresh`` or ``check``) on this connection."""
        return self._update(
            connection_id,
            f"{job} error",
            generation,
            {f"last_{job}_error": {"reason": reason, "at": now, "detail": detail}},
        )

    def refresh_unconfirmed(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        """A refresh request was sent and its answer lost: the refresh token may be spent."""
        return self._update(
            connection_id,
            "refresh unconfirmed",
            generation,
            {"refresh_unconfirmed": {"reason": reason, "at": now}, "updated_at": now},
        )

    def subscription_replaced(
        self,
        connection_id: str,
        *,
        subscription_uri: str,
        record: Mapping[str, Any],
        now: str,
        generation: str | None,
    ) -> bool:
        names = {"#s": "subscription_uri", "#r": "subscription_recreated", "#u": "updated_at"}
        condition, condition_values = _generation_condition(generation)
        return conditional(
            "dynamodb:UpdateItem (subscription)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression="SET #s = :s, #u = :u, #r = list_append(if_not_exists(#r, :empty), :r)",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":s": {"S": subscription_uri},
                    ":u": {"S": now},
                    ":r": {"L": [serialise(dict(record))]},
                    ":empty": {"L": []},
                    **condition_values,
                },
            ),
        )

    def subscription_healthy(self, connection_id: str, *, now: str, generation: str | None) -> bool:
        return self._update(connection_id, "subscription healthy", generation, {"subscription_healthy_at": now})

    def subscription_events(self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: Any) -> bool:
        return self._update(
            connection_id, "events", generation, {"subscription_events": dict(record), "updated_at": now}
        )

    def gap_reconcile(self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None) -> bool:
        return self._update(
            connection_id, "gap reconcile", generation, {"gap_reconcile": dict(record), "updated_at": now}
        )

    # -- disconnecting (connections.disconnect), under the connection's lease ----------------

    def mark_removed(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        """``removed`` from now on (the receiver answers 410, the scheduled jobs skip it), with the
        steps still to do; ``removed_at`` keeps the first disconnect's time. A new token generation
        makes any job still working on the old one write nothing. Only while ``owner`` holds the
        lease (two disconnects at once: one of them)."""
        return conditional(
            "dynamodb:UpdateItem (removed)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression=(
                    "SET #s = :removed, removed_at = if_not_exists(removed_at, :now), removal_pending = :p, "
                    "token_generation = :g, updated_at = :now"
                ),
                ConditionExpression="attribute_exists(PK) AND lease_owner = :o",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":removed": {"S": REMOVED},
                    ":now": {"S": now},
                    ":p": serialise(list(pending)),
                    ":g": {"S": f"removed-{owner}"},
                    ":o": {"S": owner},
                },
            ),
        )

    def removal_progress(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        """The disconnect's steps still to do (empty: finished), while ``owner`` holds the lease."""
        return conditional(
            "dynamodb:UpdateItem (removal progress)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression="SET removal_pending = :p, updated_at = :now",
                ConditionExpression="attribute_exists(PK) AND lease_owner = :o AND #s = :removed",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":p": serialise(list(pending)),
                    ":now": {"S": now},
                    ":o": {"S": owner},
                    ":removed": {"S": REMOVED},
                },
            ),
        )

    # -- the refresh lease ----------------------------------------------------------------

    def acquire_lease(self, connection_id: str, *, owner: str, now: int, seconds: int) -> bool:
        """True if ``owner`` now holds the connection's refresh lease (free or expired)."""
        return conditional(
            "dynamodb:UpdateItem (lease)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression="SET lease_owner = :o, lease_until = :until",
                ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeValues={
                    ":o": {"S": owner},
                    ":until": {"N": str(now + seconds)},
                    ":now": {"N": str(now)},
                },
            ),
        )

    def release_lease(self, connection_id: str, *, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it (else nothing to release)."""
        conditional(
            "dynamodb:UpdateItem (lease release)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :o",
                ExpressionAttributeValues={":o": {"S": owner}},
            ),
        )

    # -- pending OAuth authorizations -----------------------------------------------------

    def put_pending(self, pending: PendingAuthorization) -> None:
        item = {
            **keys.oauth_state(pending.state).attributes(),
            "type": "oauth_state",
            "connection_id": pending.connection_id,
            "redirect_uri": pending.redirect_uri,
            "expires_at": pending.expires_at,
            **({"return_to": pending.return_to} if pending.return_to else {}),
        }
        with aws_call("dynamodb:PutItem (oauth state)"):
            self.client.put_item(
                TableName=self.table_name,
                Item=serialise_item(item),
                ConditionExpression="attribute_not_exists(PK)",
            )

    def take_pending(self, state: str, *, now: int) -> PendingAuthorization | None:
        """Delete and return the pending authorization if it exists and has not expired:
        a state works once (the conditional delete is the single use)."""
        response = unless(
            CONDITION_FAILED,
            "dynamodb:DeleteItem (oauth state)",
            lambda: self.client.delete_item(
                TableName=self.table_name,
                Key=keys.oauth_state(state).dynamo(),
                ConditionExpression="attribute_exists(PK) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValues="ALL_OLD",
            ),
        )
        if response is None:
            return None
        data = plain_item(response["Attributes"])
        return PendingAuthorization(
            state=state,
            connection_id=data["connection_id"],
            redirect_uri=data["redirect_uri"],
            expires_at=int(data["expires_at"]),
            return_to=data.get("return_to"),
        )


class DynamoConnectionIds(clients.TableAdapter):
    """Whether a connection is registered, for the receiver: a key-only (plus ``status``),
    eventually consistent GetItem of its registry record (half a read unit; its IAM allows no
    other attribute). A connection registered moments ago may read as absent for a moment:
    Calendly retries."""

    def registration(self, connection_id: str, *, now: float | None = None) -> str | None:
        """``None`` (not registered), ``"removed"`` (disconnected), ``"changing"`` (removed, and a
        connect or disconnect holds its lease right now: a re-connect may have created its new
        subscription already, so a delivery must be retried, never answered 410) or
        ``"registered"``."""
        with aws_call("dynamodb:GetItem (connection id)"):
            item = self.client.get_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                ProjectionExpression="PK, #s, lease_until",
                ExpressionAttributeNames={"#s": "status"},
                ConsistentRead=False,
            )
        if "Item" not in item:
            return None
        found = item["Item"]
        if found.get("status", {}).get("S") != REMOVED:
            return REGISTERED
        lease_until = int(found.get("lease_until", {}).get("N", "0"))
        return CHANGING if lease_until > (time.time() if now is None else now) else REMOVED

    def exists(self, connection_id: str) -> bool:
        """Registered at all (removed ones too): the record's key alone (the read API's check)."""
        with aws_call("dynamodb:GetItem (connection id)"):
            item = self.client.get_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                ProjectionExpression="PK",
                ConsistentRead=False,
            )
        return "Item" in item


class DynamoConnectionStatus(clients.TableAdapter):
    """A connection's status alone (``None``: never connected), for ``POST /v1/connections``:
    a GetItem projecting ``status`` only (its IAM allows no other attribute)."""

    def status(self, connection_id: str) -> str | None:
        with aws_call("dynamodb:GetItem (connection status)"):
            item = self.client.get_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                ProjectionExpression="#s",
                ExpressionAttributeNames={"#s": "status"},
                ConsistentRead=True,
            )
        found = item.get("Item")
        return None if found is None else str(plain_item(found).get("status", ""))
