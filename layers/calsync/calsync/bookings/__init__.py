"""Booking state and the rules that merge Calendly deliveries into it (no AWS here)."""
