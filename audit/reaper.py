"""The stale-task reaper: no TaskLog stays pending or running forever.

A worker that dies in the middle of a task (killed, out of memory, its machine lost) never
writes the outcome. Celery delivers the task again (`acks_late`, `reject_on_worker_lost`, and
the broker's visibility timeout for a worker that vanished whole), and `audit.services.track`
runs it once more. When that does not happen either (the message was lost with the broker, or
no worker came back in time), this reaper ends the row: a TaskLog pending or running with no
update for `settings.KSTACK_TASK_STALE_SECONDS` becomes a failure with the operation's failure
code and an error saying the worker was lost. A task delivered after that finds its TaskLog
finished and does nothing.

Running tasks touch `updated_at` whenever they report progress, so only silence counts. The
deadline is longer than the longest wait on a vCenter task (`KSTACK_VCENTER_TASK_TIMEOUT`).
Beat runs `audit.reap_stale_tasks` every five minutes (`CELERY_BEAT_SCHEDULE` in settings).
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.dispatch import Signal
from django.utils import timezone

from kstack_naguan.api import codes

from .models import TaskLog, TaskLogStatusChoices

logger = logging.getLogger(__name__)

TASK = "audit.reap_stale_tasks"

# Sent with `task_log=` for each TaskLog the reaper ends, so that the app whose task it was can
# let go of what the dead task held (a platform's sync lock).
task_reaped = Signal()

# The failure code of each tracked task, as its Celery task passes it to `track`; a TaskLog of
# any other name ends with 999.
FAILURE_CODES = {
    "vcenter.sync": codes.SYNC_FAILED,
    "vcenter.create": codes.VM_CREATE_TASK_FAILED,
    "vcenter.clone": codes.VM_CLONE_FAILED,
    "vcenter.migrate": codes.VM_MIGRATE_FAILED,
    "vcenter.ip": codes.VM_IP_FAILED,
}


def stale_seconds():
    """Seconds of silence after which a pending or running TaskLog counts as abandoned."""
    return int(settings.KSTACK_TASK_STALE_SECONDS)


def reap_stale_tasks(older_than=None, *, now=None):
    """End every TaskLog pending or running without an update for `older_than` seconds.

    Each becomes a failure with its operation's failure code and an error naming how long it
    was silent. The update re-checks status and `updated_at`, so a task that reports progress
    or finishes meanwhile is left alone. Returns the ids of the TaskLogs ended.
    """
    seconds = stale_seconds() if older_than is None else int(older_than)
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=seconds)
    unfinished = [TaskLogStatusChoices.PENDING, TaskLogStatusChoices.RUNNING]
    candidates = TaskLog.objects.filter(status__in=unfinished, updated_at__lt=cutoff)

    # One guarded UPDATE per row: a row that moved since it was read is not touched.
    reaped = []
    for task_log in candidates.only("id", "name", "status", "updated_at"):
        code = FAILURE_CODES.get(task_log.name, codes.INTERNAL_ERROR)
        error = (
            f"worker lost: the task stayed {task_log.status} with no update for over "
            f"{seconds} s and was ended by the stale-task reaper"
        )
        updated = TaskLog.objects.filter(
            pk=task_log.pk, status=task_log.status, updated_at=task_log.updated_at
        ).update(
            status=TaskLogStatusChoices.FAILURE,
            code=code.number,
            message=code.msg[:255],
            error=error,
            finished_at=now,
            updated_at=now,
        )
        if updated:
            reaped.append(task_log.pk)
            task_reaped.send(sender=TaskLog, task_log=TaskLog.objects.get(pk=task_log.pk))
            logger.warning(
                "TaskLog %s (%s) %s for over %s s: ended as failed",
                task_log.pk,
                task_log.name,
                task_log.status,
                seconds,
            )
    if reaped:
        logger.info("stale-task reaper ended %s TaskLogs", len(reaped))
    return reaped


@shared_task(name=TASK)
def reap_stale_tasks_task(older_than=None):
    """Celery entry point for beat: end abandoned TaskLogs and return their ids."""
    return reap_stale_tasks(older_than)
