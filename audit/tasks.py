"""Celery tasks of the audit app: the retention job that beat runs every night."""

from celery import shared_task

from . import services


@shared_task(name="audit.prune_logs")
def prune_logs(days=None):
    """Delete logs older than `days` (default: the configured retention); return the counts."""
    return services.prune_logs(days)
