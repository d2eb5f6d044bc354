"""Disconnecting a connection (``DELETE /v1/connections/{id}`` and ``calsync disconnect``).

The steps, each safe to run again:

1. the registry record becomes ``removed`` (kept, with ``removed_at`` and the steps still to
   do): from now on the receiver answers the connection's deliveries 410 Gone (Calendly then
   deletes the subscription itself) and the scheduled jobs skip it;
2. ``delete_subscription``: the webhook subscription at Calendly (already gone: fine; the token
   no longer accepted: fine too, the 410 does it);
3. ``revoke_token``: ``POST /oauth/revoke`` for the refresh and the access token (already
   invalid, 400/401: fine; a personal access token cannot be revoked by an API: its owner
   deletes it in Calendly);
4. ``delete_secrets``: the token secret and the signing-key secret (only once 2 and 3 are
   done: a re-run needs the token for them);
5. ``erase_data`` (asked for): the connection's events, invitees, submissions and reports, a
   page at a time.

A step that fails (Calendly or AWS unavailable) stays in the record's ``removal_pending`` and
the others go on; running the disconnect again does what is left. Everything happens under the
connection's lease (the one the token refresher and connect take), and every registry write is
conditioned on holding it: two disconnects at once, or a disconnect and a connect, never
interleave (the second is told 409). A disconnect of a connection already removed with nothing
left is answered like the first (200): a DELETE is idempotent.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from calsync import timefmt
from calsync.calendly.errors import CalendlyAuthError, CalendlyError, CalendlyNotFound, CalendlyPermissionError
from calsync.connections.each import unbounded
from calsync.connections.ports import Calendly, Registry, SecretRemover, TenantData, TokenRevoker, Tokens
from calsync.connections.records import Connection, StoredToken, TokenNotFound, TokenUnreadable
from calsync.connections.refresh import LEASE_SECONDS
from calsync.connections.subscriptions import ours
from calsync.errors import DependencyUnavailable


class Step(StrEnum):
    DELETE_SUBSCRIPTION = "delete_subscription"
    REVOKE_TOKEN = "revoke_token"  # noqa: S105 - a step name
    DELETE_SECRETS = "delete_secrets"
    ERASE_DATA = "erase_data"


STEPS = (Step.DELETE_SUBSCRIPTION, Step.REVOKE_TOKEN, Step.DELETE_SECRETS)
DONE = "done"
FAILED = "failed"


class DisconnectError(Exception):
    """The disconnect could not start: ``status`` 404 (unknown) or 409 (busy); the message is safe."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason

    def as_json(self) -> dict[str, str]:
        return {"error": self.reason, "message": str(self)}


@dataclass(frozen=True, slots=True)
class Disconnected:
    """What a disconnect did: each step it ran with its outcome (``done``, ``already_gone``,
    ``token_invalid``, ``not_applicable``, ``partial`` or ``failed``, with a ``detail``), and
    the steps still to do (empty: complete)."""

    connection_id: str
    removed_at: str
    erase_data: bool
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.remaining

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "connection_id": self.connection_id,
            "status": "removed",
            "removed_at": self.removed_at,
            "erase_data": self.erase_data,
            "erasure_id": None,
            "steps": self.steps,
        }
        if self.remaining:
            names = ", ".join(self.remaining)
            body.update(
                error="unavailable",
                message=f"Disconnected, but {names} could not be finished now; send the same request again later.",
                remaining=self.remaining,
            )
        return body


def _outcome(outcome: str, detail: str) -> dict[str, str]:
    return {"outcome": outcome, "detail": detail}


@dataclass
class Disconnector:
    registry: Registry
    tokens: Tokens
    secrets: SecretRemover
    calendly_for: Callable[[Connection], Calendly]
    revoker: Callable[[], TokenRevoker]  # built when first needed (reads the OAuth app secret)
    data: TenantData
    clock: Callable[[], float] = time.time

    def _now(self) -> str:
        return timefmt.iso_z(timefmt.from_epoch(self.clock()))

    def disconnect(
        self, connection_id: str, *, erase_data: bool = False, time_left: Callable[[], float] = unbounded
    ) -> Disconnected:
        """Disconnect (or finish disconnecting) ``connection_id``; ``DisconnectError`` if it is
        unknown or busy, ``DependencyUnavailable`` if the registry cannot be read or written."""
        connection = self.registry.get(connection_id)
        if connection is None:
            raise DisconnectError(404, "not_found", f"no connection {connection_id!r}")
        owner = f"disconnect-{secrets.token_hex(8)}"
        if not self.registry.acquire_lease(connection_id, owner=owner, now=int(self.clock()), seconds=LEASE_SECONDS):
            raise DisconnectError(
                409,
                "conflict",
                f"'{connection_id}' is being refreshed, connected or disconnected right now; try again in a few minutes.",
            )
        try:
            return self._under_lease(connection, owner, erase_data=erase_data, time_left=time_left)
        finally:
            with contextlib.suppress(DependencyUnavailable):  # the lease expires by itself (LEASE_SECONDS)
                self.registry.release_lease(connection_id, owner=owner)

    def _under_lease(
        self, connection: Connection, owner: str, *, erase_data: bool, time_left: Callable[[], float]
    ) -> Disconnected:
        cid, now = connection.connection_id, self._now()
        pending = [Step(s) for s in connection.removal_pending or []] if connection.status == "removed" else list(STEPS)
        if erase_data and Step.ERASE_DATA not in pending:
            pending.append(Step.ERASE_DATA)
        if not self.registry.mark_removed(cid, owner=owner, pending=[str(s) for s in pending], now=now):
            raise DisconnectError(409, "conflict", f"'{cid}' changed meanwhile; try again.")
        steps: dict[str, dict[str, str]] = {}
        remaining: list[Step] = []

        def ran(step: Step, outcome: str, detail: str) -> None:
            steps[step] = _outcome(outcome, detail)
            if outcome in (FAILED, "partial"):
                remaining.append(step)

        token, token_problem = self._token(connection) if {*STEPS[:2]} & {*pending} else (None, None)
        if Step.DELETE_SUBSCRIPTION in pending:
            ran(Step.DELETE_SUBSCRIPTION, *self._delete_subscription(connection, token, token_problem))
        if Step.REVOKE_TOKEN in pending:
            ran(Step.REVOKE_TOKEN, *self._revoke(token, token_problem))
        if Step.DELETE_SECRETS in pending:
            if remaining:
                ran(Step.DELETE_SECRETS, FAILED, "kept until the steps above are done (they need the token)")
            else:
                ran(Step.DELETE_SECRETS, *self._delete_secrets(connection))
        if Step.ERASE_DATA in pending:
            ran(Step.ERASE_DATA, *self._erase(cid, time_left))
        self.registry.removal_progress(cid, owner=owner, pending=[str(s) for s in remaining], now=self._now())
        return Disconnected(cid, connection.removed_at or now, erase_data, steps, [str(s) for s in remaining])

    def _token(self, connection: Connection) -> tuple[StoredToken | None, str | None]:
        """The stored token, or why there is none: ``None`` (none: nothing to use it for) or
        ``"unavailable"`` (Secrets Manager failed: the steps that need it wait)."""
        try:
            return self.tokens.get(connection.connection_id), None
        except (TokenNotFound, TokenUnreadable):
            return None, None
        except DependencyUnavailable:
            return None, "unavailable"

    def _delete_subscription(
        self, connection: Connection, token: StoredToken | None, problem: str | None
    ) -> tuple[str, str]:
        """The recorded subscription and any other of this connection's (a replacement's leftover)."""
        if problem is not None:
            return FAILED, "the token secret could not be read"
        if token is None:
            return "token_invalid", "no token: Calendly deletes the subscription when the receiver answers 410"
        calendly = self.calendly_for(connection)
        try:
            uris = self._subscriptions(calendly, connection)
            if not uris:
                return "not_applicable", "no subscription recorded or found"
            gone = 0
            for uri in uris:
                try:
                    calendly.delete_webhook_subscription(uri)
                except CalendlyNotFound:
                    gone += 1
        except (CalendlyAuthError, CalendlyPermissionError):
            return (
                "token_invalid",
                "the token is refused: Calendly deletes the subscription when the receiver answers 410",
            )
        except CalendlyError as exc:
            return FAILED, f"Calendly: {type(exc).__name__} {exc.status}"
        finally:
            calendly.close()
        if gone == len(uris):
            return "already_gone", "Calendly has no such subscription"
        return DONE, f"{len(uris) - gone} deleted at Calendly"

    @staticmethod
    def _subscriptions(calendly: Calendly, connection: Connection) -> list[str]:
        """The recorded subscription first, then the organization's others at this connection's
        URL (a listing Calendly refuses leaves the recorded one)."""
        found = [connection.subscription_uri] if connection.subscription_uri else []
        try:
            listed = calendly.list_webhook_subscriptions(connection.organization, "organization")
            found += [str(s.uri) for s in ours(listed, connection.callback_url) if str(s.uri) not in found]
        except (CalendlyNotFound, CalendlyPermissionError, CalendlyAuthError):
            pass
        return found

    def _revoke(self, token: StoredToken | None, problem: str | None) -> tuple[str, str]:
        if problem is not None:
            return FAILED, "the token secret could not be read"
        if token is None:
            return "not_applicable", "no token stored"
        if token.kind == "pat":
            return "not_applicable", "a personal access token: its owner deletes it in Calendly"
        try:
            revoker = self.revoker()
            for value in (token.refresh_token, token.access_token):
                if value:
                    try:
                        revoker.revoke(value)
                    except CalendlyError as exc:
                        if exc.status not in (400, 401):
                            raise
        except DependencyUnavailable:
            return FAILED, "the OAuth app secret could not be read"
        except CalendlyError as exc:
            return FAILED, f"Calendly: {type(exc).__name__} {exc.status}"
        return DONE, "revoked at Calendly (or already invalid)"

    def _delete_secrets(self, connection: Connection) -> tuple[str, str]:
        try:
            for name in (connection.token_secret, connection.signing_key_secret):
                if name:  # a webhooks-only connection has no token secret (Secrets Manager refuses "")
                    self.secrets.delete(name)
        except DependencyUnavailable:
            return FAILED, "Secrets Manager could not delete them"
        return DONE, "the token and signing-key secrets are deleted"

    def _erase(self, connection_id: str, time_left: Callable[[], float]) -> tuple[str, str]:
        try:
            finished = self.data.erase(connection_id, time_left=time_left)
        except DependencyUnavailable:
            return FAILED, "the table could not be read or written"
        return (DONE, "every stored item of the connection is deleted") if finished else ("partial", "time ran out")
