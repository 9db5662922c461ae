"""The nightly retention job as a django-celery-beat periodic task, editable in the admin.

`ensure_schedule` creates the `audit.prune_logs` periodic task (03:30 every night, in the
portal's time zone) when beat starts and none exists yet; an operator's later edit in the admin
(another time, switched off) is kept.
"""

import logging

from celery.signals import beat_init
from django.conf import settings
from django_celery_beat.models import CrontabSchedule, PeriodicTask

logger = logging.getLogger(__name__)

TASK = "audit.prune_logs"
NAME = "audit.prune_logs nightly"


def ensure_schedule():
    """Create the nightly periodic task unless it exists; return it."""
    task = PeriodicTask.objects.filter(name=NAME).first()
    if task is not None:
        return task
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task = PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        crontab=crontab,
        description="Delete request, event and finished task logs older than the retention days "
        "of the system configuration.",
    )
    logger.info("scheduled %s nightly at 03:30", TASK)
    return task


@beat_init.connect(dispatch_uid="audit.schedule.beat_init")
def _beat_started(sender=None, **kwargs):
    ensure_schedule()
