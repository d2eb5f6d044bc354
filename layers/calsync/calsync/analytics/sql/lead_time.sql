-- lead_time: how far ahead people book, created → start, in hours: median and p90 by event type
-- (bookings not rescheduled away; a reschedule's new booking counts from the reschedule).
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
        e.event_type,
        e.start_time,
        min(e.created_at) OVER (PARTITION BY e.invitee_uuid) AS created_at,
        e.rescheduled,
        row_number() OVER (
            PARTITION BY e.invitee_uuid
            ORDER BY e.version DESC NULLS LAST, e.no_show_version DESC NULLS LAST
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
),
leads AS (
    SELECT b.event_type, CAST(date_diff('second', b.created_at, b.start_time) AS double) / 3600 AS hours
    FROM bookings AS b
    WHERE NOT coalesce(b.rescheduled, FALSE) AND b.created_at IS NOT NULL
)
SELECT
    l.event_type,
    count(*) AS bookings,
    approx_percentile(l.hours, 0.5) AS median_hours,
    approx_percentile(l.hours, 0.9) AS p90_hours
FROM leads AS l
GROUP BY 1
ORDER BY 1
