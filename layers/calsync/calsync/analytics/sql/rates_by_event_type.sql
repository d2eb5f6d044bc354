-- rates_by_event_type: cancellation, reschedule and no-show rates by event type.
-- cancellation_rate = canceled (not to reschedule) / bookings; reschedule_rate = rescheduled away / bookings;
-- no_show_rate = no-shows / bookings that ended before as_of and were not canceled.
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
        e.end_time,
        e.no_show,
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
counted AS (
    SELECT
        b.event_type,
        CASE WHEN b.status = 'canceled' AND NOT coalesce(b.rescheduled, FALSE) THEN 1 ELSE 0 END AS canceled,
        CASE WHEN b.status = 'canceled' AND coalesce(b.rescheduled, FALSE) THEN 1 ELSE 0 END AS rescheduled,
        CASE WHEN b.status <> 'canceled' AND b.end_time < p.as_of THEN 1 ELSE 0 END AS ended,
        CASE WHEN b.status <> 'canceled' AND b.end_time < p.as_of AND coalesce(b.no_show, FALSE) THEN 1 ELSE 0 END AS no_show
    FROM bookings AS b
    CROSS JOIN params AS p
)
SELECT
    c.event_type,
    count(*) AS bookings,
    sum(c.canceled) AS canceled,
    sum(c.rescheduled) AS rescheduled,
    sum(c.ended) AS ended,
    sum(c.no_show) AS no_shows,
    CAST(sum(c.canceled) AS double) / count(*) AS cancellation_rate,
    CAST(sum(c.rescheduled) AS double) / count(*) AS reschedule_rate,
    CAST(sum(c.no_show) AS double) / nullif(sum(c.ended), 0) AS no_show_rate
FROM counted AS c
GROUP BY 1
ORDER BY 1
