"""Booking lifecycle events: what calsync tells the rest of the company when stored booking
state really changes (derived from old vs new stored images, never from deliveries)."""
