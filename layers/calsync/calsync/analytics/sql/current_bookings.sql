-- current_bookings: the current state of each booking (its latest version), in no set order
-- (sort what you show: sorting a million rows costs more than the query).
-- Parameters, in order: since, until (start times, inclusive / exclusive; NULL = open),
-- connection_id (NULL = every connection), as_of (the "now" a booking's end has passed by).
WITH params AS (
    SELECT
        CAST(? AS timestamp) AS since,
        CAST(? AS timestamp) AS until,
        CAST(? AS varchar) AS connection_id,
        CAST(? AS timestamp) AS as_of
),
ranked AS (
    -- every booking's versions, latest first (its version, then its no-show version)
    SELECT
        e.invitee_uuid,
        e.event_uuid,
        e.connection_id,
        e.event_type,
        e.host_user,
        e.status,
        e.start_time,
        e.end_time,
        min(e.created_at) OVER (PARTITION BY e.invitee_uuid) AS created_at,
        e.no_show,
        e.canceled_by,
        e.rescheduled,
        e.utm_source,
        e.utm_campaign,
        e.submission_uuid,
        e.version,
        row_number() OVER (
            PARTITION BY e.invitee_uuid
            -- a tie (a live record and a backfilled one of the same version): the one naming the
            -- routing-form submission (a link only ever added) knows more
            ORDER BY e.version DESC NULLS LAST, e.no_show_version DESC NULLS LAST, e.submission_uuid DESC NULLS LAST
        ) AS recency
    FROM lifecycle_events AS e
    CROSS JOIN params AS p
    WHERE e.invitee_uuid IS NOT NULL
      AND e.kind <> 'Routing Form Submitted'
      AND (p.connection_id IS NULL OR e.connection_id = p.connection_id)
),
bookings AS (
    -- the current state of each booking that starts in [since, until)
    SELECT r.*
    FROM ranked AS r
    CROSS JOIN params AS p
    WHERE r.recency = 1
      AND (p.since IS NULL OR r.start_time >= p.since)
      AND (p.until IS NULL OR r.start_time < p.until)
)
SELECT
    b.connection_id,
    b.event_uuid,
    b.invitee_uuid,
    b.event_type,
    b.host_user,
    b.status,
    b.start_time,
    b.end_time,
    b.created_at,
    b.no_show,
    b.canceled_by,
    b.rescheduled,
    b.utm_source,
    b.utm_campaign,
    b.submission_uuid,
    b.version
FROM bookings AS b
