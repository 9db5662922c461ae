"""Celery tasks for a VM's devices and snapshots (snapshot revert).

Each task takes a TaskLog id first and records its outcome there through `audit.services.track`.
"""

import logging

from celery import shared_task

from audit.services import TaskFailed, track
from kstack_naguan.api import codes

from . import devices
from .client import VCenterAuthError, VCenterError, VCenterNotFound, VCenterUnreachable
from .models import VirtualMachine

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="vcenter.revert_snapshot")
def revert_snapshot(self, task_log_id, vm_id, snapshot_moid, snapshot_id=None):
    """Revert a VM to a snapshot: success 2302; 2304 when the VM or snapshot is gone.

    An unreachable vCenter ends the task with 920, another refusal (VM busy, bad state) with
    911 and vCenter's reason. Reverting twice lands in the same state, so a redelivery is safe.
    """
    with track(
        task_log_id, failure_code=codes.INTERNAL_ERROR, celery_task_id=self.request.id
    ) as run:
        if run is None:
            return
        vm = VirtualMachine.objects.select_related("platform").filter(pk=vm_id).first()
        if vm is None:
            raise TaskFailed(codes.SNAPSHOT_NOT_FOUND, f"VM {vm_id} is no longer in the inventory")
        try:
            result = devices.revert_snapshot(
                vm, snapshot_moid, user=run.task_log.user, progress=run.progress
            )
        except VCenterNotFound as exc:
            raise TaskFailed(
                codes.SNAPSHOT_NOT_FOUND, f"{vm.name}: snapshot {snapshot_id} is gone: {exc}"
            ) from exc
        except (VCenterUnreachable, VCenterAuthError) as exc:
            raise TaskFailed(codes.VCENTER_UNREACHABLE, f"{vm.platform.name}: {exc}") from exc
        except VCenterError as exc:
            raise TaskFailed(codes.CONFLICT, f"{vm.name}: {exc} ({exc.fault})") from exc
        run.succeed(codes.SNAPSHOT_REVERTED, result)
