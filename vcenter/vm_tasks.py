"""Celery tasks for the long VM operations: create, clone, cold migrate and IP customization.

Each task takes its TaskLog id first and a plan that `vcenter.operations` validated when the
request was accepted; `audit.services.track` moves the TaskLog through running to success or
failure, and the vCenter task's id and progress reach it through `TaskRun.progress`. A task
whose TaskLog already ended (a redelivery under `acks_late`) does nothing.
"""

from celery import shared_task

from audit.services import track
from kstack_naguan.api import codes

from . import operations


@shared_task(bind=True, name="vcenter.create")
def create_vm(self, task_log_id, platform_id, plan):
    """Create a VM from `plan`: 2000 with its id and moid, or 2005-2008 with vCenter's reason."""
    with track(
        task_log_id, failure_code=codes.VM_CREATE_TASK_FAILED, celery_task_id=self.request.id
    ) as run:
        if run is None:
            return
        run.succeed(codes.VM_CREATED, operations.run_create(run, platform_id, plan))


@shared_task(bind=True, name="vcenter.clone")
def clone_vm(self, task_log_id, platform_id, source, plan):
    """Clone VM `source`: 2050 with the clone's id and moid, or 2053/2054 with the reason."""
    with track(
        task_log_id, failure_code=codes.VM_CLONE_FAILED, celery_task_id=self.request.id
    ) as run:
        if run is None:
            return
        run.succeed(codes.VM_CLONED, operations.run_clone(run, platform_id, source, plan))


@shared_task(bind=True, name="vcenter.migrate")
def migrate_vm(self, task_log_id, platform_id, moid, plan):
    """Cold-migrate VM `moid`: 2060, or 2063 with vCenter's reason."""
    with track(
        task_log_id, failure_code=codes.VM_MIGRATE_FAILED, celery_task_id=self.request.id
    ) as run:
        if run is None:
            return
        run.succeed(codes.VM_MIGRATED, operations.run_migrate(run, platform_id, moid, plan))


@shared_task(bind=True, name="vcenter.ip")
def assign_ip(self, task_log_id, platform_id, moid, plan):
    """Customize VM `moid`'s guest network: 2070, or 2071/2072/2073 with the reason."""
    with track(task_log_id, failure_code=codes.VM_IP_FAILED, celery_task_id=self.request.id) as run:
        if run is None:
            return
        run.succeed(codes.VM_IP_ASSIGNED, operations.run_customize(run, platform_id, moid, plan))
