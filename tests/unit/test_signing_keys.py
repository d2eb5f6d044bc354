"""What forged traffic costs the receiver's signing-key lookups: AWS calls counted on a fake
Secrets Manager client (no AWS, no sockets)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from calsync import compose
from calsync.config import ReceiverSettings
from calsync.store.secrets import SecretsManagerSigningKeys, encode_keys
from calsync.webhooks.routing import QueueKind

PREFIX = "calsync/test/signing-keys/"


class FakeSecretsManager:
    """Counts GetSecretValue calls; knows only the secrets it was given."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.calls = 0

    def get_secret_value(self, *, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.calls += 1
        if SecretId not in self.secrets:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetSecretValue")
        return {"SecretString": self.secrets[SecretId]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def receiver_keys(client: FakeSecretsManager, clock: Clock) -> SecretsManagerSigningKeys:
    """The signing keys exactly as the receiver Lambda builds them (the composition root)."""
    settings = ReceiverSettings.model_validate(
        {
            "signing_key_prefix": PREFIX,
            "queue_urls": {kind: f"https://sqs.local/{kind}" for kind in QueueKind},
        }
    )
    keys = compose.receiver(settings, secretsmanager=client, sqs=object()).keys  # type: ignore[arg-type]
    keys.clock = clock
    return keys


def test_forged_requests_with_ever_new_connection_ids_cost_a_bounded_number_of_lookups() -> None:
    # Given the receiver's key store and a flood of forged requests, each with a new connection id,
    # at 100 requests a second for ten minutes
    client, clock = FakeSecretsManager({PREFIX + "acme": encode_keys("k")}), Clock()
    keys = receiver_keys(client, clock)
    for n in range(60_000):
        clock.now += 0.01
        # When each is looked up, each reads as unknown
        assert keys.keys_for(f"forged{n}") is None
    # Then Secrets Manager was asked at most the lookup budget (burst + rate × 600 s), not 60,000 times
    assert client.calls <= keys.lookup_burst + keys.lookups_per_second * 600
    # And the cache holds a bounded number of entries
    assert keys.cached <= keys.max_known + keys.max_unknown


def test_a_known_connection_keeps_answering_through_a_flood_and_its_ttl_refresh() -> None:
    # Given a real connection whose keys are cached, and a flood that spends the lookup budget
    client, clock = FakeSecretsManager({PREFIX + "acme": encode_keys("k", "old")}), Clock()
    keys = receiver_keys(client, clock)
    assert keys.keys_for("acme") == (b"k", b"old")
    for n in range(5_000):
        keys.keys_for(f"forged{n}")
    # When its cache entry has expired mid-flood
    clock.now += 10_000
    for n in range(5_000):
        keys.keys_for(f"later{n}")
    # Then it is still answered (its refresh does not depend on the budget forged ids spend)
    calls = client.calls
    assert keys.keys_for("acme") == (b"k", b"old")
    assert client.calls == calls + 1


def test_a_connection_refused_for_budget_is_found_once_the_budget_refills() -> None:
    # Given the budget is spent by forged ids
    client, clock = FakeSecretsManager({}), Clock()
    keys = receiver_keys(client, clock)
    for n in range(1_000):
        keys.keys_for(f"forged{n}")
    # And a new connection's secret exists, but its first delivery finds no budget left
    client.secrets[PREFIX + "newco"] = encode_keys("fresh")
    assert keys.keys_for("newco") is None
    # When Calendly retries a few seconds later (a refused lookup is not remembered as unknown)
    clock.now += 5
    # Then the key is found
    assert keys.keys_for("newco") == (b"fresh",)


def test_a_repeated_unknown_id_costs_one_lookup_per_negative_ttl() -> None:
    client, clock = FakeSecretsManager({}), Clock()
    keys = receiver_keys(client, clock)
    for _ in range(1_000):
        clock.now += 0.01
        assert keys.keys_for("nobody") is None
    assert client.calls == 1


def test_without_a_budget_every_lookup_is_answered_and_the_cache_stays_bounded() -> None:
    # Given the key store as the connections service builds it (no lookup budget: it must always know)
    secrets = {PREFIX + f"c{n}": encode_keys(f"k{n}") for n in range(0, 30_000, 3)}
    client, clock = FakeSecretsManager(secrets), Clock()
    keys = SecretsManagerSigningKeys(PREFIX, ttl_seconds=300, client=client, clock=clock)  # type: ignore[arg-type]
    # When many connections, known and unknown, are looked up
    for n in range(30_000):
        found = keys.keys_for(f"c{n}")
        # Then each existing secret is found
        assert (found is not None) == (n % 3 == 0)
    assert client.calls == 30_000
    # And the cache is bounded
    assert keys.cached <= keys.max_known + keys.max_unknown
