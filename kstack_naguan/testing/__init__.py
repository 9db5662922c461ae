"""Helpers for tests and the demo (vCenter simulator launcher)."""
