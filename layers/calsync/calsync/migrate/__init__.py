"""Data migrations: named, idempotent steps an operator runs after an upgrade (``calsync migrate``)."""
