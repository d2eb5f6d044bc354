-- bookings_per_week: bookings by the ISO week (Monday) they start in, by event type;
-- a booking rescheduled away is not counted (its replacement is).
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
        e.status,
        e.start_time,
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
)
SELECT
    CAST(date_trunc('week', b.start_time) AS date) AS week,
    b.event_type,
    count(*) AS bookings,
    sum(CASE WHEN b.status = 'canceled' THEN 1 ELSE 0 END) AS canceled
FROM bookings AS b
WHERE NOT coalesce(b.rescheduled, FALSE)
GROUP BY 1, 2
ORDER BY 1, 2
