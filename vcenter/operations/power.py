"""The operations that run in the request: a live read (query), power, delete and resize."""

import logging

from rest_framework import status as http_status

from audit.services import record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

from ..client import VCenterError, client_for_platform
from ..client import vms as vc
from ..locks import one_change_at_a_time
from ..models import VirtualMachine
from ..sync import refresh_vm
from .common import (
    POWERED_OFF,
    POWERED_ON,
    SUSPENDED,
    Outcome,
    api_error,
    live_state,
    refresh_mirror,
    refused,
    vcenter_errors,
    vm_summary,
    wait,
)

logger = logging.getLogger(__name__)


def refresh(vm):
    """Read one VM live from vCenter into the mirror and return its row (2031 when it fails)."""
    try:
        with vcenter_errors(codes.VM_QUERY_FAILED):
            row = refresh_vm(vm.platform, vm.moid)
    except ApiError:
        logger.warning("live read of VM %s (%s) failed", vm.moid, vm.platform.name)
        raise
    if row is None:
        raise refused(
            codes.VM_QUERY_FAILED,
            "vCenter no longer has this VM; it was removed from the inventory.",
            http_status.HTTP_404_NOT_FOUND,
        )
    return row


POWER_ACTIONS = {
    # action: (success code, failure code, the state it leads to)
    "on": (codes.VM_POWERED_ON, codes.VM_POWER_ON_FAILED, POWERED_ON),
    "off": (codes.VM_POWERED_OFF, codes.VM_POWER_OFF_FAILED, POWERED_OFF),
    "suspend": (codes.VM_SUSPENDED, codes.VM_SUSPEND_FAILED, SUSPENDED),
    # A reboot that fails leaves the VM unable to come back on; the seed has no code of its own.
    "reboot": (codes.VM_REBOOTED, codes.VM_POWER_ON_FAILED, POWERED_ON),
}


@one_change_at_a_time
def power(user, vm, action):
    """Power `vm` on or off, suspend or reboot it, in the request.

    Asking for the state the VM is already in changes nothing and answers the action's success
    code with `changed: false`. Reboot restarts the guest through VMware Tools when they run
    and resets the VM otherwise; `method` in the answer says which.
    """
    if action not in POWER_ACTIONS:
        raise ApiError(
            codes.VM_BAD_ACTION,
            data={"errors": {"action": [f"Choose one of: {', '.join(POWER_ACTIONS)}."]}},
        )
    success, failure, target = POWER_ACTIONS[action]
    client, state = live_state(vm, failure)
    current = state["power_state"]

    # Answer plainly when there is nothing to do, refuse what vSphere would refuse.
    if action in ("on", "off", "suspend") and current == target:
        row = refresh_mirror(vm.platform, vm.moid)
        return Outcome(
            success,
            row,
            {"changed": False, "detail": f"The VM was already {target}; nothing was done."},
        )
    if action == "suspend" and current != POWERED_ON:
        raise refused(failure, f"Only a powered-on VM can be suspended; this one is {current}.")
    if action == "reboot" and current != POWERED_ON:
        raise refused(failure, f"Only a powered-on VM can be rebooted; this one is {current}.")

    # Ask vCenter: a guest reboot returns at once, the others are tasks.
    method = None
    with vcenter_errors(failure):
        if action == "reboot" and state["tools_running"]:
            client.call(vc.reboot_guest, vm.moid)
            method = "guest_reboot"
        else:
            vc_action = "reset" if action == "reboot" else action
            method = "reset" if action == "reboot" else None
            wait(client, client.call(vc.start_power, vm.moid, vc_action))

    # Mirror and audit the change.
    row = refresh_mirror(vm.platform, vm.moid)
    record_event(
        user,
        f"power_{action}",
        row or vm,
        before={"power_state": current},
        after={"power_state": row.power_state if row else None, "method": method},
    )
    logger.info("VM %s (%s): power %s done", vm.moid, vm.platform.name, action)
    data = {"changed": True}
    if method:
        data["method"] = method
    return Outcome(success, row, data)


@one_change_at_a_time
def delete(user, vm, force=False):
    """Destroy `vm` in vCenter and drop it from the mirror (2010; 2011 when refused).

    A powered-on VM is refused unless `force`, which powers it off first. A VM vCenter no longer
    has is simply removed from the mirror.
    """
    failure = codes.VM_DELETE_FAILED
    client = client_for_platform(vm.platform)
    try:
        with vcenter_errors(failure):
            state = client.call(vc.read_state, vm.moid)
    except ApiError as exc:
        if exc.status != http_status.HTTP_404_NOT_FOUND:
            raise
        record_event(user, "delete", vm, before=vm_summary(vm), message="already gone")
        VirtualMachine.objects.filter(pk=vm.pk).delete()
        return Outcome(
            codes.VM_DELETED, None, {"detail": "vCenter no longer had this VM.", "changed": False}
        )

    if state["power_state"] == POWERED_ON and not force:
        raise refused(
            failure,
            "The VM is powered on. Power it off first, or delete with force=true to power it "
            "off and delete it.",
        )

    powered_off = state["power_state"] == POWERED_ON
    with vcenter_errors(failure):
        if powered_off:
            wait(client, client.call(vc.start_power, vm.moid, "off"))
        wait(client, client.call(vc.start_destroy, vm.moid))

    record_event(user, "delete", vm, before=vm_summary(vm), after=None)
    refresh_mirror(vm.platform, vm.moid)
    VirtualMachine.objects.filter(pk=vm.pk).delete()
    logger.info("VM %s (%s) deleted", vm.moid, vm.platform.name)
    return Outcome(codes.VM_DELETED, None, {"changed": True, "powered_off": powered_off})


@one_change_at_a_time
def resize(user, vm, cpu=None, memory_mb=None):
    """Change the VM's CPU count and/or memory (2020; 2021 CPU, 2022 memory when refused).

    A powered-on VM may only grow where hot-add is enabled (read live), never shrink memory and
    shrink CPUs only with hot-remove; a template and other vCenter refusals come back with
    vCenter's reason.
    """
    if cpu is None and memory_mb is None:
        raise ApiError(
            codes.INVALID_INPUT,
            data={"errors": {"non_field_errors": ["Give cpu and/or memory_mb."]}},
        )
    failure = codes.VM_MEMORY_UPDATE_FAILED if cpu is None else codes.VM_CPU_UPDATE_FAILED
    client, state = live_state(vm, failure)
    if cpu == state["num_cpu"]:
        cpu = None
    if memory_mb == state["memory_mb"]:
        memory_mb = None
    if cpu is None and memory_mb is None:
        row = refresh_mirror(vm.platform, vm.moid)
        return Outcome(codes.VM_UPDATED, row, {"changed": False})
    if state["is_template"]:
        raise refused(
            failure, f"{vm.name} is a template: convert it to a VM to change its CPUs or memory."
        )

    # Hot-add rules a real vCenter enforces and the simulator does not.
    if state["power_state"] == POWERED_ON and not state["is_template"]:
        if cpu is not None and cpu > state["num_cpu"] and not state["cpu_hot_add"]:
            raise refused(
                codes.VM_CPU_UPDATE_FAILED,
                "CPU hot-add is disabled for this VM; power it off to add CPUs.",
            )
        if cpu is not None and cpu < state["num_cpu"] and not state["cpu_hot_remove"]:
            raise refused(
                codes.VM_CPU_UPDATE_FAILED,
                "CPU hot-remove is disabled for this VM; power it off to remove CPUs.",
            )
        if memory_mb is not None and memory_mb < state["memory_mb"]:
            raise refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                "Memory cannot be reduced while the VM is powered on; power it off first.",
            )
        if memory_mb is not None and not state["memory_hot_add"]:
            raise refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                "Memory hot-add is disabled for this VM; power it off to add memory.",
            )
        limit = state["memory_hot_add_limit_mb"]
        if memory_mb is not None and limit and memory_mb > limit:
            raise refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                f"{memory_mb} MB is over this VM's hot-add limit of {limit} MB; power it off "
                "to add more.",
            )
        step = state["memory_hot_add_increment_mb"]
        if memory_mb is not None and step and (memory_mb - state["memory_mb"]) % step:
            raise refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                f"While the VM runs, memory grows in steps of {step} MB.",
            )

    # Ranges: the VM's socket layout and what its host can give.
    if cpu is not None and cpu % state["cores_per_socket"]:
        raise refused(
            codes.VM_CPU_UPDATE_FAILED,
            f"The CPU count must be a multiple of the VM's {state['cores_per_socket']} cores "
            "per socket.",
            http_status.HTTP_400_BAD_REQUEST,
        )
    if state["host"]:
        with vcenter_errors(failure):
            limits = client.call(vc.host_limits, state["host"])
        if cpu is not None and limits["cpu_threads"] and cpu > limits["cpu_threads"]:
            raise refused(
                codes.VM_CPU_UPDATE_FAILED,
                f"{cpu} CPUs is more than the {limits['cpu_threads']} logical CPUs of the "
                "VM's host.",
                http_status.HTTP_400_BAD_REQUEST,
            )
        if memory_mb is not None and limits["memory_mb"] and memory_mb > limits["memory_mb"]:
            raise refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                f"{memory_mb} MB is more than the {limits['memory_mb']} MB of the VM's host.",
                http_status.HTTP_400_BAD_REQUEST,
            )

    # Reconfigure; vCenter's refusal names the part it refused when it can.
    try:
        wait(client, client.call(vc.start_reconfigure, vm.moid, cpu, memory_mb))
    except VCenterError as exc:
        refusal = codes.VM_CPU_UPDATE_FAILED if cpu is not None else codes.VM_MEMORY_UPDATE_FAILED
        prop = str(getattr(getattr(exc, "vim_fault", None), "invalidProperty", "") or "")
        if "memory" in prop.lower():
            refusal = codes.VM_MEMORY_UPDATE_FAILED
        raise api_error(refusal, exc) from exc
    row = refresh_mirror(vm.platform, vm.moid)
    record_event(
        user,
        "resize",
        row or vm,
        before={"num_cpu": state["num_cpu"], "memory_mb": state["memory_mb"]},
        after={"num_cpu": row.num_cpu, "memory_mb": row.memory_mb} if row else None,
    )
    logger.info(
        "VM %s (%s) resized: cpu=%s memory_mb=%s", vm.moid, vm.platform.name, cpu, memory_mb
    )
    return Outcome(codes.VM_UPDATED, row, {"changed": True})
