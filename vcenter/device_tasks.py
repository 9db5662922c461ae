"""Celery tasks for a VM's devices and snapshots (snapshot revert)."""
