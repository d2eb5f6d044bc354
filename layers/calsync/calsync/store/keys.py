"""Every key of the bookings table: the only place a key format is spelled.

Single-table layout (``PK``/``SK`` strings; GSI1 and GSI2 are sparse, keys only where set):

==========================  ==========================  ==========================  ==========================
item (``type``)             PK                          SK                          index keys
==========================  ==========================  ==========================  ==========================
scheduled event (event)     EVENT#<event uuid>          EVENT                       GSI2PK TENANT#<connection>,
                                                                                    GSI2SK <start>#<event uuid>
invitee / booking           EVENT#<event uuid>          INVITEE#<invitee uuid>      GSI1PK EMAIL#<lower email>,
(invitee)                                                                           GSI1SK <start or ~>#<invitee uuid>
routing-form submission     EVENT#<event uuid>          SUBMISSION#<uuid>           (attribute ``invitee_sk``:
(routing_form_submission)   or SUBMISSION#<uuid>                                    the submitter's SK)
                            without a submitter
unmodelled event (other)    OTHER#<event name>          <created_at>#<body sha256>
raw delivery, TTL           DELIVERY#<body sha256>      DELIVERY
(delivery)
quarantined delivery        QUARANTINE#<body sha256>    QUARANTINE
(quarantine)
connection (connection)     CONNECTIONS                 CONNECTION#<connection id>  (refresh lease: attributes
                                                                                    ``lease_owner``/``lease_until``)
pending OAuth authorization OAUTHSTATE#<state>          OAUTHSTATE                  (TTL ``expires_at``)
(oauth_state)
==========================  ==========================  ==========================  ==========================

Timestamps in keys are ISO 8601 UTC with ``Z``; an unknown start sorts last (``~``). The
design's questions, one Query each: ``PK = EVENT#<uuid>`` (an event with its invitees);
GSI1 on ``EMAIL#<email>`` (a person's bookings by start); GSI2 on ``TENANT#<connection>``
between two starts (an organization's events in a window); ``PK = CONNECTIONS``.
"""

from __future__ import annotations

from typing import NamedTuple

PK = "PK"
SK = "SK"
GSI1 = "GSI1"  # invitees by email, ordered by start
GSI2 = "GSI2"  # events by tenant (connection), ordered by start
KEY_ATTRIBUTES = frozenset({PK, SK, "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"})
UNKNOWN_START = "~"  # sorts after every ISO timestamp
EARLIEST = "0"  # sorts before every ISO timestamp


class Key(NamedTuple):
    pk: str
    sk: str

    def attributes(self) -> dict[str, str]:
        """The key as item attributes (``{"PK": ..., "SK": ...}``)."""
        return {PK: self.pk, SK: self.sk}

    def dynamo(self) -> dict[str, dict[str, str]]:
        """The key as DynamoDB's ``Key`` parameter."""
        return {PK: {"S": self.pk}, SK: {"S": self.sk}}


# -- scheduled events, invitees, submissions -------------------------------------------


def event_pk(event_uuid: str) -> str:
    return f"EVENT#{event_uuid}"


def event(event_uuid: str) -> Key:
    return Key(event_pk(event_uuid), "EVENT")


def invitee_sk(invitee_uuid: str) -> str:
    return f"INVITEE#{invitee_uuid}"


def invitee(event_uuid: str, invitee_uuid: str) -> Key:
    return Key(event_pk(event_uuid), invitee_sk(invitee_uuid))


def submission(submission_uuid: str, event_uuid: str | None) -> Key:
    """Under its submitter's event when known, else on its own."""
    sk = f"SUBMISSION#{submission_uuid}"
    return Key(event_pk(event_uuid) if event_uuid else sk, sk)


def email_pk(email: str) -> str:
    return f"EMAIL#{email.strip().lower()}"


def email_sk(start: str | None, invitee_uuid: str) -> str:
    return f"{start or UNKNOWN_START}#{invitee_uuid}"


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def tenant_sk(start: str, event_uuid: str) -> str:
    return f"{start}#{event_uuid}"


def window(start: str | None, end: str | None) -> tuple[str, str]:
    """GSI sort-key bounds for starts in ``[start, end]`` (either open)."""
    return start or EARLIEST, (end or UNKNOWN_START) + "~"


# -- deliveries --------------------------------------------------------------------------


def delivery(body_sha256: str) -> Key:
    return Key(f"DELIVERY#{body_sha256}", "DELIVERY")


def quarantine(body_sha256: str) -> Key:
    return Key(f"QUARANTINE#{body_sha256}", "QUARANTINE")


def other(event_name: str, created_at: str | None, body_sha256: str) -> Key:
    return Key(f"OTHER#{event_name}", f"{created_at}#{body_sha256}")


# -- connections and OAuth ---------------------------------------------------------------

CONNECTIONS_PK = "CONNECTIONS"


def connection(connection_id: str) -> Key:
    return Key(CONNECTIONS_PK, f"CONNECTION#{connection_id}")


def oauth_state(state: str) -> Key:
    return Key(f"OAUTHSTATE#{state}", "OAUTHSTATE")


# -- reading keys back -------------------------------------------------------------------


def identity(key: Key) -> tuple[str, str]:
    """The ids a key holds, for read views: ``(event uuid or other id, item id)``.

    ``EVENT#e / INVITEE#i`` gives ``("e", "i")``; ``EVENT#e / EVENT`` gives ``("e", "")``;
    ``EVENT#e / SUBMISSION#s`` gives ``("e", "s")``, ``SUBMISSION#s / SUBMISSION#s`` gives
    ``("", "s")``; a delivery, quarantine or other item gives ``("", <body sha256>)``.
    """
    head, _, pk_id = key.pk.partition("#")
    kind, _, sk_id = key.sk.partition("#")
    if head == "EVENT":
        return pk_id, sk_id
    if head == "SUBMISSION":
        return "", sk_id
    if head in ("DELIVERY", "QUARANTINE"):
        return "", pk_id
    if head == "OTHER":
        return "", sk_id
    return pk_id, sk_id or kind
