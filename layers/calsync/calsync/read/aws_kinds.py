"""DynamoDB reads of a connection's meeting recaps and contacts for the read API
(``read.kinds.KindsReader``): one Query each, eventually consistent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import query_items


class DynamoKindsReader(clients.TableAdapter):
    def recaps(self, connection_id: str, event_uuid: str) -> Sequence[Mapping[str, Any]]:
        items = query_items(
            self.client,
            "event recaps",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": keys.event_pk(event_uuid)}, ":sk": {"S": "RECAP#"}},
        )
        return [item for item in items if item.get("tenant", connection_id) == connection_id]

    def contacts(self, connection_id: str, email: str) -> Sequence[Mapping[str, Any]]:
        return list(
            query_items(
                self.client,
                "contacts by email",
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                FilterExpression="contains(emails, :e)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.resources_pk("contact", connection_id)},
                    ":e": {"S": email.strip().lower()},
                },
            )
        )

    def event_type_names(self, connection_id: str) -> Mapping[str, str]:
        names: dict[str, str] = {}
        for item in query_items(
            self.client,
            "event type names",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ProjectionExpression="#u, #n, #d",
            ExpressionAttributeNames={"#u": "uri", "#n": "name", "#d": "deleted"},
            ExpressionAttributeValues={":pk": {"S": keys.resources_pk("event_type", connection_id)}},
        ):
            if isinstance(item.get("uri"), str) and isinstance(item.get("name"), str) and not item.get("deleted"):
                names[item["uri"]] = item["name"]
        return names
