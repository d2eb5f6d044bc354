"""JSON secrets in Secrets Manager, as both secret stores (signing keys, tokens) keep them.

The current version (``AWSCURRENT``) is read; a write creates the secret on first use; a
delete removes it at once and is a no-op when it is already gone. A missing secret is an
answer (``None``), not a failure. Secret values never appear in errors or logs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from calsync.aws import clients
from calsync.aws.errors import NOT_FOUND, answered, aws_call, unless

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def encode(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data))


def decode(text: str) -> dict[str, Any]:
    """The JSON object a secret holds; ``ValueError`` if it holds anything else."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("secret is not a JSON object")
    return data


def _suffix(what: str) -> str:
    return f" ({what})" if what else ""


def read(client: SecretsManagerClient, name: str, *, what: str = "") -> str | None:
    """The current value, or ``None`` if there is no such secret."""
    response = unless(
        NOT_FOUND,
        f"secretsmanager:GetSecretValue{_suffix(what)}",
        lambda: client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT"),
    )
    return None if response is None else response.get("SecretString", "")


def read_existing(client: SecretsManagerClient, name: str, *, what: str = "") -> str:
    """The current value of a secret that must exist (a missing one is a dependency failure)."""
    with aws_call(f"secretsmanager:GetSecretValue{_suffix(what)}"):
        response = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return response["SecretString"]


def write(
    client: SecretsManagerClient, name: str, value: str, *, what: str = "", request_token: str | None = None
) -> None:
    """Make ``value`` the current version, creating the secret if it does not exist yet.
    With ``request_token`` (derived from the value) a retried write is idempotent."""
    with aws_call(f"secretsmanager:PutSecretValue{_suffix(what)}"):
        if request_token is None:
            if answered(NOT_FOUND, lambda: client.put_secret_value(SecretId=name, SecretString=value)) is None:
                client.create_secret(Name=name, SecretString=value)
        elif (
            answered(
                NOT_FOUND,
                lambda: client.put_secret_value(SecretId=name, SecretString=value, ClientRequestToken=request_token),
            )
            is None
        ):
            client.create_secret(Name=name, SecretString=value, ClientRequestToken=request_token)


def delete(client: SecretsManagerClient, name: str, *, what: str = "") -> None:
    """Delete at once, without a recovery window; nothing to do if it is already gone."""
    unless(
        NOT_FOUND,
        f"secretsmanager:DeleteSecret{_suffix(what)}",
        lambda: client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True),
    )


class CachedJsonSecret:
    """A JSON secret that must exist, read once per ``ttl_seconds`` (an operator's change is
    picked up within that). A value that is not a JSON object reads as ``{}``: every field
    missing, which callers name in their own error."""

    def __init__(
        self,
        name: str,
        *,
        client: SecretsManagerClient | None = None,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        what: str = "",
    ) -> None:
        self.name = name
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._what = what
        self._cached: tuple[float, dict[str, Any]] | None = None

    def invalidate(self) -> None:
        """Read the secret again on the next ``get`` (after changing it)."""
        self._cached = None

    def get(self) -> dict[str, Any]:
        if self._cached is not None and self._cached[0] > self._clock():
            return self._cached[1]
        text = read_existing(self._client or clients.secretsmanager(), self.name, what=self._what)
        try:
            value = decode(text)
        except ValueError:
            value = {}
        self._cached = (self._clock() + self._ttl, value)
        return value
