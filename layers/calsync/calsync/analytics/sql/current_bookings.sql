-- current_bookings: the current state of each booking (its latest version), in no set order
-- (sort what you show: sorting a million rows costs more than the query). A booking is its invitee
-- uuid (Calendly's invitee uuids are unique); its event uuid stays in the lake but is not read here:
-- a random id on every record, it alone would cost a third of the bytes scanned.
-- Parameters, in order: since, until (start times, inclusive / exclusive; NULL = open),
-- connection_id (NULL = every connection), as_of (the "now" a booking's end has passed by).
WITH params AS (
    SELECT
        CAST(? AS timestamp) AS since,
        CAST(? AS timestamp) AS until,
        CAST(? AS varchar) AS connection_id,
        CAST(? AS timestamp) AS as_of
),
latest AS (
    -- one row per booking, in one pass: its latest version's fields, and its earliest created_at.
    -- Latest: the greatest version, then no-show version, then (a live record and a backfilled one
    -- of the same version) the one naming the routing-form submission, a link only ever added.
    -- The key's fields are never NULL ('' sorts first, as NULLS LAST does descending): Athena cannot
    -- order ROWs with NULL fields. The value is one ROW, never NULL: DuckDB's max_by skips rows whose
    -- value is NULL, Trino's does not.
    SELECT
        e.invitee_uuid,
        max_by(
            CAST(
                ROW(
                    e.connection_id, e.event_type, e.host_user, e.status, e.start_time, e.end_time, e.no_show,
                    e.canceled_by, e.rescheduled, e.utm_source, e.utm_campaign, e.submission_uuid, e.version
                ) AS ROW(
                    connection_id varchar, event_type varchar, host_user varchar, status varchar,
                    start_time timestamp, end_time timestamp, no_show boolean, canceled_by varchar,
                    rescheduled boolean, utm_source varchar, utm_campaign varchar, submission_uuid varchar,
                    version varchar
                )
            ),
            ROW(coalesce(e.version, ''), coalesce(e.no_show_version, ''), coalesce(e.submission_uuid, ''))
        ) AS b,
        min(e.created_at) AS created_at
    FROM lifecycle_events AS e
    CROSS JOIN params AS p
    WHERE e.invitee_uuid IS NOT NULL
      AND e.kind <> 'Routing Form Submitted'
      AND (p.connection_id IS NULL OR e.connection_id = p.connection_id)
    GROUP BY e.invitee_uuid
)
SELECT
    l.b.connection_id AS connection_id,
    l.invitee_uuid,
    l.b.event_type AS event_type,
    l.b.host_user AS host_user,
    l.b.status AS status,
    l.b.start_time AS start_time,
    l.b.end_time AS end_time,
    l.created_at,
    l.b.no_show AS no_show,
    l.b.canceled_by AS canceled_by,
    l.b.rescheduled AS rescheduled,
    l.b.utm_source AS utm_source,
    l.b.utm_campaign AS utm_campaign,
    l.b.submission_uuid AS submission_uuid,
    l.b.version AS version
FROM latest AS l
CROSS JOIN params AS p
-- the bookings that start in [since, until)
WHERE (p.since IS NULL OR l.b.start_time >= p.since)
  AND (p.until IS NULL OR l.b.start_time < p.until)
