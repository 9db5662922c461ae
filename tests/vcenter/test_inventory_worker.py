"""The scheduled sync and the sync lock with a real Celery worker on Redis, against PostgreSQL:
each platform has its beat entry, and two concurrent sync requests make exactly one sync."""

import os
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from kstack_naguan.celery import app
from tests.conftest import api_client_for, wait_for_task_log
from tests.factories import CloudPlatformFactory
from vcenter import schedule, sync
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.worker


def post_together(user, payloads):
    """POST /api/vcenter/sync from one thread per payload, released at the same instant."""
    barrier = threading.Barrier(len(payloads))
    responses = [None] * len(payloads)

    def post(index):
        client = api_client_for(user)
        try:
            barrier.wait(timeout=10)
            responses[index] = client.post("/api/vcenter/sync", payloads[index], format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def worker_log():
    # The fixture writes the worker's output to <artifacts>/celery-<queue>.log.
    queue = app.conf.task_default_queue
    folder = Path(os.environ.get("KSTACK_TEST_ARTIFACTS", "/tmp"))
    return (folder / f"celery-{queue}.log").read_text()


def test_worker_beat_entries_and_one_sync_for_two_concurrent_requests(
    celery_worker, vcsim, admin_user
):
    platforms = [CloudPlatformFactory.for_simulator(vcsim, name=f"beat-{i}") for i in range(2)]
    target, scheduled = platforms
    try:
        # Beat's database scheduler has one entry per platform, syncing that platform.
        entries = DatabaseScheduler(app=app, lazy=True).all_as_schedule()
        for platform in platforms:
            entry = entries[schedule.task_name(platform.pk)]
            assert entry.task == "vcenter.sync_all"
            assert entry.kwargs == {"platform_ids": [platform.pk]}
            assert entry.schedule.run_every.total_seconds() == 30 * 60
        assert PeriodicTask.objects.filter(name__startswith=schedule.NAME_PREFIX).count() == 2

        # Two requests at once: one is accepted, the other names the accepted sync's TaskLog.
        responses = post_together(admin_user, [{"platform": target.pk}] * 2)
        by_status = {response.status_code: response.json() for response in responses}
        assert sorted(by_status) == [202, 409], [r.json() for r in responses]
        task_id = by_status[202]["data"][0]["task_id"]
        assert by_status[409]["code"] == codes.CONFLICT.number
        assert by_status[409]["data"]["task_id"] == task_id

        task_log = wait_for_task_log(task_id)
        assert (task_log.status, task_log.code) == ("success", codes.SYNC_OK.number)
        assert TaskLog.objects.filter(name="vcenter.sync", object_id=str(target.pk)).count() == 1
        imported = EventLog.objects.get(action="imported", object_id=str(target.pk))
        assert imported.after == {"vms": vcsim.expected_vm_count}
        assert VirtualMachine.objects.filter(platform=target).count() == vcsim.expected_vm_count
        assert sync.sync_lock_holder(target.pk) is None

        # The other platform's beat entry, sent as beat sends it, syncs that platform.
        scheduler = DatabaseScheduler(app=app, lazy=True)
        scheduler.apply_async(scheduler.all_as_schedule()[schedule.task_name(scheduled.pk)])
        task_log = None
        for _attempt in range(300):
            task_log = TaskLog.objects.filter(object_id=str(scheduled.pk)).first()
            if task_log is not None:
                break
            time.sleep(0.2)
        assert task_log is not None, worker_log()[-2000:]
        task_log = wait_for_task_log(task_log.pk)
        assert task_log.status == "success", task_log.error
        assert VirtualMachine.objects.filter(platform=scheduled).count() == vcsim.expected_vm_count

        # One sync run per platform reached vCenter.
        assert worker_log().count("succeeded with 2400") == 2
    finally:
        for platform in platforms:
            sync.release_sync_lock(platform.pk, sync.sync_lock_holder(platform.pk))
