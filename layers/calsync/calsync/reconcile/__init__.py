"""Completeness: reconcile what is stored with what Calendly's API lists."""
