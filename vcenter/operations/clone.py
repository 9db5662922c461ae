"""Cloning a VM or template, and migrating one cold: plan in the request, run in the task."""

import logging

from audit.services import TaskFailed, enqueue, record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

from ..client import VCenterError, VCenterNotFound, client_for_platform
from ..client import vms as vc
from ..models import Datacenter, Datastore, Host, ResourcePool, VirtualMachine
from .common import (
    POWERED_ON,
    clean_name,
    display_name,
    hosts_of,
    invalid,
    live_state,
    lookup,
    mounted,
    refresh_mirror,
    refuse_taken_name,
    refuse_taken_name_in_task,
    refused,
    root_pool,
    task_failure,
    task_platform,
    vm_folder,
    vm_summary,
    wait,
)

logger = logging.getLogger(__name__)


def plan_clone(user, vm, data):
    """Validate a clone of `vm` and queue it (202 + TaskLog ending 2050 or 2054).

    2051 for a target datacenter, host, pool or folder that does not exist, 2052 for a
    datastore, 2053 for a source vCenter no longer has, 2054 for a name taken in the folder.
    """
    name = clean_name(data["name"], codes.INVALID_INPUT)
    platform = vm.platform
    where = codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER
    if data.get("template") and data.get("power_on"):
        raise invalid(codes.INVALID_INPUT, "power_on", "A template cannot be powered on.")

    # Target datacenter and placement, from the mirror.
    datacenter = vm.datacenter
    if data.get("datacenter") not in (None, ""):
        datacenter = lookup(Datacenter.objects.filter(platform=platform), data["datacenter"])
        if datacenter is None:
            raise invalid(where, "datacenter", "No such datacenter on the VM's platform.")
    in_dc = {"platform": platform, "datacenter": datacenter}
    host = lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise invalid(where, key, f"Not found in datacenter {datacenter.name}.")
    if host is not None and pool is not None and pool.owner_moid != host.compute_resource_moid:
        raise invalid(where, "resource_pool", f"The pool is not on host {host.name}.")
    same_dc = datacenter.pk == vm.datacenter_id
    folder_ref = data.get("folder")
    folder = (
        vm_folder(datacenter, folder_ref)
        if folder_ref not in (None, "") or not same_dc or vm.folder is None
        else vm.folder
    )
    if folder is None:
        raise invalid(where, "folder", f"No such VM folder in datacenter {datacenter.name}.")
    if not same_dc and pool is None and host is None:
        raise invalid(where, "host", "Give a host or resource pool in the target datacenter.")
    if (
        pool is None
        and host is not None
        and host.compute_resource_moid != (vm.host.compute_resource_moid if vm.host_id else None)
    ):
        pool = root_pool(platform, host.compute_resource_moid)
    if pool is None and vm.is_template and not data.get("template"):
        # A template has no pool of its own and vCenter wants one for the VM made from it:
        # the root pool of the target host, or of the host the template is registered on.
        placed_on = host or vm.host
        if placed_on is not None:
            pool = root_pool(platform, placed_on.compute_resource_moid)

    # The source must still exist in vCenter.
    client, _state = live_state(vm, codes.VM_CLONE_FAILED, codes.VM_CLONE_NO_SOURCE)

    datastore = None
    if data.get("datastore") not in (None, ""):
        datastore = lookup(Datastore.objects.filter(**in_dc), data["datastore"])
        if datastore is None:
            raise invalid(
                codes.VM_CLONE_NO_DATASTORE, "datastore", f"Not found in {datacenter.name}."
            )
        target_hosts = hosts_of(platform, pool=pool, host=host) or ([vm.host] if vm.host_id else [])
        if target_hosts and not mounted(
            client, datastore, target_hosts, codes.VM_CLONE_NO_DATASTORE
        ):
            raise invalid(
                codes.VM_CLONE_NO_DATASTORE,
                "datastore",
                f"Datastore {datastore.name} is not reachable from the target host.",
            )

    # The name must be free in the target folder.
    refuse_taken_name(client, folder, name, codes.VM_CLONE_FAILED)

    plan = {
        "name": name,
        "folder": folder.moid,
        "resource_pool": pool.moid if pool else None,
        "host": host.moid if host else None,
        "datastore": datastore.moid if datastore else None,
        "power_on": bool(data.get("power_on")),
        "template": bool(data.get("template")),
    }
    from .. import vm_tasks

    return enqueue(
        vm_tasks.clone_vm,
        name="vcenter.clone",
        user=user,
        obj=vm,
        kwargs={"platform_id": platform.pk, "source": vm.moid, "plan": plan},
    )


def run_clone(run, platform_id, source, plan):
    """Carry out a clone plan inside the task; nothing reaches the mirror unless it succeeds."""
    failure = codes.VM_CLONE_FAILED
    platform = task_platform(platform_id, failure)
    client = client_for_platform(platform)

    try:
        # Delivered again after a worker died: follow the clone the first delivery started
        # (its vCenter task is in the TaskLog) instead of refusing the name it gave the VM.
        task_moid, moid = run.task_log.vcenter_task, None
        if task_moid:
            moid = _earlier_clone(client, task_moid, run)
        if moid is None:
            refuse_taken_name_in_task(client, plan["folder"], plan["name"], failure)
            task_moid = client.call(vc.start_clone, source, plan)
            run.progress(0, task_moid)
            moid = wait(client, task_moid, run.progress)
    except VCenterNotFound as exc:
        raise task_failure(codes.VM_CLONE_NO_SOURCE, exc) from exc
    except VCenterError as exc:
        raise task_failure(failure, exc) from exc

    result = {
        "moid": moid,
        "name": display_name(plan["name"]),
        "source": source,
        "vcenter_task": task_moid,
    }
    if plan.get("power_on"):
        try:
            if client.call(vc.read_state, moid)["power_state"] != POWERED_ON:
                wait(client, client.call(vc.start_power, moid, "on"))
            result["powered_on"] = True
        except VCenterError as exc:
            result.update(powered_on=False, power_on_error=str(exc))

    vm = refresh_mirror(platform, moid)
    if vm is not None:
        result["id"] = vm.pk
        origin = VirtualMachine.objects.filter(platform=platform, moid=source).first()
        origin_name = display_name(origin.name) if origin else source
        record_event(
            run.task_log.user,
            "clone",
            vm,
            after=vm_summary(vm),
            message=f"cloned from {origin_name} ({source})",
        )
    logger.info("VM %s cloned to %s on %s", source, moid, platform.name)
    return result


def plan_migrate(user, vm, data):
    """Validate a cold migration of `vm` and queue it (202 + TaskLog ending 2060 or 2063).

    2061 for a target host or pool not found in the VM's datacenter, 2062 for a datastore that
    is unknown or not reachable from the target host; a powered-on VM is refused (2063) unless
    `power_off` is true, which powers it off, migrates it and powers it back on.
    """
    platform = vm.platform
    where = codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER
    in_dc = {"platform": platform, "datacenter_id": vm.datacenter_id}
    if all(data.get(k) in (None, "") for k in ("host", "resource_pool", "datastore")):
        raise ApiError(
            codes.INVALID_INPUT,
            data={"errors": {"non_field_errors": ["Give a host, resource_pool or datastore."]}},
        )
    host = lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise invalid(where, key, "Not found in the VM's datacenter.")
    if host is not None and pool is not None and pool.owner_moid != host.compute_resource_moid:
        raise invalid(where, "resource_pool", f"The pool is not on host {host.name}'s cluster.")
    current_owner = vm.host.compute_resource_moid if vm.host_id else None
    if host is not None and pool is None and host.compute_resource_moid != current_owner:
        pool = root_pool(platform, host.compute_resource_moid)
    if pool is not None and host is None and pool.owner_moid != current_owner:
        hosts = hosts_of(platform, pool=pool)
        host = hosts[0] if len(hosts) == 1 else None

    client, state = live_state(vm, codes.VM_MIGRATE_FAILED)
    datastore = None
    if data.get("datastore") not in (None, ""):
        datastore = lookup(Datastore.objects.filter(**in_dc), data["datastore"])
        if datastore is None:
            raise invalid(codes.VM_MIGRATE_NO_DATASTORE, "datastore", "Not found.")
        target = [host] if host else ([vm.host] if vm.host_id else [])
        if target and not mounted(client, datastore, target, codes.VM_MIGRATE_NO_DATASTORE):
            raise invalid(
                codes.VM_MIGRATE_NO_DATASTORE,
                "datastore",
                f"Datastore {datastore.name} is not reachable from host {target[0].name}.",
            )

    # Cold migration: the VM must be off, or the caller must let us power it off.
    power_off = bool(data.get("power_off"))
    if state["power_state"] == POWERED_ON and not power_off:
        raise refused(
            codes.VM_MIGRATE_FAILED,
            "The VM is powered on; cold migration needs it off. Pass power_off=true to power "
            "it off, migrate it and power it back on.",
        )

    plan = {
        "host": host.moid if host else None,
        "resource_pool": pool.moid if pool else None,
        "datastore": datastore.moid if datastore else None,
        "power_off": power_off and state["power_state"] == POWERED_ON,
    }
    from .. import vm_tasks

    return enqueue(
        vm_tasks.migrate_vm,
        name="vcenter.migrate",
        user=user,
        obj=vm,
        kwargs={"platform_id": platform.pk, "moid": vm.moid, "plan": plan},
    )


def _earlier_clone(client, task_moid, run):
    """The VM made by the clone task `task_moid` of an earlier delivery, once it ends; None
    when vCenter no longer knows that task."""
    try:
        moid = wait(client, task_moid, run.progress)
    except VCenterNotFound:
        return None
    logger.info("clone task %s of an earlier delivery made %s", task_moid, moid)
    return moid


def _placement(platform, host, pool, datastores):
    """Where a VM runs, by name as the mirror knows it (the moid where it does not)."""

    def name(model, moid):
        row = model.objects.filter(platform=platform, moid=moid).only("name").first()
        return display_name(row.name) if row else moid

    return {
        "host": name(Host, host) if host else None,
        "resource_pool": name(ResourcePool, pool) if pool else None,
        "datastores": sorted(name(Datastore, moid) for moid in datastores or []),
    }


def _power_back_on(client, moid):
    """Power a VM on again after a cold migration; False (logged) when vCenter refuses."""
    try:
        wait(client, client.call(vc.start_power, moid, "on"))
    except VCenterError:
        logger.warning("could not power VM %s back on after migrating it", moid, exc_info=True)
        return False
    return True


def run_migrate(run, platform_id, moid, plan):
    """Carry out a cold migration plan inside the task."""
    failure = codes.VM_MIGRATE_FAILED
    platform = task_platform(platform_id, failure)
    client = client_for_platform(platform)
    try:
        before = client.call(vc.read_state, moid)
    except VCenterError as exc:
        raise task_failure(failure, exc) from exc

    # Power off if the caller allowed it, relocate, and power back on.
    powered_off = False
    task_moid = None
    try:
        if before["power_state"] == POWERED_ON:
            if not plan.get("power_off"):
                raise TaskFailed(failure, "The VM was powered on after the request was accepted.")
            wait(client, client.call(vc.start_power, moid, "off"))
            powered_off = True
        task_moid = client.call(vc.start_relocate, moid, plan)
        run.progress(0, task_moid)
        wait(client, task_moid, run.progress)
    except VCenterError as exc:
        # Leave the VM running if it ran, and mirrored as vCenter has it now.
        if powered_off:
            _power_back_on(client, moid)
        refresh_mirror(platform, moid)
        raise task_failure(failure, exc) from exc
    powered_on_again = _power_back_on(client, moid) if powered_off else None

    vm = refresh_mirror(platform, moid)
    if vm is not None:
        record_event(
            run.task_log.user,
            "migrate",
            vm,
            before=_placement(
                platform, before["host"], before["resource_pool"], before["datastores"]
            ),
            after=_placement(
                platform,
                vm.host.moid if vm.host_id else None,
                vm.resource_pool.moid if vm.resource_pool_id else None,
                list(vm.datastores.values_list("moid", flat=True)),
            ),
        )
    logger.info("VM %s migrated on %s", moid, platform.name)
    return {
        "id": vm.pk if vm else None,
        "moid": moid,
        "vcenter_task": task_moid,
        "power_cycled": powered_off,
        "powered_on_again": powered_on_again,
        **{key: plan.get(key) for key in ("host", "resource_pool", "datastore")},
    }
