"""A Celery worker killed (SIGKILL) in the middle of a task: delivered again, or reaped.

The sync is slowed by the simulator (`-method-delay RetrievePropertiesEx:1500`, every property
read takes 1.5 s) so that the worker can be killed while the task runs. Killing the whole
worker (solo pool) leaves the message unacknowledged in Redis (`acks_late`); once the broker's
visibility timeout (2 s here, an hour by default) has passed, the next worker takes it again.
Needs PostgreSQL and Redis (CELERY_BROKER_URL); skipped otherwise, with the reason.
"""

import time
from unittest import mock

import pytest
from pyVmomi import vim

from audit.models import TaskLog
from audit.reaper import reap_stale_tasks
from kstack_naguan.api import codes
from kstack_naguan.testing.vcsim import Simulator
from vcenter import services, sync, vm_tasks
from vcenter.models import VirtualMachine

from ..conftest import VCSIM_PASSWORD, VCSIM_USER, wait_for_task_log
from ..factories import CloudPlatformFactory
from .conftest import record_figure
from .workers import own_broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.vcsim]

VISIBILITY_TIMEOUT = 2


@pytest.fixture
def slow_sim():
    with Simulator(
        username=VCSIM_USER,
        password=VCSIM_PASSWORD,
        extra_args=("-method-delay", "RetrievePropertiesEx:1500"),
    ) as sim:
        yield sim


def _kill_mid_sync(broker, platform):
    """Start a sync on a worker and SIGKILL the worker while the sync reads vCenter."""
    worker = broker.start_worker()
    task_log = services.start_sync(platform)
    wait_until(
        lambda: TaskLog.objects.filter(pk=task_log.pk, status="running").exists(),
        30,
        "the worker starting the sync",
    )
    time.sleep(0.5)  # inside the first slowed property read
    broker.kill(worker)
    task_log.refresh_from_db()
    assert task_log.status == "running" and task_log.attempts == 1
    assert not VirtualMachine.objects.filter(platform=platform).exists()
    return task_log


def test_kill_worker_mid_sync_delivers_the_task_again(transactional_db, slow_sim):
    platform = CloudPlatformFactory.for_simulator(slow_sim, name="slow")
    with own_broker(VISIBILITY_TIMEOUT) as broker:
        task_log = _kill_mid_sync(broker, platform)

        # Past the visibility timeout, a new worker takes the task again and finishes it.
        time.sleep(VISIBILITY_TIMEOUT + 0.5)
        broker.start_worker()
        task_log = wait_for_task_log(task_log.pk, timeout=120)

    assert (task_log.status, task_log.code, task_log.attempts) == ("success", 2400, 2)
    assert VirtualMachine.objects.filter(platform=platform).count() == slow_sim.vm_count
    record_figure(
        "worker_killed_mid_sync_redelivered",
        workers_killed=1,
        deliveries=task_log.attempts,
        outcome=task_log.status,
        vms_mirrored=slow_sim.vm_count,
    )


def test_kill_worker_mid_sync_then_reaper_ends_it_and_redelivery_is_a_no_op(
    transactional_db, slow_sim
):
    platform = CloudPlatformFactory.for_simulator(slow_sim, name="slow")
    with own_broker(VISIBILITY_TIMEOUT) as broker:
        task_log = _kill_mid_sync(broker, platform)

        # No worker comes back in time: the reaper ends the TaskLog.
        time.sleep(VISIBILITY_TIMEOUT + 0.5)
        assert reap_stale_tasks(older_than=1) == [task_log.pk]

        # The message is still delivered again, and the task then does nothing.
        worker = broker.start_worker()
        celery_id = TaskLog.objects.get(pk=task_log.pk).celery_task_id
        wait_until(
            lambda: f"[{celery_id}] succeeded" in worker.log_path.read_text(),
            60,
            "the redelivered task",
        )

    task_log.refresh_from_db()
    assert (task_log.status, task_log.code, task_log.attempts) == ("failure", 2401, 1)
    assert "worker lost" in task_log.error
    assert not VirtualMachine.objects.filter(platform=platform).exists()
    record_figure(
        "worker_killed_mid_sync_reaped",
        workers_killed=1,
        outcome=task_log.status,
        code=task_log.code,
        second_run_wrote_rows=0,
    )


@pytest.mark.django_db
def test_clone_delivered_again_after_its_vm_exists_does_not_clone_twice(api, fresh_synced, vsphere):
    """A worker that dies after vCenter made the clone but before the TaskLog said so leaves the
    row running; the task delivered again must not make a second VM. (vcsim finishes a clone
    inside the call, so the death is staged: the TaskLog is set back to running by hand.)"""
    response, sent = _clone_once(api, fresh_synced)
    assert response.status_code == 202, response.json()
    task_log = TaskLog.objects.get(pk=response.json()["data"]["task_id"])
    assert (task_log.status, task_log.code) == ("success", codes.VM_CLONED.number)

    # The staged death: the outcome was never written.
    TaskLog.objects.filter(pk=task_log.pk).update(status="running", code=None, result=None)
    outcome = vm_tasks.clone_vm.apply(
        args=sent.call_args.kwargs["args"], kwargs=sent.call_args.kwargs["kwargs"]
    )
    assert outcome.successful(), outcome.traceback

    # The second delivery follows the first one's vCenter task to the VM it made: success,
    # with that VM, and still one VM of that name.
    first = task_log
    task_log.refresh_from_db()
    assert (task_log.status, task_log.code) == ("success", codes.VM_CLONED.number)
    assert task_log.attempts == 2
    assert task_log.vcenter_task == first.vcenter_task
    assert task_log.result["moid"] == first.result["moid"]
    names = _vm_names(vsphere)
    assert names.count("twice-clone") == 1
    assert VirtualMachine.objects.filter(name="twice-clone").count() == 1
    record_figure("clone_delivered_twice", deliveries=2, vms_made=1, second_outcome="success 2050")


@pytest.mark.parametrize("vcenter_task", ["", "task-424242"], ids=["none", "unknown-to-vcenter"])
def test_clone_delivered_again_without_a_vcenter_task_refuses_the_taken_name(
    api, fresh_synced, vsphere, vcenter_task
):
    """With no vCenter task on record (the worker died before vCenter answered the clone
    call), a VM of the name means someone else's: the delivery is refused (2054), not doubled."""
    response, sent = _clone_once(api, fresh_synced)
    task_log = TaskLog.objects.get(pk=response.json()["data"]["task_id"])
    TaskLog.objects.filter(pk=task_log.pk).update(
        status="running", code=None, result=None, vcenter_task=vcenter_task
    )
    vm_tasks.clone_vm.apply(
        args=sent.call_args.kwargs["args"], kwargs=sent.call_args.kwargs["kwargs"]
    )
    task_log.refresh_from_db()
    assert (task_log.status, task_log.code) == ("failure", codes.VM_CLONE_FAILED.number)
    assert "already exists" in task_log.error
    assert _vm_names(vsphere).count("twice-clone") == 1


def _clone_once(api, platform):
    """Clone DC0_H0_VM0 as "twice-clone"; return the answer and the task's sent arguments."""
    vm = VirtualMachine.objects.get(platform=platform, name="DC0_H0_VM0")
    with mock.patch.object(
        vm_tasks.clone_vm, "apply_async", wraps=vm_tasks.clone_vm.apply_async
    ) as sent:
        response = api.post(
            f"/api/vcenter/vms/{vm.pk}/clone", {"name": "twice-clone"}, format="json"
        )
    return response, sent


def _vm_names(content):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return [machine.name for machine in view.view]
    finally:
        view.Destroy()


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:1/0"])
def test_task_queued_while_the_broker_is_down_answers_503_and_ends_its_task_log(
    transactional_db, api, platform, broker, monkeypatch
):
    """A broker that cannot be reached answered 500 and left a TaskLog pending for the reaper
    to call "worker lost" an hour later; now the caller hears 503 with 914 and the row ends at
    once, and the platform's sync lock is free for the next try."""
    from kstack_naguan.celery import app

    from .workers import _reset_producer_pool

    names = ("task_always_eager", "broker_url", "task_publish_retry")
    old = {name: app.conf[name] for name in names}
    monkeypatch.setenv("CELERY_BROKER_URL", broker)  # Celery reads it before its own setting
    app.conf.update(task_always_eager=False, broker_url=broker, task_publish_retry=False)
    _reset_producer_pool(app)
    try:
        response = api.post("/api/vcenter/sync", {"platform": platform.pk}, format="json")
    finally:
        monkeypatch.undo()
        app.conf.update(old)
        _reset_producer_pool(app)

    body = response.json()
    assert response.status_code == 503, body
    assert body["code"] == codes.QUEUE_UNAVAILABLE.number
    task_log = TaskLog.objects.get(pk=body["data"]["task_id"])
    assert (task_log.status, task_log.code) == ("failure", codes.QUEUE_UNAVAILABLE.number)
    assert task_log.finished_at is not None

    assert sync.sync_lock_holder(platform.pk) is None  # the next sync may start
