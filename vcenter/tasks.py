"""Celery tasks for vCenter work; each takes a TaskLog id first and records its outcome there."""

import logging

from celery import shared_task

from audit.services import TaskFailed, track
from kstack_naguan.api import codes
from platforms.models import CloudPlatform

from . import sync
from .client import VCenterError

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="vcenter.sync_platform")
def sync_platform(self, task_log_id, platform_id, lock_token=None):
    """Mirror one platform's inventory; success 2400 with the report, failure 2401 with why.

    The platform's sync lock is held for the whole run: `lock_token` is the one claimed when the
    sync was queued (`services.start_sync`). If another sync holds the lock, the run ends at once
    as a failure with 911 CONFLICT and mirrors nothing.
    """
    with track(task_log_id, failure_code=codes.SYNC_FAILED, celery_task_id=self.request.id) as run:
        if run is None:
            return
        platform = CloudPlatform.objects.filter(pk=platform_id).first()
        if platform is None:
            raise TaskFailed(codes.SYNC_FAILED, f"platform {platform_id} no longer exists")
        with sync.sync_lock(platform.pk, lock_token) as held:
            if not held:
                raise TaskFailed(codes.CONFLICT, f"a sync of {platform.name} is already running")
            try:
                report = sync.sync_platform(platform, user=run.task_log.user)
            except VCenterError as exc:
                raise TaskFailed(codes.SYNC_FAILED, f"{platform.name}: {exc}") from exc
        run.succeed(codes.SYNC_OK, {"platform": platform.pk, **report.as_dict()})


@shared_task(name="vcenter.sync_all")
def sync_all(platform_ids=None):
    """Queue a sync of the named platforms, or of every active one; the beat schedule runs this.

    A platform whose sync is still running is skipped. Returns the TaskLog ids queued.
    """
    from . import services  # services imports this module

    platforms = services.active_platforms()
    if platform_ids is not None:
        platforms = platforms.filter(pk__in=platform_ids)
    queued = []
    for platform in platforms:
        try:
            queued.append(services.start_sync(platform).pk)
        except services.SyncRunning as exc:
            logger.info("scheduled sync of %s skipped: %s", platform.name, exc)
    return queued
