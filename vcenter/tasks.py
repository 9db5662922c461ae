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
def sync_platform(self, task_log_id, platform_id):
    """Mirror one platform's inventory; success 2400 with the report, failure 2401 with why."""
    with track(task_log_id, failure_code=codes.SYNC_FAILED, celery_task_id=self.request.id) as run:
        if run is None:
            return
        platform = CloudPlatform.objects.filter(pk=platform_id).first()
        if platform is None:
            raise TaskFailed(codes.SYNC_FAILED, f"platform {platform_id} no longer exists")
        try:
            report = sync.sync_platform(platform, user=run.task_log.user)
        except VCenterError as exc:
            raise TaskFailed(codes.SYNC_FAILED, f"{platform.name}: {exc}") from exc
        run.succeed(codes.SYNC_OK, {"platform": platform.pk, **report.as_dict()})
