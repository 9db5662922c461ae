"""The stale-task reaper ends TaskLogs a dead worker left pending or running, and only those."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from audit.models import TaskLog
from audit.reaper import FAILURE_CODES, reap_stale_tasks, reap_stale_tasks_task
from kstack_naguan.api import codes
from kstack_naguan.celery import app
from vcenter import sync
from vcenter import tasks as vcenter_tasks
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.django_db


def _task_log(name, status, silent_seconds, **fields):
    task_log = TaskLog.objects.create(name=name, status=status, **fields)
    TaskLog.objects.filter(pk=task_log.pk).update(
        updated_at=timezone.now() - timedelta(seconds=silent_seconds)
    )
    return task_log


def test_reap_stale_tasks_ends_silent_running_and_pending_logs():
    sync = _task_log("vcenter.sync", "running", 600, attempts=1, progress=40)
    clone = _task_log("vcenter.clone", "pending", 600)
    other = _task_log("audit.something", "running", 600)
    busy = _task_log("vcenter.sync", "running", 5)
    done = _task_log("vcenter.sync", "success", 600, code=2400)

    reaped = reap_stale_tasks(older_than=300)

    assert sorted(reaped) == sorted([sync.pk, clone.pk, other.pk])
    sync.refresh_from_db()
    assert (sync.status, sync.code, sync.attempts, sync.progress) == ("failure", 2401, 1, 40)
    assert "worker lost" in sync.error and "300 s" in sync.error
    assert sync.finished_at is not None
    clone.refresh_from_db()
    assert (clone.status, clone.code) == ("failure", codes.VM_CLONE_FAILED.number)
    other.refresh_from_db()
    assert (other.status, other.code) == ("failure", codes.INTERNAL_ERROR.number)
    busy.refresh_from_db()
    assert busy.status == "running" and busy.code is None
    done.refresh_from_db()
    assert (done.status, done.code, done.error) == ("success", 2400, "")


def test_reap_stale_tasks_default_deadline_outlasts_redelivery_and_vcenter_waits():
    assert settings.KSTACK_TASK_STALE_SECONDS > settings.KSTACK_BROKER_VISIBILITY_TIMEOUT
    assert settings.KSTACK_BROKER_VISIBILITY_TIMEOUT > settings.KSTACK_VCENTER_TASK_TIMEOUT
    task_log = _task_log("vcenter.sync", "running", settings.KSTACK_TASK_STALE_SECONDS - 60)
    assert reap_stale_tasks() == []
    TaskLog.objects.filter(pk=task_log.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.KSTACK_TASK_STALE_SECONDS + 1)
    )
    assert reap_stale_tasks_task.delay().get() == [task_log.pk]


def test_failure_codes_name_every_tracked_vcenter_task():
    assert set(FAILURE_CODES) >= {"vcenter.sync", "vcenter.create", "vcenter.clone"}
    assert all(code.number in codes.REGISTRY for code in FAILURE_CODES.values())


def _silent_sync(platform):
    """A sync of `platform` left running, silent for ten minutes, by a worker that died."""
    return _task_log(
        "vcenter.sync",
        "running",
        600,
        attempts=1,
        object_type="platforms.CloudPlatform",
        object_id=str(platform.pk),
    )


def test_reaped_sync_delivered_again_does_nothing(platform):
    """A sync redelivered after the reaper ended its TaskLog must not run a second time."""
    task_log = _silent_sync(platform)
    reap_stale_tasks(older_than=300)

    vcenter_tasks.sync_platform.apply(args=[task_log.pk, platform.pk])

    task_log.refresh_from_db()
    assert (task_log.status, task_log.code, task_log.attempts) == ("failure", 2401, 1)
    assert not VirtualMachine.objects.exists()


def test_reaping_a_dead_sync_frees_its_platforms_sync_lock(api, platform):
    """A worker killed mid-sync leaves its lock behind; once the reaper ends that sync, the
    next sync of the platform starts at once instead of answering 911 until the lock expires."""
    task_log = _silent_sync(platform)
    assert sync.claim_sync_lock(platform.pk)  # what the dead worker held
    refused = api.post("/api/vcenter/sync", {"platform": platform.pk}, format="json")
    assert refused.json()["code"] == codes.CONFLICT.number

    assert reap_stale_tasks(older_than=300) == [task_log.pk]

    assert sync.sync_lock_holder(platform.pk) is None
    response = api.post("/api/vcenter/sync", {"platform": platform.pk}, format="json")
    assert response.status_code == 202, response.json()


@pytest.mark.django_db(transaction=True)
def test_beat_schedule_runs_the_reaper_every_five_minutes():
    # (transaction=True: the scheduler closes the connection, which would end a test's
    # transaction.)
    app.loader.import_default_modules()
    assert "audit.reap_stale_tasks" in app.tasks
    entry = settings.CELERY_BEAT_SCHEDULE["audit.reap_stale_tasks"]
    assert entry == {"task": "audit.reap_stale_tasks", "schedule": 300.0}

    # Beat's database scheduler writes the entry into its table when it starts.
    DatabaseScheduler(app=app).setup_schedule()
    periodic = PeriodicTask.objects.get(name="audit.reap_stale_tasks")
    assert periodic.task == "audit.reap_stale_tasks" and periodic.enabled
    assert periodic.interval.every == 300 and periodic.interval.period == "seconds"
