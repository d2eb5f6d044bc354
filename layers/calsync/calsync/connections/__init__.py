"""Calendly connections: OAuth/PAT connect, token refresh, subscription watchdog."""
