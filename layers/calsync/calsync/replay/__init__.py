"""Replay: put kept deliveries back through the intake queues."""
