-- routing_forms: routing-form submissions by form, and the share that became bookings (the
-- submission led to a booking, or a booking names the submission). since/until bound the
-- submission's time.
-- Parameters, in order: since, until (inclusive / exclusive; NULL = open),
-- connection_id (NULL = every connection), as_of (unused here: every metric takes the same four).
WITH params AS (
    SELECT
        CAST(? AS timestamp) AS since,
        CAST(? AS timestamp) AS until,
        CAST(? AS varchar) AS connection_id,
        CAST(? AS timestamp) AS as_of
),
submissions AS (
    SELECT
        e.submission_uuid,
        max(e.routing_form_id) AS routing_form_id,
        max(CASE WHEN e.invitee_uuid IS NOT NULL THEN 1 ELSE 0 END) AS led_to_booking
    FROM lifecycle_events AS e
    CROSS JOIN params AS p
    WHERE e.kind = 'Routing Form Submitted'
      AND e.submission_uuid IS NOT NULL
      AND (p.connection_id IS NULL OR e.connection_id = p.connection_id)
      AND (p.since IS NULL OR coalesce(e.created_at, e.occurred_at) >= p.since)
      AND (p.until IS NULL OR coalesce(e.created_at, e.occurred_at) < p.until)
    GROUP BY 1
),
booked AS (
    SELECT DISTINCT e.submission_uuid
    FROM lifecycle_events AS e
    CROSS JOIN params AS p
    WHERE e.kind <> 'Routing Form Submitted'
      AND e.submission_uuid IS NOT NULL
      AND (p.connection_id IS NULL OR e.connection_id = p.connection_id)
)
SELECT
    s.routing_form_id,
    count(*) AS submissions,
    sum(CASE WHEN s.led_to_booking = 1 OR k.submission_uuid IS NOT NULL THEN 1 ELSE 0 END) AS booked,
    CAST(sum(CASE WHEN s.led_to_booking = 1 OR k.submission_uuid IS NOT NULL THEN 1 ELSE 0 END) AS double)
    / count(*) AS booked_share
FROM submissions AS s
LEFT JOIN booked AS k ON k.submission_uuid = s.submission_uuid
GROUP BY 1
ORDER BY 1
