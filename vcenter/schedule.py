"""The scheduled inventory sync: one django-celery-beat periodic task per platform.

Each platform has a `PeriodicTask` named `vcenter.sync platform <id>` that runs `vcenter.sync_all`
for that platform every `SystemConfig.sync_interval_minutes` (30 when no configuration row
exists; 0 switches scheduled syncs off). The task is created or updated whenever a platform is
saved, disabled with an inactive platform, removed with a deleted one, and every platform's
task follows a new interval in the system configuration. Beat's database scheduler reads these
rows, so they also show, and can be edited, in the admin under *Periodic tasks*; an edit there
lasts until the platform is switched on or off or the configured interval changes.
"""

import json
import logging

from celery.signals import beat_init
from django.db.models.signals import post_delete, post_save, pre_save
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


def schedule_platform(platform, minutes=None, *, follow_activity=False):
    """Create the periodic sync of `platform`, or keep the existing one in step; return it.

    A new task runs every configured interval, enabled with an active platform. An existing one
    keeps what an operator set in the admin, except that `minutes` (a newly configured interval)
    replaces its interval, and `follow_activity` (the platform was switched on or off) its
    enabled flag.
    """
    configured = interval_minutes() if minutes is None else minutes
    fields = {
        "task": TASK,
        "args": "[]",
        "kwargs": json.dumps({"platform_ids": [platform.pk]}),
        "description": f"Inventory sync of {platform.name}",
    }
    task = PeriodicTask.objects.filter(name=task_name(platform.pk)).first()
    if task is None or minutes is not None:
        fields.update(interval=_interval(configured), crontab=None, solar=None, clocked=None)
        fields["one_off"] = False
    if task is None or minutes is not None or follow_activity:
        fields["enabled"] = bool(platform.is_active and configured > 0)
    created = task is None
    if created:
        task = PeriodicTask(name=task_name(platform.pk))
    changed = created or any(getattr(task, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(task, name, value)
    if changed:
        task.save()
        logger.info(
            "%s periodic sync of %s: every %s, %s",
            "created" if created else "updated",
            platform.name,
            task.interval,
            "enabled" if task.enabled else "disabled",
        )
    return task


def unschedule_platform(platform_id):
    """Remove the periodic sync of the platform `platform_id`."""
    deleted, _ = PeriodicTask.objects.filter(name=task_name(platform_id)).delete()
    if deleted:
        logger.info("removed periodic sync of platform %s", platform_id)


def sync_schedules(minutes=None):
    """Give every platform its periodic sync and remove those of platforms gone; `minutes` (a
    newly configured interval) applies to all of them."""
    wanted = set()
    for platform in CloudPlatform.objects.all():
        schedule_platform(platform, minutes)
        wanted.add(task_name(platform.pk))
    stale = PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).exclude(name__in=wanted)
    stale.delete()


@receiver(pre_save, sender=CloudPlatform, dispatch_uid="vcenter.schedule.platform_saving")
def _platform_saving(sender, instance, raw=False, **kwargs):
    # Whether the save switches the platform on or off, for `_platform_saved`.
    was = CloudPlatform.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    instance._schedule_follows_activity = was is not None and was != instance.is_active


@receiver(post_save, sender=CloudPlatform, dispatch_uid="vcenter.schedule.platform_saved")
def _platform_saved(sender, instance, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields and set(update_fields) <= _UNSCHEDULED_FIELDS):
        return
    follow = getattr(instance, "_schedule_follows_activity", False)
    schedule_platform(instance, follow_activity=follow)


@receiver(post_delete, sender=CloudPlatform, dispatch_uid="vcenter.schedule.platform_deleted")
def _platform_deleted(sender, instance, **kwargs):
    unschedule_platform(instance.pk)


@receiver(pre_save, sender=SystemConfig, dispatch_uid="vcenter.schedule.config_saving")
def _config_saving(sender, instance, raw=False, **kwargs):
    # The interval before the save, for `_config_saved`.
    instance._previous_interval = (
        SystemConfig.objects.filter(pk=instance.pk)
        .values_list("sync_interval_minutes", flat=True)
        .first()
    )


@receiver(post_save, sender=SystemConfig, dispatch_uid="vcenter.schedule.config_saved")
def _config_saved(sender, instance, raw=False, **kwargs):
    # Only a new interval is applied to every platform's sync; saving the configuration for
    # anything else leaves the operators' edits to the schedules alone.
    if raw:
        return
    changed = getattr(instance, "_previous_interval", None) != instance.sync_interval_minutes
    sync_schedules(interval_minutes() if changed else None)


@receiver(post_delete, sender=SystemConfig, dispatch_uid="vcenter.schedule.config_deleted")
def _config_deleted(sender, instance, **kwargs):
    sync_schedules(interval_minutes())


@beat_init.connect(dispatch_uid="vcenter.schedule.beat_init")
def _beat_started(sender=None, **kwargs):
    # Platforms created before this module existed get their periodic task when beat starts.
    sync_schedules()
