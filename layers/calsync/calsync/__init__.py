"""calsync: Calendly webhooks into durable, queryable booking data."""
