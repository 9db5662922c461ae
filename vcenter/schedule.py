"""The scheduled inventory sync: one django-celery-beat periodic task per platform.

Each platform has a `PeriodicTask` named `vcenter.sync platform <id>` that runs `vcenter.sync_all`
for that platform every `SystemConfig.sync_interval_minutes` (30 when no configuration row
exists; 0 switches scheduled syncs off). The task is created or updated whenever a platform is
saved, disabled with an inactive platform, removed with a deleted one, and every platform's
task follows a change of the system configuration. Beat's database scheduler reads these rows,
so they also show, and can be edited, in the admin under *Periodic tasks*; an edit lasts until
the platform or the configuration is saved again.
"""

import json
import logging

from celery.signals import beat_init
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from platforms.models import CloudPlatform
from systemconfig.models import SystemConfig

logger = logging.getLogger(__name__)

TASK = "vcenter.sync_all"
NAME_PREFIX = "vcenter.sync platform "
DEFAULT_INTERVAL_MINUTES = 30

# Saving only these fields (the sync stamps `last_synced_at`) leaves the schedule alone.
_UNSCHEDULED_FIELDS = {"last_synced_at", "updated_at"}


def task_name(platform_id):
    """The name of the periodic task that syncs the platform `platform_id`."""
    return f"{NAME_PREFIX}{platform_id}"


def interval_minutes():
    """Minutes between scheduled syncs, from the system configuration (30 without one)."""
    config = SystemConfig.current()
    return config.sync_interval_minutes if config is not None else DEFAULT_INTERVAL_MINUTES


def _interval(minutes):
    every = max(1, minutes)
    schedule = IntervalSchedule.objects.filter(every=every, period=IntervalSchedule.MINUTES).first()
    return schedule or IntervalSchedule.objects.create(every=every, period=IntervalSchedule.MINUTES)


def schedule_platform(platform, minutes=None):
    """Create or update the periodic sync of `platform`; return its `PeriodicTask`."""
    minutes = interval_minutes() if minutes is None else minutes
    enabled = bool(platform.is_active and minutes > 0)
    task, created = PeriodicTask.objects.update_or_create(
        name=task_name(platform.pk),
        defaults={
            "task": TASK,
            "interval": _interval(minutes),
            "crontab": None,
            "solar": None,
            "clocked": None,
            "args": "[]",
            "kwargs": json.dumps({"platform_ids": [platform.pk]}),
            "enabled": enabled,
            "one_off": False,
            "description": f"Inventory sync of {platform.name}",
        },
    )
    logger.info(
        "%s periodic sync of %s: every %s min, %s",
        "created" if created else "updated",
        platform.name,
        minutes,
        "enabled" if enabled else "disabled",
    )
    return task


def unschedule_platform(platform_id):
    """Remove the periodic sync of the platform `platform_id`."""
    deleted, _ = PeriodicTask.objects.filter(name=task_name(platform_id)).delete()
    if deleted:
        logger.info("removed periodic sync of platform %s", platform_id)


def sync_schedules():
    """Bring every platform's periodic sync in step with the platforms and the configuration."""
    minutes = interval_minutes()
    wanted = set()
    for platform in CloudPlatform.objects.all():
        schedule_platform(platform, minutes)
        wanted.add(task_name(platform.pk))
    stale = PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).exclude(name__in=wanted)
    stale.delete()


@receiver(post_save, sender=CloudPlatform, dispatch_uid="vcenter.schedule.platform_saved")
def _platform_saved(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields and set(update_fields) <= _UNSCHEDULED_FIELDS):
        return
    schedule_platform(instance)


@receiver(post_delete, sender=CloudPlatform, dispatch_uid="vcenter.schedule.platform_deleted")
def _platform_deleted(sender, instance, **kwargs):
    unschedule_platform(instance.pk)


@receiver(post_save, sender=SystemConfig, dispatch_uid="vcenter.schedule.config_saved")
@receiver(post_delete, sender=SystemConfig, dispatch_uid="vcenter.schedule.config_deleted")
def _config_changed(sender, raw=False, **kwargs):
    if not raw:
        sync_schedules()


@beat_init.connect(dispatch_uid="vcenter.schedule.beat_init")
def _beat_started(sender=None, **kwargs):
    # Platforms created before this module existed get their periodic task when beat starts.
    sync_schedules()
