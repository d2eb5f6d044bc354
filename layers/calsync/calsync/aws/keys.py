"""Every key of the bookings table: the only place a key format is spelled.

Single-table layout (``PK``/``SK`` strings; GSI1 and GSI2 are sparse, keys only where set):

==========================  ==========================  ==========================  ==========================
item (``type``)             PK                          SK                          index keys
==========================  ==========================  ==========================  ==========================
scheduled event (event)     EVENT#<event uuid>          EVENT                       GSI2PK TENANT#<connection>,
                                                                                    GSI2SK <start>#<event uuid>
invitee / booking           EVENT#<event uuid>          INVITEE#<invitee uuid>      GSI1PK EMAIL#<lower email>,
(invitee)                                                                           GSI1SK <start or ~>#<invitee uuid>,
                                                                                    GSI2PK TENANT#<connection>,
                                                                                    GSI2SK <start>#<event uuid>#
                                                                                    <invitee uuid> (start known),
                                                                                    GSI3PK BOOKING#<connection>#
                                                                                    <invitee uuid>
meeting recap               EVENT#<event uuid>          RECAP#<recap uuid>          GSI3PK RECAP#<connection>#
(meeting_recap)             or RECAP#<connection>#                                  <recap uuid> (its lookup)
                            <recap uuid> (no event)
event type (event_type)     EVENTTYPES#<connection>     EVENTTYPE#<uuid>
contact (contact)           CONTACTS#<connection>       CONTACT#<uuid>              (``emails``: lower-cased)
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
replay outcome counts       REPLAY#<replay id>          REPLAY                      (TTL ``expires_at``)
(replay)
reconcile report            REPORT#<connection id>      REPORT#<started>#<run id>   (TTL ``expires_at``;
(reconcile_report)                                                                  newest last)
erased person (tombstone)   TOMBSTONE#<keyed hash>      TOMBSTONE (everywhere) or   (``erased_at``, ``scope``;
                                                        TOMBSTONE#CONNECTION#<id>   nothing else)
erasure request (status)    ERASURE#<erasure id>        ERASURE                     (``status``, ``scope``, counts;
(erasure_request)                                                                   never the address)
erasure audit record        ERASURES                    ERASURE#<erased at>#<id>
(erasure)
lifecycle event delivered   CONSUMED#<consumer>#        CONSUMED                    (TTL ``expires_at``; ``state``
by a consumer (consumed)    <event id>                                              pending/sent, ``claimant``)
a data migration's step     MIGRATIONS                  MIGRATION#<step name>       (``completed_at``, counts;
completed (migration)                                                               ``calsync migrate``)
==========================  ==========================  ==========================  ==========================

Timestamps in keys are ISO 8601 UTC with ``Z``, fixed width (``2026-12-01T10:00:00.000000Z``,
so lexical order is time order to the microsecond); keys written before that spell a
whole-second start without the fraction (``...T10:00:00Z``): ``window`` bounds cover both
spellings and ``start_of`` reads both, so a window query keeps only the starts inside it. An
unknown start sorts last (``~``). The
design's questions, one Query each: ``PK = EVENT#<uuid>`` (an event with its invitees);
GSI1 on ``EMAIL#<email>`` (a person's bookings by start); GSI2 on ``TENANT#<connection>``
between two starts (an organization's events in a window, each followed by its invitees: an
invitee's GSI2SK extends its event's, so one Query reads a page of bookings in start, event
uuid, invitee uuid order; ``is_event_entry`` tells the two apart); GSI3 on
``BOOKING#<connection>#<invitee uuid>`` (one booking of one connection by its invitee's uuid,
for the read API: the connection is in the key, so another tenant's booking is not found);
``PK = CONNECTIONS``. GSI1 and GSI3 project keys only (an invitee's change of state writes no index entry): its Query gives the
bookings and their order, one BatchGetItem per 100 reads them; GSI2 projects every attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from calsync import timefmt
from calsync.errors import Unstorable

PK = "PK"
SK = "SK"
GSI1 = "GSI1"  # invitees by email, ordered by start
GSI2 = "GSI2"  # events and their invitees by tenant (connection), ordered by start
GSI3 = "GSI3"  # one booking of a tenant (connection) by its invitee uuid
KEY_ATTRIBUTES = frozenset({PK, SK, "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK"})
KEYS_ONLY_INDEXES = frozenset({GSI1, GSI3})  # template.yaml projects these KEYS_ONLY (the rest ALL)
UNKNOWN_START = "~"  # sorts after every ISO timestamp
EARLIEST = "0"  # sorts before every ISO timestamp
_LEGACY_SECOND = "%Y-%m-%dT%H:%M:%SZ"  # how keys written before spelled a whole second
# DynamoDB's limits (UTF-8 bytes), for the table's and its indexes' keys alike: a longer key is
# refused on every try, so it is found here, before any call, and the input quarantined.
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
_KEY_LIMITS = {
    PK: PARTITION_KEY_MAX_BYTES,
    SK: SORT_KEY_MAX_BYTES,
    "GSI1PK": PARTITION_KEY_MAX_BYTES,
    "GSI1SK": SORT_KEY_MAX_BYTES,
    "GSI2PK": PARTITION_KEY_MAX_BYTES,
    "GSI2SK": SORT_KEY_MAX_BYTES,
    "GSI3PK": PARTITION_KEY_MAX_BYTES,
}


class Key(NamedTuple):
    pk: str
    sk: str

    def attributes(self) -> dict[str, str]:
        """The key as item attributes (``{"PK": ..., "SK": ...}``)."""
        return {PK: self.pk, SK: self.sk}

    def dynamo(self) -> dict[str, dict[str, str]]:
        """The key as DynamoDB's ``Key`` parameter."""
        return {PK: {"S": self.pk}, SK: {"S": self.sk}}


def check_sizes(what: str, attributes: Mapping[str, object]) -> None:
    """Raise ``Unstorable`` when a key attribute (table or index) is over DynamoDB's limit; the
    reason names the item and the attribute, never the value (it may hold an address)."""
    for name, limit in _KEY_LIMITS.items():
        value = attributes.get(name)
        if isinstance(value, str) and (size := len(value.encode("utf-8", "surrogatepass"))) > limit:
            kind = "partition" if limit == PARTITION_KEY_MAX_BYTES else "sort"
            raise Unstorable(
                f"the {what}'s {name} is {size} bytes, over DynamoDB's {limit}-byte limit for a {kind} key"
            )


# -- scheduled events, invitees, submissions -------------------------------------------


def event_pk(event_uuid: str) -> str:
    return f"EVENT#{event_uuid}"


def event(event_uuid: str) -> Key:
    return Key(event_pk(event_uuid), "EVENT")


def invitee_sk(invitee_uuid: str) -> str:
    return f"INVITEE#{invitee_uuid}"


def invitee(event_uuid: str, invitee_uuid: str) -> Key:
    return Key(event_pk(event_uuid), invitee_sk(invitee_uuid))


def invitees_from(invitee_uuid: str | None) -> tuple[str, str]:
    """SK bounds (inclusive) holding an event's invitees in uuid order, from ``invitee_uuid``
    (or the first): nothing else under the event (its ``EVENT`` item, submissions) is inside."""
    return invitee_sk(invitee_uuid or ""), invitee_sk("~")


def submission(submission_uuid: str, event_uuid: str | None) -> Key:
    """Under its submitter's event when known, else on its own."""
    sk = f"SUBMISSION#{submission_uuid}"
    return Key(event_pk(event_uuid) if event_uuid else sk, sk)


def resource(kind: str, tenant: str, uuid: str, event_uuid: str | None = None) -> Key:
    """Where a typed resource of a connection lives: an event type or a contact in its
    connection's partition (one Query lists them), a meeting recap under its scheduled event
    (one Query returns both) or, for an external meeting, on its own."""
    match kind:
        case "event_type":
            return Key(f"EVENTTYPES#{tenant}", f"EVENTTYPE#{uuid}")
        case "contact":
            return Key(f"CONTACTS#{tenant}", f"CONTACT#{uuid}")
        case "meeting_recap":
            return (
                Key(event_pk(event_uuid), f"RECAP#{uuid}")
                if event_uuid
                else Key(recap_pk(tenant, uuid), f"RECAP#{uuid}")
            )
    raise ValueError(f"not a resource kind: {kind}")


def resources_pk(kind: str, tenant: str) -> str:
    """The partition of a connection's event types or contacts."""
    return resource(kind, tenant, "-").pk


def recap_pk(tenant: str, recap_uuid: str) -> str:
    """A meeting recap's lookup key (GSI3PK; the partition of a recap without an event)."""
    return f"RECAP#{tenant}#{recap_uuid}"


def email_pk(email: str) -> str:
    return f"EMAIL#{email.strip().lower()}"


def start_key(start: str | datetime) -> str:
    """A start time as index sort keys spell it (fixed width, UTC; no zone means UTC)."""
    return timefmt.sortable(datetime.fromisoformat(start) if isinstance(start, str) else start)


def start_of(sort_key: str) -> datetime | None:
    """The start a GSI1SK/GSI2SK holds (either spelling); ``None`` when unknown."""
    head = sort_key.partition("#")[0]
    return None if head == UNKNOWN_START else timefmt.utc(datetime.fromisoformat(head))


def email_sk(start: str | None, invitee_uuid: str) -> str:
    return f"{start_key(start) if start else UNKNOWN_START}#{invitee_uuid}"


def booking_pk(tenant: str, invitee_uuid: str) -> str:
    """GSI3's key of one tenant's (connection's) invitee: a connection id holds no ``#``."""
    return f"BOOKING#{tenant}#{invitee_uuid}"


def tenant_pk(tenant: str) -> str:
    return f"TENANT#{tenant}"


def tenant_sk(start: str, event_uuid: str) -> str:
    return f"{start_key(start)}#{event_uuid}"


def tenant_invitee_sk(start: str, event_uuid: str, invitee_uuid: str) -> str:
    """An invitee's GSI2SK: its event's, then its uuid, so the event's entry sorts just before
    its invitees (in uuid order) and the next event's after them."""
    return f"{tenant_sk(start, event_uuid)}#{invitee_uuid}"


def is_event_entry(sk: str) -> bool:
    """Whether a GSI2 entry (its table ``SK``) is a scheduled event's, not an invitee's."""
    return sk == "EVENT"


def window(start: datetime | None, end: datetime | None) -> tuple[str, str]:
    """GSI sort-key bounds that hold every start in ``[start, end]`` (either open) in both
    spellings: the upper bound reaches the end of ``end``'s second, where a key written
    before without a fraction sorts. They may hold a few starts outside the window too
    (within ``end``'s second, or a whole-second key of ``start``'s second): keep the keys
    whose ``start_of`` is inside it (``in_window``)."""
    lo = start_key(start) if start is not None else EARLIEST
    hi = timefmt.utc(end).strftime(_LEGACY_SECOND) if end is not None else UNKNOWN_START
    return lo, hi + "~"


def in_window(sort_key: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether a sort key's start is in ``[start, end]``; an unknown start only when the
    window has no end (it sorts last)."""
    at = start_of(sort_key)
    if at is None:
        return end is None
    return (start is None or at >= timefmt.utc(start)) and (end is None or at <= timefmt.utc(end))


# -- deliveries --------------------------------------------------------------------------


def delivery(body_sha256: str) -> Key:
    return Key(f"DELIVERY#{body_sha256}", "DELIVERY")


def quarantine(body_sha256: str) -> Key:
    return Key(f"QUARANTINE#{body_sha256}", "QUARANTINE")


def other(event_name: str, created_at: str | None, body_sha256: str) -> Key:
    return Key(f"OTHER#{event_name}", f"{created_at}#{body_sha256}")


def replay(replay_id: str) -> Key:
    return Key(f"REPLAY#{replay_id}", "REPLAY")


def report_pk(connection_id: str) -> str:
    return f"REPORT#{connection_id}"


def report(connection_id: str, started_at: datetime, run_id: str) -> Key:
    """A reconcile run's report; sort keys in start order (the latest is the last)."""
    return Key(report_pk(connection_id), f"REPORT#{timefmt.sortable(started_at)}#{run_id}")


# -- erasure -------------------------------------------------------------------------

TOMBSTONE_PREFIX = "TOMBSTONE#"
ERASURES_PK = "ERASURES"


TOMBSTONE_SK = "TOMBSTONE"
TOMBSTONE_SCOPED_PREFIX = "TOMBSTONE#CONNECTION#"


def tombstone(address_hash: str, connection_id: str | None = None) -> Key:
    """An erased person: only the keyed hash of the address (``erasure.rules.address_hash``).
    Erased everywhere (``connection_id`` None; every tombstone written before scopes existed) or
    from one connection's data only: one partition per person, so one Query reads every scope."""
    sk = TOMBSTONE_SK if connection_id is None else f"{TOMBSTONE_SCOPED_PREFIX}{connection_id}"
    return Key(f"{TOMBSTONE_PREFIX}{address_hash}", sk)


def erasure_request(erasure_id: str) -> Key:
    """An erasure asked for through the API: its status and counts (``erasure.requests``)."""
    return Key(f"ERASURE#{erasure_id}", "ERASURE")


def erasure(erased_at: str, erasure_id: str) -> Key:
    """One erasure's audit record; one partition, so ``calsync erase --list`` is one Query."""
    return Key(ERASURES_PK, f"ERASURE#{erased_at}#{erasure_id}")


# -- consumers of lifecycle events --------------------------------------------------------


def consumed_prefix(consumer: str) -> str:
    """Every claim of one consumer starts so (its IAM policy's ``dynamodb:LeadingKeys``)."""
    return f"CONSUMED#{consumer}#"


def consumed(consumer: str, event_id: str) -> Key:
    """One consumer's claim on one lifecycle event (``lifecycle.once``): a partition each."""
    return Key(f"{consumed_prefix(consumer)}{event_id}", "CONSUMED")


# -- data migrations ---------------------------------------------------------------------

MIGRATIONS_PK = "MIGRATIONS"


def migration(step: str) -> Key:
    """The record of one completed migration step (``calsync.migrate``); one partition, one Query."""
    return Key(MIGRATIONS_PK, f"MIGRATION#{step}")


# -- connections and OAuth ---------------------------------------------------------------

CONNECTIONS_PK = "CONNECTIONS"


def connection(connection_id: str) -> Key:
    return Key(CONNECTIONS_PK, f"CONNECTION#{connection_id}")


def oauth_state(state: str) -> Key:
    return Key(f"OAUTHSTATE#{state}", "OAUTHSTATE")


def rate_budget(connection_id: str) -> Key:
    """A connection's shared Calendly rate budget (``connections.budget``): its own partition, so
    the busiest connections' budget writes never share the connections' partition."""
    return Key(f"RATE#{connection_id}", "RATE")


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
