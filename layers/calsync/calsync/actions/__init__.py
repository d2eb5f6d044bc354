"""Acting through calsync: book, cancel and mark no-shows through Calendly's Scheduling API on a
connection's managed token, storing each result the way the processors store a webhook (docs/actions.md)."""
