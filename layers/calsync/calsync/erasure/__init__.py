"""Erasure: whose data a value holds, tombstones, and finding and removing one person's data."""
