"""The connection registry, refresh leases and pending OAuth authorizations, in the
bookings table (single-table design; keys in ``calsync.store.keys``):

- one item per connection, all under one partition: all in one Query, one by its key.
  Holds references (secret names, subscription URI), never secrets;
- the refresh lease is two attributes of that item, taken with a conditional write;
- a pending authorization is an item of its own, single use, with TTL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from calsync.connections.records import Connection, PendingAuthorization
from calsync.store import clients, keys
from calsync.store.dynamo import conditional, plain_item, query_items, serialise, serialise_item
from calsync.store.errors import CONDITION_FAILED, aws_call, unless

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _key(connection_id: str) -> dict[str, Any]:
    return keys.connection(connection_id).dynamo()


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _connection(data: Mapping[str, Any]) -> Connection:
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
        token_expires_at=_int(data.get("token_expires_at")),
        created_at=data.get("created_at"),
        subscription_recreated=[
            {k: (int(v) if k.endswith("_at_epoch") else v) for k, v in entry.items()}
            for entry in data.get("subscription_recreated", [])
        ],
    )


class DynamoConnectionRegistry:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or clients.dynamodb()

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
            "created_at": connection.created_at or now,
            "updated_at": now,
        }
        with aws_call("dynamodb:PutItem (connection)"):
            self.client.put_item(
                TableName=self.table_name,
                Item=serialise_item({**keys.connection(connection.connection_id).attributes(), **item}),
            )

    def get(self, connection_id: str) -> Connection | None:
        with aws_call("dynamodb:GetItem (connection)"):
            item = self.client.get_item(TableName=self.table_name, Key=_key(connection_id), ConsistentRead=True)
        return _connection(plain_item(item["Item"])) if "Item" in item else None

    def all(self) -> Iterator[Connection]:
        items = query_items(
            self.client,
            "connections",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.CONNECTIONS_PK}},
            ConsistentRead=True,
        )
        return (_connection(item) for item in items)

    def _update(self, connection_id: str, what: str, values: Mapping[str, Any], extra: str = "") -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(values)))
        with aws_call(f"dynamodb:UpdateItem ({what})"):
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression=f"SET {sets}{extra}",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":a{i}": serialise(v) for i, v in enumerate(values.values())},
            )

    def mark_reauth_required(self, connection_id: str, *, reason: str, now: str) -> None:
        self._update(connection_id, "reauth", {"status": "reauth_required", "status_reason": reason, "updated_at": now})

    def token_refreshed(self, connection_id: str, *, expires_at: int, now: str) -> None:
        self._update(
            connection_id, "refreshed", {"token_expires_at": expires_at, "last_refresh_at": now, "updated_at": now}
        )

    def subscription_replaced(
        self, connection_id: str, *, subscription_uri: str, record: Mapping[str, Any], now: str
    ) -> None:
        names = {"#s": "subscription_uri", "#r": "subscription_recreated", "#u": "updated_at"}
        with aws_call("dynamodb:UpdateItem (subscription)"):
            self.client.update_item(
                TableName=self.table_name,
                Key=_key(connection_id),
                UpdateExpression="SET #s = :s, #u = :u, #r = list_append(if_not_exists(#r, :empty), :r)",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":s": {"S": subscription_uri},
                    ":u": {"S": now},
                    ":r": {"L": [serialise(dict(record))]},
                    ":empty": {"L": []},
                },
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
            "code_verifier": pending.code_verifier,
            "redirect_uri": pending.redirect_uri,
            "expires_at": pending.expires_at,
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
            code_verifier=data["code_verifier"],
            redirect_uri=data["redirect_uri"],
            expires_at=int(data["expires_at"]),
        )
