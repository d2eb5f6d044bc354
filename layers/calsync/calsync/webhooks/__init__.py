"""Calendly webhook deliveries: signatures, envelope models and routing (no AWS here)."""
