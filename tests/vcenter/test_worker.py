"""The sync task run by a real Celery worker process on Redis, against PostgreSQL."""

import pytest

from kstack_naguan.api import codes
from tests.conftest import wait_for_task_log
from tests.factories import CloudPlatformFactory
from vcenter import services
from vcenter.models import VirtualMachine

pytestmark = pytest.mark.worker


def test_worker_runs_sync_task(celery_worker, vcsim):
    platform = CloudPlatformFactory.for_simulator(vcsim, name="worker-sim")
    task_log = services.start_sync(platform)
    assert task_log.status == "pending"

    task_log = wait_for_task_log(task_log.pk)
    assert task_log.status == "success", task_log.error
    assert task_log.code == codes.SYNC_OK.number
    assert task_log.celery_task_id
    assert VirtualMachine.objects.filter(platform=platform).count() == vcsim.expected_vm_count
