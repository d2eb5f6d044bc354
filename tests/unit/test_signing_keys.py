"""What forged traffic costs the receiver's signing-key lookups, and when it reads keys again:
AWS calls counted on fake Secrets Manager and DynamoDB clients (no AWS, no sockets)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from calsync import compose
from calsync.aws import keys as table_keys
from calsync.config import ReceiverSettings
from calsync.intake.aws_signing_keys import (
    RECHECK_SECONDS,
    REFRESH_AFTER_SECONDS,
    SecretsManagerSigningKeys,
    encode_keys,
)
from calsync.intake.receive import ConnectionRemoved, ReceiverLimits, WebhookRequest, receive
from calsync.intake.routing import QueueKind
from calsync.intake.signature import sign_header
from tests.factories import event_body
from tests.fakes.intake import FakeDeliveryQueue

PREFIX = "calsync/test/signing-keys/"
WALL = 1_800_000_000  # the deliveries' signature time (the receiver's wall clock)


class CountingSecretsManager:
    """Counts GetSecretValue calls; knows only the secrets it was given."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.calls = 0
        self.fail = False

    def get_secret_value(self, *, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise ClientError({"Error": {"Code": "InternalServiceError", "Message": "no"}}, "GetSecretValue")
        if SecretId not in self.secrets:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetSecretValue")
        return {"SecretString": self.secrets[SecretId]}


class CountingDynamoDB:
    """Counts GetItem calls; holds the connection records of ``known`` ids."""

    def __init__(self, known: set[str], removed: set[str] | None = None) -> None:
        self.known = known
        self.removed = removed or set()  # disconnected: their record's status is "removed"
        self.leased: set[str] = set()  # a connect or disconnect holds their lease now
        self.calls = 0

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        found = {table_keys.connection(c).dynamo()["SK"]["S"] for c in self.known}
        if Key["PK"]["S"] == table_keys.CONNECTIONS_PK and Key["SK"]["S"] in found:
            gone = Key["SK"]["S"] in {table_keys.connection(c).dynamo()["SK"]["S"] for c in self.removed}
            held = Key["SK"]["S"] in {table_keys.connection(c).dynamo()["SK"]["S"] for c in self.leased}
            return {
                "Item": {
                    "PK": Key["PK"],
                    **({"status": {"S": "removed"}} if gone else {}),
                    **({"lease_until": {"N": "99999999999"}} if held else {}),
                }
            }
        return {}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def receiver_keys(
    client: CountingSecretsManager,
    clock: Clock,
    *,
    known: set[str] | None = None,
    dynamodb: CountingDynamoDB | None = None,
) -> SecretsManagerSigningKeys:
    """The signing keys exactly as the receiver Lambda builds them (the composition root);
    ``known``: the connection ids the registry holds (default: every id with a secret)."""
    settings = ReceiverSettings.model_validate(
        {
            "signing_key_prefix": PREFIX,
            "bookings_table_name": "bookings",
            "queue_urls": {kind: f"https://sqs.local/{kind}" for kind in QueueKind},
        }
    )
    if dynamodb is None:
        dynamodb = CountingDynamoDB(known if known is not None else {s.removeprefix(PREFIX) for s in client.secrets})
    receiver = compose.receiver(settings, secretsmanager=client, sqs=object(), dynamodb=dynamodb)  # type: ignore[arg-type]
    receiver.keys.clock = clock
    return receiver.keys


def test_forged_requests_with_ever_new_connection_ids_cost_no_secrets_manager_lookup() -> None:
    # Given the receiver's key store and a flood of forged requests, each with a new connection id,
    # at 100 requests a second for ten minutes
    client, clock, dynamodb = (
        CountingSecretsManager({PREFIX + "acme": encode_keys("k")}),
        Clock(),
        CountingDynamoDB({"acme"}),
    )
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    for n in range(60_000):
        clock.now += 0.01
        # When each is looked up, each reads as unknown
        assert keys.keys_for(f"forged{n}") is None
    # Then Secrets Manager was never asked: each id cost one key-only GetItem of its registry record
    assert client.calls == 0
    assert dynamodb.calls == 60_000
    # And the cache holds a bounded number of entries
    assert keys.cached <= keys.max_known + keys.max_unknown


def test_a_known_connection_keeps_answering_through_a_flood_and_its_ttl_refresh() -> None:
    # Given a real connection whose keys are cached, and a flood of forged ids
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("k", "old")}), Clock()
    keys = receiver_keys(client, clock)
    assert keys.keys_for("acme") == (b"k", b"old")
    for n in range(5_000):
        keys.keys_for(f"forged{n}")
    # When its cache entry has expired mid-flood
    clock.now += 10_000
    for n in range(5_000):
        keys.keys_for(f"later{n}")
    # Then it is still answered, with one read
    calls = client.calls
    assert keys.keys_for("acme") == (b"k", b"old")
    assert client.calls == calls + 1


def test_a_new_connection_is_found_on_its_first_delivery_whatever_came_before() -> None:
    # Given a flood of forged ids
    client, clock, dynamodb = CountingSecretsManager({}), Clock(), CountingDynamoDB(set())
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    for n in range(1_000):
        keys.keys_for(f"forged{n}")
    # When a new connection is registered with its key and its first delivery is looked up
    client.secrets[PREFIX + "newco"] = encode_keys("fresh")
    dynamodb.known.add("newco")
    # Then the key is found at once
    assert keys.keys_for("newco") == (b"fresh",)


def test_a_repeated_unknown_id_costs_one_lookup_per_negative_ttl() -> None:
    client, clock, dynamodb = CountingSecretsManager({}), Clock(), CountingDynamoDB(set())
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    for _ in range(1_000):
        clock.now += 0.01
        assert keys.keys_for("nobody") is None
    assert (dynamodb.calls, client.calls) == (1, 0)


def test_without_a_registry_check_every_lookup_is_answered_and_the_cache_stays_bounded() -> None:
    # Given the key store as the connections service builds it (it must always know)
    secrets = {PREFIX + f"c{n}": encode_keys(f"k{n}") for n in range(0, 30_000, 3)}
    client, clock = CountingSecretsManager(secrets), Clock()
    keys = SecretsManagerSigningKeys(PREFIX, ttl_seconds=300, client=client, clock=clock)  # type: ignore[arg-type]
    # When many connections, known and unknown, are looked up
    for n in range(30_000):
        found = keys.keys_for(f"c{n}")
        # Then each existing secret is found
        assert (found is not None) == (n % 3 == 0)
    assert client.calls == 30_000
    # And the cache is bounded
    assert keys.cached <= keys.max_known + keys.max_unknown


# -- key rotation (audit defect 9): a rotated key is read again, at most once per ~30 s ----------


def deliver(keys: SecretsManagerSigningKeys, key: str, connection_id: str = "acme") -> int:
    """A delivery signed with ``key``, as the receiver takes it; its status."""
    body = event_body("invitee_created.json")
    headers = {"Calendly-Webhook-Signature": sign_header(key.encode(), body, WALL), "Content-Type": "application/json"}
    outcome = receive(
        WebhookRequest(connection_id, headers, body.decode()),
        keys=keys,
        queue=FakeDeliveryQueue(),
        limits=ReceiverLimits(),
        now=WALL,
    )
    return outcome.status


def test_a_delivery_signed_with_a_rotated_key_is_accepted_without_waiting_for_the_cache() -> None:
    # Given the receiver cached acme's key a minute ago
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("old")}), Clock()
    keys = receiver_keys(client, clock, known={"acme"})
    assert deliver(keys, "old") == 202
    clock.now += 60
    # When the key is rotated (the new one current, the old one kept as previous)
    client.secrets[PREFIX + "acme"] = encode_keys("new", "old")
    # Then a delivery signed with the new key is accepted (the keys were read again once)
    calls = client.calls
    assert deliver(keys, "new") == 202
    assert client.calls == calls + 1
    # And later ones are answered from the cache
    assert deliver(keys, "new") == 202
    assert deliver(keys, "old") == 202
    assert client.calls == calls + 1


def test_keys_cached_moments_ago_are_not_read_again_for_a_bad_signature() -> None:
    # Given acme's keys were read 10 s ago, and rotated since
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("old")}), Clock()
    keys = receiver_keys(client, clock, known={"acme"})
    assert deliver(keys, "old") == 202
    clock.now += 10
    client.secrets[PREFIX + "acme"] = encode_keys("new", "old")
    calls = client.calls
    # When a delivery signed with the new key arrives, Then it is refused without a read
    assert deliver(keys, "new") == 401
    assert client.calls == calls
    # And once the keys are older than the refresh interval it is accepted
    clock.now += REFRESH_AFTER_SECONDS
    assert deliver(keys, "new") == 202


def test_a_flood_of_bad_signatures_for_a_real_connection_reads_its_keys_at_most_once_per_interval() -> None:
    # Given a real connection whose keys are cached
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("k")}), Clock()
    keys = receiver_keys(client, clock, known={"acme"})
    assert deliver(keys, "k") == 202
    calls = client.calls
    # When forged deliveries for it (wrong key) arrive 100 a second for ten minutes
    for _ in range(60_000):
        clock.now += 0.01
        assert deliver(keys, "forged") == 401
    # Then its keys were read again at most once per refresh interval (not per request)
    assert client.calls - calls <= 600 / REFRESH_AFTER_SECONDS + 1


def test_bad_signatures_for_an_id_without_keys_never_read_keys() -> None:
    # Given a registered connection whose secret holds no usable key, and ids nobody registered
    client, clock = CountingSecretsManager({PREFIX + "keyless": encode_keys(None)}), Clock()
    keys = receiver_keys(client, clock, known={"keyless"})
    # When deliveries for them arrive for ten minutes
    for n in range(6_000):
        clock.now += 0.1
        assert deliver(keys, "forged", "keyless") == 401
        assert deliver(keys, "forged", f"forged{n}") == 401
    # Then the keyless one was read once per negative-cache lifetime, the unregistered ones never
    assert client.calls <= 600 / 60 + 1


def test_a_refresh_that_cannot_read_the_keys_answers_503_and_is_not_retried_at_once() -> None:
    # Given acme's keys cached long ago, and Secrets Manager failing since
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("old")}), Clock()
    keys = receiver_keys(client, clock, known={"acme"})
    assert deliver(keys, "old") == 202
    clock.now += 60
    client.fail = True
    # When a delivery signed with a key the cache does not hold arrives, Then Calendly is told to retry
    assert deliver(keys, "new") == 503
    # And the next bad signature does not try again within the interval (forged traffic cannot force reads)
    calls = client.calls
    assert deliver(keys, "new") == 401
    assert client.calls == calls
    # And the cached key still verifies
    assert deliver(keys, "old") == 202


def test_a_removed_connection_is_410_from_the_registry_alone_and_not_remembered() -> None:
    # Given a connection whose record is `removed` (disconnected; its signing keys deleted)
    client, clock = CountingSecretsManager({}), Clock()
    dynamodb = CountingDynamoDB({"gone"}, removed={"gone"})
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    body = event_body("invitee_created.json")
    headers = {"Calendly-Webhook-Signature": sign_header(b"old-key", body, WALL), "Content-Type": "application/json"}
    # When Calendly delivers to it twice
    for _ in range(2):
        reply = receive(
            WebhookRequest("gone", headers, body.decode()),
            keys=keys,
            queue=(queue := FakeDeliveryQueue()),
            limits=ReceiverLimits(),
            now=WALL,
        )
        # Then each is 410 Gone, nothing enqueued
        assert (reply.status, reply.error, queue.sent) == (410, "gone", [])
    # And Secrets Manager was never read; the registry was asked each time (a re-connect is seen at once)
    assert (client.calls, dynamodb.calls) == (0, 2)


def test_a_warm_receiver_answers_410_within_the_recheck_after_a_disconnect() -> None:
    # Given a receiver that verified a delivery for "acme" (its keys cached for 300 s)
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("k1")}), Clock()
    dynamodb = CountingDynamoDB({"acme"})
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    assert keys.keys_for("acme") == (b"k1",)
    # When the connection is disconnected
    dynamodb.removed.add("acme")
    # Then within the recheck interval the cached keys still answer (no registry read per delivery)
    clock.now += RECHECK_SECONDS - 1
    assert keys.keys_for("acme") == (b"k1",)
    assert dynamodb.calls == 1
    # And once it has passed, the registry is asked again and the connection is gone
    clock.now += 2
    with pytest.raises(ConnectionRemoved):
        keys.keys_for("acme")
    # And every later delivery too, from the registry alone (never Secrets Manager again)
    with pytest.raises(ConnectionRemoved):
        keys.keys_for("acme")
    assert client.calls == 1


def test_a_registry_failure_on_a_recheck_keeps_the_cached_keys_serving() -> None:
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("k1")}), Clock()
    dynamodb = CountingDynamoDB({"acme"})
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    assert keys.keys_for("acme") == (b"k1",)

    def failing(**_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "no"}}, "GetItem")

    dynamodb.get_item = failing  # type: ignore[method-assign]
    clock.now += RECHECK_SECONDS + 1
    assert keys.keys_for("acme") == (b"k1",)


def test_a_removed_connection_being_reconnected_is_retried_not_gone() -> None:
    # Given a removed connection whose lease a re-connect holds (its new subscription may exist)
    client, clock = CountingSecretsManager({}), Clock()
    dynamodb = CountingDynamoDB({"back"}, removed={"back"})
    dynamodb.leased.add("back")
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    body = event_body("invitee_created.json")
    headers = {"Calendly-Webhook-Signature": sign_header(b"k", body, WALL), "Content-Type": "application/json"}
    # When a delivery comes
    reply = receive(
        WebhookRequest("back", headers, body.decode()),
        keys=keys,
        queue=(queue := FakeDeliveryQueue()),
        limits=ReceiverLimits(),
        now=WALL,
    )
    # Then it is a 503 (Calendly retries once the connect is done), never a 410 that would make
    # Calendly delete the new subscription; nothing enqueued, no Secrets Manager read
    assert (reply.status, reply.error, queue.sent, client.calls) == (503, "unavailable", [], 0)


class FailingDynamoDB:
    """The table unavailable (an outage): every GetItem fails."""

    def __init__(self) -> None:
        self.calls = 0

    def get_item(self, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls += 1
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "gone"}}, "GetItem")


def test_a_cold_receiver_still_accepts_a_registered_connection_while_the_table_is_down() -> None:
    # Given a cold receiver and the bookings table unavailable (the registry cannot be asked)
    client, clock = CountingSecretsManager({PREFIX + "acme": encode_keys("k1")}), Clock()
    dynamodb = FailingDynamoDB()
    keys = receiver_keys(client, clock, dynamodb=dynamodb)
    body = event_body("invitee_created.json")
    headers = {"Calendly-Webhook-Signature": sign_header(b"k1", body, WALL), "Content-Type": "application/json"}
    # When Calendly delivers for a connection whose signing keys exist
    reply = receive(
        WebhookRequest("acme", headers, body.decode()),
        keys=keys,
        queue=(queue := FakeDeliveryQueue()),
        limits=ReceiverLimits(),
        now=WALL,
    )
    # Then the delivery is accepted and queued (the keys come from Secrets Manager, which also
    # tells an unknown id: the registry only spares it forged ids' reads), not a 503 to retry
    assert (reply.status, len(queue.sent)) == (202, 1)
    assert dynamodb.calls == 1
