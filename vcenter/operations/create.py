"""Creating a VM: the request validates and plans, the task (`run_create`) carries it out."""

import logging

from audit.services import enqueue, record_event
from kstack_naguan.api import codes

from ..client import VCenterError, client_for_platform
from ..client import vms as vc
from ..client.errors import VCenterTaskFault
from ..models import (
    Cluster,
    Datacenter,
    Datastore,
    Host,
    IsoImage,
    Network,
    NetworkKindChoices,
    ResourcePool,
)
from .common import (
    GB,
    clean_name,
    display_name,
    hosts_of,
    invalid,
    lookup,
    mounted,
    refresh_mirror,
    refuse_taken_name,
    refuse_taken_name_in_task,
    root_pool,
    task_failure,
    task_platform,
    unreachable_as,
    vcenter_errors,
    vm_folder,
    vm_summary,
    wait,
)

logger = logging.getLogger(__name__)


def plan_create(user, data):
    """Validate a create request against the mirror and vCenter, then queue it (202 + TaskLog).

    `data` is the create serializer's output. The plan handed to the task holds moids and
    escaped names only. 2004 for a datacenter or placement that does not exist, 2006 for a
    port group, 2007 for a datastore, 2008 for an ISO image, 2005 for a taken name.
    """
    name = clean_name(data["name"], codes.INVALID_INPUT)

    # Datacenter and placement, from the mirror.
    datacenters = Datacenter.objects.select_related("platform")
    if data.get("platform"):
        datacenters = datacenters.filter(platform_id=data["platform"])
    datacenter = lookup(datacenters, data["datacenter"])
    if datacenter is None:
        raise invalid(codes.VM_CREATE_NO_DATACENTER, "datacenter", "No such datacenter.")
    platform = datacenter.platform
    where = codes.VM_CREATE_NO_DATACENTER
    in_dc = {"platform": platform, "datacenter": datacenter}
    cluster = lookup(Cluster.objects.filter(**in_dc), data.get("cluster"))
    host = lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("cluster", cluster), ("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise invalid(where, key, f"Not found in datacenter {datacenter.name}.")
    if cluster is None and host is None and pool is None:
        raise invalid(where, "cluster", "Give a cluster, a host or a resource pool.")
    if host is not None and cluster is not None and host.cluster_id != cluster.pk:
        raise invalid(where, "host", f"Host {host.name} is not in cluster {cluster.name}.")
    owner = cluster.moid if cluster else (host.compute_resource_moid if host else None)
    if pool is not None and owner and pool.owner_moid != owner:
        raise invalid(where, "resource_pool", "The resource pool belongs to another cluster/host.")
    if pool is None:
        pool = root_pool(platform, owner)
        if pool is None:
            raise invalid(where, "cluster", "The cluster or host has no resource pool.")
    folder = vm_folder(datacenter, data.get("folder"))
    if folder is None:
        raise invalid(where, "folder", f"No such VM folder in datacenter {datacenter.name}.")
    hosts = hosts_of(platform, pool=pool, cluster=cluster, host=host)
    if not hosts:
        raise invalid(where, "cluster", "No host to run the VM on.")

    # Datastore: in the datacenter, mounted by the hosts, with room for the thick disks.
    datastore = lookup(Datastore.objects.filter(**in_dc), data["datastore"])
    if datastore is None:
        raise invalid(
            codes.VM_CREATE_DISK_FAILED, "datastore", f"Not found in datacenter {datacenter.name}."
        )

    # Port groups: standard or distributed, in the datacenter, reachable from the hosts.
    networks = []
    for ref in data.get("networks") or []:
        network = lookup(Network.objects.filter(**in_dc), ref)
        problem = None
        if network is None:
            problem = f"Port group {ref!r} not found in datacenter {datacenter.name}."
        elif network.kind == NetworkKindChoices.OPAQUE or network.is_uplink:
            problem = f"{network.name} is an uplink or opaque network; VMs cannot attach to it."
        elif not set(network.hosts.values_list("id", flat=True)) & {h.pk for h in hosts}:
            problem = f"Port group {network.name} is not available on the chosen host or cluster."
        if problem:
            raise invalid(codes.VM_CREATE_NETWORK_FAILED, "networks", problem)
        networks.append(
            {
                "kind": network.kind,
                "moid": network.moid,
                "name": network.name,
                "switch_uuid": network.switch_uuid,
                "portgroup_key": network.portgroup_key or network.moid,
            }
        )

    with unreachable_as(codes.VM_CREATE_TASK_FAILED):
        iso = _check_live_create(platform, datastore, hosts, folder, name, data)

    plan = {
        "name": name,
        "datacenter": datacenter.moid,
        "folder": folder.moid,
        "resource_pool": pool.moid,
        "host": host.moid if host else None,
        "datastore": datastore.moid,
        "datastore_name": datastore.name,
        "num_cpu": data["cpu"],
        "memory_mb": data["memory_mb"],
        "guest_id": data["guest_id"],
        "annotation": data.get("annotation") or "",
        "disks": [{"type": d["type"], "size": d["size"]} for d in data["disks"]],
        "networks": networks,
        "nic_type": data.get("nic_type") or "vmxnet3",
        "iso": iso,
        "power_on": bool(data.get("power_on")),
    }
    from .. import vm_tasks

    return enqueue(
        vm_tasks.create_vm,
        name="vcenter.create",
        user=user,
        kwargs={"platform_id": platform.pk, "plan": plan},
    )


def _check_live_create(platform, datastore, hosts, folder, name, data):
    """The create checks only vCenter can answer; returns the ISO's datastore path or None."""
    client = client_for_platform(platform)
    if not datastore.accessible or not mounted(
        client, datastore, hosts, codes.VM_CREATE_DISK_FAILED
    ):
        raise invalid(
            codes.VM_CREATE_DISK_FAILED,
            "datastore",
            f"Datastore {datastore.name} is not reachable from the chosen host or cluster.",
        )
    thick_bytes = sum(d["size"] * GB for d in data["disks"] if d["type"] != "thin")
    if thick_bytes:
        with vcenter_errors(codes.VM_CREATE_DISK_FAILED):
            free = client.call(vc.datastore_free_bytes, datastore.moid)
        if thick_bytes > free:
            raise invalid(
                codes.VM_CREATE_DISK_FAILED,
                "disks",
                f"Thick disks need {thick_bytes // GB} GB; datastore {datastore.name} has "
                f"{free // GB} GB free.",
            )

    # CPU and memory: no more than the largest host it may run on has (as a resize checks).
    with vcenter_errors(codes.VM_CREATE_TASK_FAILED):
        largest = client.call(vc.largest_host_limits, [h.moid for h in hosts])
    threads, memory = largest["cpu_threads"], largest["memory_mb"]
    if threads and data["cpu"] > threads:
        raise invalid(
            codes.INVALID_INPUT,
            "cpu",
            f"{data['cpu']} CPUs is more than the {threads} logical CPUs of the largest host.",
        )
    if memory and data["memory_mb"] > memory:
        raise invalid(
            codes.INVALID_INPUT,
            "memory_mb",
            f"{data['memory_mb']} MB is more than the {memory} MB of the largest host.",
        )

    # ISO image: an existing file on a datastore the hosts mount.
    iso = _plan_iso(client, platform, datastore.datacenter, hosts, data.get("iso"))

    # A name vCenter would refuse as a duplicate (the simulator accepts it).
    refuse_taken_name(client, folder, name, codes.VM_CREATE_TASK_FAILED)
    return iso


def _plan_iso(client, platform, datacenter, hosts, iso):
    """Resolve the ISO (a `[datastore] path` or an ISO image id) and check that the file exists."""
    if iso in (None, ""):
        return None
    code = codes.VM_CREATE_ISO_FAILED
    if isinstance(iso, int):
        image = IsoImage.objects.filter(platform=platform, pk=iso).select_related("datastore")
        image = image.first()
        if image is None:
            raise invalid(code, "iso", "No such ISO image.")
        iso = image.path
    parsed = vc.parse_datastore_path(iso)
    if parsed is None or not parsed[1]:
        raise invalid(code, "iso", 'Give the ISO as "[datastore] folder/file.iso".')
    ds_name, path = parsed
    datastore = Datastore.objects.filter(
        platform=platform, datacenter=datacenter, name=ds_name
    ).first()
    if datastore is None:
        raise invalid(code, "iso", f"Datastore {ds_name} not found in {datacenter.name}.")
    if not mounted(client, datastore, hosts, code):
        raise invalid(code, "iso", f"Datastore {ds_name} is not reachable from the VM's host.")
    with vcenter_errors(code):
        exists = client.call(vc.datastore_file_exists, datastore.moid, ds_name, path)
    if not exists:
        raise invalid(code, "iso", f"{iso} does not exist on the datastore.")
    return f"[{ds_name}] {path}"


_CREATE_FAULT_CODES = {
    "nic": codes.VM_CREATE_NETWORK_FAILED,
    "disk": codes.VM_CREATE_DISK_FAILED,
    "controller": codes.VM_CREATE_DISK_FAILED,
    "cdrom": codes.VM_CREATE_ISO_FAILED,
}


def run_create(run, platform_id, plan):
    """Carry out a create plan inside the task; return the TaskLog result or raise TaskFailed."""
    failure = codes.VM_CREATE_TASK_FAILED
    platform = task_platform(platform_id, failure)
    client = client_for_platform(platform)

    # A name taken since the request was accepted (or by an earlier run of this task).
    refuse_taken_name_in_task(client, plan["folder"], plan["name"], failure)

    # Create, following the vCenter task; a fault is traced to the device that caused it.
    try:
        task_moid = client.call(vc.start_create, plan)
        run.progress(0, task_moid)
        moid = wait(client, task_moid, run.progress)
    except VCenterTaskFault as exc:
        kind = vc.create_fault_device(exc.vim_fault, plan)
        raise task_failure(_CREATE_FAULT_CODES.get(kind, failure), exc) from exc
    except VCenterError as exc:
        raise task_failure(failure, exc) from exc

    # Power on when asked; a VM that was created but would not start is still created.
    result = {"moid": moid, "name": display_name(plan["name"]), "vcenter_task": task_moid}
    if plan.get("power_on"):
        try:
            wait(client, client.call(vc.start_power, moid, "on"))
            result["powered_on"] = True
        except VCenterError as exc:
            result.update(powered_on=False, power_on_error=str(exc))

    vm = refresh_mirror(platform, moid)
    if vm is not None:
        result["id"] = vm.pk
        run.about(vm)  # so the VM's page lists the task that made it
        record_event(run.task_log.user, "create", vm, after=vm_summary(vm))
    logger.info("VM %s created on %s as %s", plan["name"], platform.name, moid)
    return result
