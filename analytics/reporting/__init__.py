"""Reporting: the read side (stats, analytics, request detail, the dashboard's data)."""
