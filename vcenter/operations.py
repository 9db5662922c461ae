"""The VM lifecycle as the API uses it: validation, business rules, audit and the mirror.

Every operation checks its input before anything changes in vCenter: against the inventory
mirror (datacenters, hosts, pools, folders, datastores, port groups) and, where only vCenter
knows, against vCenter itself (free space, an ISO file on a datastore, the names in a folder,
the VM's live power state and hot-add flags). Rules the simulator does not enforce but a real
vCenter does (unique names per folder, hot-add, powered-off customization) are enforced here.

Power, resize and delete run in the request and answer with their code. Create, clone, cold
migrate and IP customization are long: the request validates and turns the input into a plan
(plain JSON, kept in the TaskLog's arguments), and a Celery task in `vm_tasks` carries it out
with the `run_*` functions below, recording the vCenter task and its progress in the TaskLog.
After every change the one VM is re-read into the mirror (`sync.refresh_vm`) and an EventLog
entry is written.

vSphere escapes `%`, `/` and `\\` in names (`%25`, `%2f`, `%5c`). Names are escaped the same way
before they are sent, so the simulator stores what a real vCenter would, and `display_name`
turns a stored name back into what the user typed.
"""

import ipaddress
import logging
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field

from rest_framework import status as http_status

from audit.services import TaskFailed, enqueue, record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from platforms.models import CloudPlatform

from .client import (
    VCenterAuthError,
    VCenterError,
    VCenterFault,
    VCenterNotFound,
    VCenterUnreachable,
    client_for_platform,
)
from .client import vms as vc
from .client.errors import VCenterTaskFault
from .models import (
    Cluster,
    Datacenter,
    Datastore,
    Folder,
    Host,
    IsoImage,
    Network,
    NetworkKindChoices,
    ResourcePool,
    VirtualMachine,
    VirtualMachinePowerStateChoices,
)
from .sync import refresh_vm

logger = logging.getLogger(__name__)

POWERED_ON = VirtualMachinePowerStateChoices.POWERED_ON
POWERED_OFF = VirtualMachinePowerStateChoices.POWERED_OFF
SUSPENDED = VirtualMachinePowerStateChoices.SUSPENDED

MAX_NAME_LENGTH = 80  # vSphere's limit for an entity name, counted as stored (escaped)
DISK_TYPES = ("thin", "thick", "eagerZeroedThick")
MAX_DISK_GB = 62 * 1024  # the largest VMDK vSphere supports
MAX_DISKS = len(vc.SCSI_UNITS)  # one SCSI controller
MAX_NICS = 10
MAX_CPUS = 768
MAX_MEMORY_MB = 24 * 1024 * 1024
GB = 1024**3

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_GUEST_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")


# Names


def escape_name(name):
    """The name as vSphere stores it: `%` → `%25`, `/` → `%2f`, `\\` → `%5c`."""
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


_ESCAPES = re.compile(r"%(2[fF]|5[cC]|25)")


def display_name(name):
    """The name as the user typed it, from the escaped form vSphere stores."""
    return _ESCAPES.sub(lambda m: {"2f": "/", "5c": "\\", "25": "%"}[m[1].lower()], name or "")


def clean_name(name, code, field_name="name"):
    """Validate a new VM name and return its escaped form, or raise `ApiError(code)`."""
    problems = []
    name = (name or "").strip()
    if not name:
        problems.append("A name is required.")
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        problems.append("The name may not contain control characters.")
    escaped = escape_name(name)
    if len(escaped) > MAX_NAME_LENGTH:
        problems.append(
            f"The name is {len(escaped)} characters as vCenter stores it (%, / and \\ count "
            f"as three); at most {MAX_NAME_LENGTH} are allowed."
        )
    if problems:
        raise ApiError(code, data={"errors": {field_name: problems}})
    return escaped


def vm_summary(vm):
    """A small JSON summary of a mirrored VM for the event log."""
    return {
        "name": display_name(vm.name),
        "moid": vm.moid,
        "power_state": vm.power_state,
        "num_cpu": vm.num_cpu,
        "memory_mb": vm.memory_mb,
        "host": vm.host.name if vm.host_id else None,
    }


# vCenter errors


def api_error(code, exc, not_found_code=None):
    """The `ApiError(code)` for a vCenter error: 502 unreachable, 404 gone, 409 refused."""
    if isinstance(exc, VCenterUnreachable | VCenterAuthError):
        return ApiError(code, http_status.HTTP_502_BAD_GATEWAY, detail=exc)
    if isinstance(exc, VCenterNotFound):
        return ApiError(not_found_code or code, http_status.HTTP_404_NOT_FOUND, detail=exc)
    return ApiError(code, http_status.HTTP_409_CONFLICT, detail=exc)


@contextmanager
def vcenter_errors(code, not_found_code=None):
    """Turn vCenter errors raised in the block into `api_error(code, ...)`."""
    try:
        yield
    except VCenterError as exc:
        raise api_error(code, exc, not_found_code) from exc


def _refused(code, detail, status=http_status.HTTP_409_CONFLICT, **data):
    logger.warning("refused with %s: %s", int(code), detail)
    return ApiError(code, status, data or None, detail=detail)


def _invalid(code, field_name, message):
    return ApiError(code, data={"errors": {field_name: [message]}})


def _live_state(vm, code, not_found_code=None):
    """Read the VM's state from vCenter; a VM vCenter lost leaves the mirror and answers 404."""
    client = client_for_platform(vm.platform)
    try:
        with vcenter_errors(code, not_found_code):
            return client, client.call(vc.read_state, vm.moid)
    except ApiError as exc:
        if exc.status == http_status.HTTP_404_NOT_FOUND:
            VirtualMachine.objects.filter(pk=vm.pk).delete()
        raise


def _wait(client, task_moid, progress=None):
    return client.call(vc.wait, task_moid, progress)


def _refresh(platform, moid):
    """Re-read one VM into the mirror; a failed read is logged, not raised (the change is done)."""
    try:
        return refresh_vm(platform, moid)
    except VCenterError:
        logger.warning("could not refresh VM %s of %s after a change", moid, platform.name)
        return VirtualMachine.objects.filter(platform=platform, moid=moid).first()


# Lookups in the mirror


def _lookup(queryset, ref):
    """One row of `queryset` by id (an int) or by moid or name (a string); None if none."""
    if ref is None or ref == "":
        return None
    if isinstance(ref, int):
        return queryset.filter(pk=ref).first()
    return (
        queryset.filter(moid=ref).first()
        or queryset.filter(name=ref).first()
        or queryset.filter(name=escape_name(ref)).first()
    )


def _vm_folder(datacenter, ref=None):
    """The VM folder `ref` in `datacenter`, or the datacenter's root VM folder."""
    folders = Folder.objects.filter(datacenter=datacenter)
    if ref not in (None, ""):
        folder = _lookup(folders, ref)
        if folder is None or "VirtualMachine" not in (folder.child_types or []):
            return None
        return folder
    for folder in folders.filter(parent_moid=datacenter.moid):
        if "VirtualMachine" in (folder.child_types or []):
            return folder
    return None


def _root_pool(platform, compute_resource_moid):
    return ResourcePool.objects.filter(
        platform=platform, owner_moid=compute_resource_moid, parent_moid=compute_resource_moid
    ).first()


def _hosts_of(platform, pool=None, cluster=None, host=None):
    """The hosts a VM placed on `host`, in `cluster` or in `pool` may run on."""
    if host is not None:
        return [host]
    if cluster is not None:
        return list(Host.objects.filter(cluster=cluster))
    if pool is not None:
        return list(Host.objects.filter(platform=platform, compute_resource_moid=pool.owner_moid))
    return []


def _mounted(client, datastore, hosts, code):
    """Whether some host of `hosts` mounts `datastore`, as the hosts report it now.

    Read live from each host's `datastore` list: the mirror's datastore-to-host links come from
    the datastore's side, which vcsim does not keep complete.
    """
    with vcenter_errors(code):
        mounts = client.call(vc.host_datastores, [h.moid for h in hosts])
    return any(datastore.moid in found for found in mounts.values())


@dataclass
class Outcome:
    """What a synchronous operation answers: its code, the VM row and extra data."""

    code: codes.Code
    vm: VirtualMachine | None
    data: dict = field(default_factory=dict)


# Query


def refresh(vm):
    """Read one VM live from vCenter into the mirror and return its row (2031 when it fails)."""
    try:
        with vcenter_errors(codes.VM_QUERY_FAILED):
            row = refresh_vm(vm.platform, vm.moid)
    except ApiError:
        logger.warning("live read of VM %s (%s) failed", vm.moid, vm.platform.name)
        raise
    if row is None:
        raise _refused(
            codes.VM_QUERY_FAILED,
            "vCenter no longer has this VM; it was removed from the inventory.",
            http_status.HTTP_404_NOT_FOUND,
        )
    return row


# Power

POWER_ACTIONS = {
    # action: (success code, failure code, the state it leads to)
    "on": (codes.VM_POWERED_ON, codes.VM_POWER_ON_FAILED, POWERED_ON),
    "off": (codes.VM_POWERED_OFF, codes.VM_POWER_OFF_FAILED, POWERED_OFF),
    "suspend": (codes.VM_SUSPENDED, codes.VM_SUSPEND_FAILED, SUSPENDED),
    # A reboot that fails leaves the VM unable to come back on; the seed has no code of its own.
    "reboot": (codes.VM_REBOOTED, codes.VM_POWER_ON_FAILED, POWERED_ON),
}


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
    client, state = _live_state(vm, failure)
    current = state["power_state"]

    # Answer plainly when there is nothing to do, refuse what vSphere would refuse.
    if action in ("on", "off", "suspend") and current == target:
        row = _refresh(vm.platform, vm.moid)
        return Outcome(
            success,
            row,
            {"changed": False, "detail": f"The VM was already {target}; nothing was done."},
        )
    if action == "suspend" and current != POWERED_ON:
        raise _refused(failure, f"Only a powered-on VM can be suspended; this one is {current}.")
    if action == "reboot" and current != POWERED_ON:
        raise _refused(failure, f"Only a powered-on VM can be rebooted; this one is {current}.")

    # Ask vCenter: a guest reboot returns at once, the others are tasks.
    method = None
    with vcenter_errors(failure):
        if action == "reboot" and state["tools_running"]:
            client.call(vc.reboot_guest, vm.moid)
            method = "guest_reboot"
        else:
            vc_action = "reset" if action == "reboot" else action
            method = "reset" if action == "reboot" else None
            _wait(client, client.call(vc.start_power, vm.moid, vc_action))

    # Mirror and audit the change.
    row = _refresh(vm.platform, vm.moid)
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


# Delete


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
        raise _refused(
            failure,
            "The VM is powered on. Power it off first, or delete with force=true to power it "
            "off and delete it.",
        )

    with vcenter_errors(failure):
        if state["power_state"] == POWERED_ON:
            _wait(client, client.call(vc.start_power, vm.moid, "off"))
        _wait(client, client.call(vc.start_destroy, vm.moid))

    record_event(user, "delete", vm, before=vm_summary(vm), after=None)
    _refresh(vm.platform, vm.moid)
    VirtualMachine.objects.filter(pk=vm.pk).delete()
    logger.info("VM %s (%s) deleted", vm.moid, vm.platform.name)
    return Outcome(codes.VM_DELETED, None, {"changed": True, "powered_off": bool(force)})


# Resize


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
    client, state = _live_state(vm, failure)
    if cpu == state["num_cpu"]:
        cpu = None
    if memory_mb == state["memory_mb"]:
        memory_mb = None
    if cpu is None and memory_mb is None:
        row = _refresh(vm.platform, vm.moid)
        return Outcome(codes.VM_UPDATED, row, {"changed": False})

    # Hot-add rules a real vCenter enforces and the simulator does not.
    if state["power_state"] == POWERED_ON and not state["is_template"]:
        if cpu is not None and cpu > state["num_cpu"] and not state["cpu_hot_add"]:
            raise _refused(
                codes.VM_CPU_UPDATE_FAILED,
                "CPU hot-add is disabled for this VM; power it off to add CPUs.",
            )
        if cpu is not None and cpu < state["num_cpu"] and not state["cpu_hot_remove"]:
            raise _refused(
                codes.VM_CPU_UPDATE_FAILED,
                "CPU hot-remove is disabled for this VM; power it off to remove CPUs.",
            )
        if memory_mb is not None and memory_mb < state["memory_mb"]:
            raise _refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                "Memory cannot be reduced while the VM is powered on; power it off first.",
            )
        if memory_mb is not None and not state["memory_hot_add"]:
            raise _refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                "Memory hot-add is disabled for this VM; power it off to add memory.",
            )

    # Ranges: the VM's socket layout and what its host can give.
    if cpu is not None and cpu % state["cores_per_socket"]:
        raise _refused(
            codes.VM_CPU_UPDATE_FAILED,
            f"The CPU count must be a multiple of the VM's {state['cores_per_socket']} cores "
            "per socket.",
            http_status.HTTP_400_BAD_REQUEST,
        )
    if state["host"]:
        with vcenter_errors(failure):
            limits = client.call(vc.host_limits, state["host"])
        if cpu is not None and limits["cpu_threads"] and cpu > limits["cpu_threads"]:
            raise _refused(
                codes.VM_CPU_UPDATE_FAILED,
                f"{cpu} CPUs is more than the {limits['cpu_threads']} logical CPUs of the "
                "VM's host.",
                http_status.HTTP_400_BAD_REQUEST,
            )
        if memory_mb is not None and limits["memory_mb"] and memory_mb > limits["memory_mb"]:
            raise _refused(
                codes.VM_MEMORY_UPDATE_FAILED,
                f"{memory_mb} MB is more than the {limits['memory_mb']} MB of the VM's host.",
                http_status.HTTP_400_BAD_REQUEST,
            )

    # Reconfigure; vCenter's refusal names the part it refused when it can.
    try:
        _wait(client, client.call(vc.start_reconfigure, vm.moid, cpu, memory_mb))
    except VCenterError as exc:
        refused = codes.VM_CPU_UPDATE_FAILED if cpu is not None else codes.VM_MEMORY_UPDATE_FAILED
        prop = str(getattr(getattr(exc, "vim_fault", None), "invalidProperty", "") or "")
        if "memory" in prop.lower():
            refused = codes.VM_MEMORY_UPDATE_FAILED
        raise api_error(refused, exc) from exc
    row = _refresh(vm.platform, vm.moid)
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


# Create


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
    datacenter = _lookup(datacenters, data["datacenter"])
    if datacenter is None:
        raise _invalid(codes.VM_CREATE_NO_DATACENTER, "datacenter", "No such datacenter.")
    platform = datacenter.platform
    where = codes.VM_CREATE_NO_DATACENTER
    in_dc = {"platform": platform, "datacenter": datacenter}
    cluster = _lookup(Cluster.objects.filter(**in_dc), data.get("cluster"))
    host = _lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = _lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("cluster", cluster), ("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise _invalid(where, key, f"Not found in datacenter {datacenter.name}.")
    if cluster is None and host is None and pool is None:
        raise _invalid(where, "cluster", "Give a cluster, a host or a resource pool.")
    if host is not None and cluster is not None and host.cluster_id != cluster.pk:
        raise _invalid(where, "host", f"Host {host.name} is not in cluster {cluster.name}.")
    owner = cluster.moid if cluster else (host.compute_resource_moid if host else None)
    if pool is not None and owner and pool.owner_moid != owner:
        raise _invalid(where, "resource_pool", "The resource pool belongs to another cluster/host.")
    if pool is None:
        pool = _root_pool(platform, owner)
        if pool is None:
            raise _invalid(where, "cluster", "The cluster or host has no resource pool.")
    folder = _vm_folder(datacenter, data.get("folder"))
    if folder is None:
        raise _invalid(where, "folder", f"No such VM folder in datacenter {datacenter.name}.")
    hosts = _hosts_of(platform, pool=pool, cluster=cluster, host=host)
    if not hosts:
        raise _invalid(where, "cluster", "No host to run the VM on.")

    # Datastore: in the datacenter, mounted by the hosts, with room for the thick disks.
    datastore = _lookup(Datastore.objects.filter(**in_dc), data["datastore"])
    if datastore is None:
        raise _invalid(
            codes.VM_CREATE_DISK_FAILED, "datastore", f"Not found in datacenter {datacenter.name}."
        )

    # Port groups: standard or distributed, in the datacenter, reachable from the hosts.
    networks = []
    for ref in data.get("networks") or []:
        network = _lookup(Network.objects.filter(**in_dc), ref)
        problem = None
        if network is None:
            problem = f"Port group {ref!r} not found in datacenter {datacenter.name}."
        elif network.kind == NetworkKindChoices.OPAQUE or network.is_uplink:
            problem = f"{network.name} is an uplink or opaque network; VMs cannot attach to it."
        elif not set(network.hosts.values_list("id", flat=True)) & {h.pk for h in hosts}:
            problem = f"Port group {network.name} is not available on the chosen host or cluster."
        if problem:
            raise _invalid(codes.VM_CREATE_NETWORK_FAILED, "networks", problem)
        networks.append(
            {
                "kind": network.kind,
                "moid": network.moid,
                "name": network.name,
                "switch_uuid": network.switch_uuid,
                "portgroup_key": network.portgroup_key or network.moid,
            }
        )

    client = client_for_platform(platform)
    if not datastore.accessible or not _mounted(
        client, datastore, hosts, codes.VM_CREATE_DISK_FAILED
    ):
        raise _invalid(
            codes.VM_CREATE_DISK_FAILED,
            "datastore",
            f"Datastore {datastore.name} is not reachable from the chosen host or cluster.",
        )
    thick_bytes = sum(d["size"] * GB for d in data["disks"] if d["type"] != "thin")
    if thick_bytes:
        with vcenter_errors(codes.VM_CREATE_DISK_FAILED):
            free = client.call(vc.datastore_free_bytes, datastore.moid)
        if thick_bytes > free:
            raise _invalid(
                codes.VM_CREATE_DISK_FAILED,
                "disks",
                f"Thick disks need {thick_bytes // GB} GB; datastore {datastore.name} has "
                f"{free // GB} GB free.",
            )

    # ISO image: an existing file on a datastore the hosts mount.
    iso = _plan_iso(client, platform, datacenter, hosts, data.get("iso"))

    # A name vCenter would refuse as a duplicate (the simulator accepts it).
    _refuse_taken_name(client, folder, name, codes.VM_CREATE_TASK_FAILED)

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
    from . import vm_tasks

    return enqueue(
        vm_tasks.create_vm,
        name="vcenter.create",
        user=user,
        kwargs={"platform_id": platform.pk, "plan": plan},
    )


def _plan_iso(client, platform, datacenter, hosts, iso):
    """Resolve the ISO (a `[datastore] path` or an ISO image id) and check that the file exists."""
    if iso in (None, ""):
        return None
    code = codes.VM_CREATE_ISO_FAILED
    if isinstance(iso, int):
        image = IsoImage.objects.filter(platform=platform, pk=iso).select_related("datastore")
        image = image.first()
        if image is None:
            raise _invalid(code, "iso", "No such ISO image.")
        iso = image.path
    parsed = vc.parse_datastore_path(iso)
    if parsed is None or not parsed[1]:
        raise _invalid(code, "iso", 'Give the ISO as "[datastore] folder/file.iso".')
    ds_name, path = parsed
    datastore = Datastore.objects.filter(
        platform=platform, datacenter=datacenter, name=ds_name
    ).first()
    if datastore is None:
        raise _invalid(code, "iso", f"Datastore {ds_name} not found in {datacenter.name}.")
    if not _mounted(client, datastore, hosts, code):
        raise _invalid(code, "iso", f"Datastore {ds_name} is not reachable from the VM's host.")
    with vcenter_errors(code):
        exists = client.call(vc.datastore_file_exists, datastore.moid, ds_name, path)
    if not exists:
        raise _invalid(code, "iso", f"{iso} does not exist on the datastore.")
    return f"[{ds_name}] {path}"


def _refuse_taken_name(client, folder, name, code):
    """Refuse `name` when the folder already holds a VM of that name (read live)."""
    with vcenter_errors(code):
        taken = client.call(vc.vm_names_in_folder, folder.moid)
    if display_name(name) in {display_name(n) for n in taken}:
        raise _refused(
            code,
            f"A VM named {display_name(name)!r} already exists in folder {folder.name}.",
            errors={"name": ["A VM of this name already exists in the target folder."]},
        )


_CREATE_FAULT_CODES = {
    "nic": codes.VM_CREATE_NETWORK_FAILED,
    "disk": codes.VM_CREATE_DISK_FAILED,
    "controller": codes.VM_CREATE_DISK_FAILED,
    "cdrom": codes.VM_CREATE_ISO_FAILED,
}


def _platform(platform_id, code):
    platform = CloudPlatform.objects.filter(pk=platform_id).first()
    if platform is None:
        raise TaskFailed(code, f"platform {platform_id} no longer exists")
    return platform


def _task_failure(code, exc):
    return TaskFailed(code, str(exc) or type(exc).__name__)


def run_create(run, platform_id, plan):
    """Carry out a create plan inside the task; return the TaskLog result or raise TaskFailed."""
    failure = codes.VM_CREATE_TASK_FAILED
    platform = _platform(platform_id, failure)
    client = client_for_platform(platform)

    # A name taken since the request was accepted (or by an earlier run of this task).
    folder = Folder(moid=plan["folder"], name=plan["folder"])
    try:
        _refuse_taken_name(client, folder, plan["name"], failure)
    except ApiError as exc:
        raise TaskFailed(failure, exc.data.get("detail", "")) from exc

    # Create, following the vCenter task; a fault is traced to the device that caused it.
    try:
        task_moid = client.call(vc.start_create, plan)
        run.progress(0, task_moid)
        moid = _wait(client, task_moid, run.progress)
    except VCenterTaskFault as exc:
        kind = vc.create_fault_device(exc.vim_fault, plan)
        raise _task_failure(_CREATE_FAULT_CODES.get(kind, failure), exc) from exc
    except VCenterError as exc:
        raise _task_failure(failure, exc) from exc

    # Power on when asked; a VM that was created but would not start is still created.
    result = {"moid": moid, "name": display_name(plan["name"]), "vcenter_task": task_moid}
    if plan.get("power_on"):
        try:
            _wait(client, client.call(vc.start_power, moid, "on"))
            result["powered_on"] = True
        except VCenterError as exc:
            result.update(powered_on=False, power_on_error=str(exc))

    vm = _refresh(platform, moid)
    if vm is not None:
        result["id"] = vm.pk
        record_event(run.task_log.user, "create", vm, after=vm_summary(vm))
    logger.info("VM %s created on %s as %s", plan["name"], platform.name, moid)
    return result


# Clone


def plan_clone(user, vm, data):
    """Validate a clone of `vm` and queue it (202 + TaskLog ending 2050 or 2054).

    2051 for a target datacenter, host, pool or folder that does not exist, 2052 for a
    datastore, 2053 for a source vCenter no longer has, 2054 for a name taken in the folder.
    """
    name = clean_name(data["name"], codes.INVALID_INPUT)
    platform = vm.platform
    where = codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER
    if data.get("template") and data.get("power_on"):
        raise _invalid(codes.INVALID_INPUT, "power_on", "A template cannot be powered on.")

    # Target datacenter and placement, from the mirror.
    datacenter = vm.datacenter
    if data.get("datacenter") not in (None, ""):
        datacenter = _lookup(Datacenter.objects.filter(platform=platform), data["datacenter"])
        if datacenter is None:
            raise _invalid(where, "datacenter", "No such datacenter on the VM's platform.")
    in_dc = {"platform": platform, "datacenter": datacenter}
    host = _lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = _lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise _invalid(where, key, f"Not found in datacenter {datacenter.name}.")
    if host is not None and pool is not None and pool.owner_moid != host.compute_resource_moid:
        raise _invalid(where, "resource_pool", f"The pool is not on host {host.name}.")
    same_dc = datacenter.pk == vm.datacenter_id
    folder_ref = data.get("folder")
    folder = (
        _vm_folder(datacenter, folder_ref)
        if folder_ref not in (None, "") or not same_dc or vm.folder is None
        else vm.folder
    )
    if folder is None:
        raise _invalid(where, "folder", f"No such VM folder in datacenter {datacenter.name}.")
    if not same_dc and pool is None and host is None:
        raise _invalid(where, "host", "Give a host or resource pool in the target datacenter.")
    if (
        pool is None
        and host is not None
        and host.compute_resource_moid != (vm.host.compute_resource_moid if vm.host_id else None)
    ):
        pool = _root_pool(platform, host.compute_resource_moid)

    # The source must still exist in vCenter.
    client, _state = _live_state(vm, codes.VM_CLONE_FAILED, codes.VM_CLONE_NO_SOURCE)

    datastore = None
    if data.get("datastore") not in (None, ""):
        datastore = _lookup(Datastore.objects.filter(**in_dc), data["datastore"])
        if datastore is None:
            raise _invalid(
                codes.VM_CLONE_NO_DATASTORE, "datastore", f"Not found in {datacenter.name}."
            )
        target_hosts = _hosts_of(platform, pool=pool, host=host) or (
            [vm.host] if vm.host_id else []
        )
        if target_hosts and not _mounted(
            client, datastore, target_hosts, codes.VM_CLONE_NO_DATASTORE
        ):
            raise _invalid(
                codes.VM_CLONE_NO_DATASTORE,
                "datastore",
                f"Datastore {datastore.name} is not reachable from the target host.",
            )

    # The name must be free in the target folder.
    _refuse_taken_name(client, folder, name, codes.VM_CLONE_FAILED)

    plan = {
        "name": name,
        "folder": folder.moid,
        "resource_pool": pool.moid if pool else None,
        "host": host.moid if host else None,
        "datastore": datastore.moid if datastore else None,
        "power_on": bool(data.get("power_on")),
        "template": bool(data.get("template")),
    }
    from . import vm_tasks

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
    platform = _platform(platform_id, failure)
    client = client_for_platform(platform)
    folder = Folder(moid=plan["folder"], name=plan["folder"])
    try:
        _refuse_taken_name(client, folder, plan["name"], failure)
    except ApiError as exc:
        raise TaskFailed(failure, exc.data.get("detail", "")) from exc

    try:
        task_moid = client.call(vc.start_clone, source, plan)
        run.progress(0, task_moid)
        moid = _wait(client, task_moid, run.progress)
    except VCenterNotFound as exc:
        raise _task_failure(codes.VM_CLONE_NO_SOURCE, exc) from exc
    except VCenterError as exc:
        raise _task_failure(failure, exc) from exc

    result = {
        "moid": moid,
        "name": display_name(plan["name"]),
        "source": source,
        "vcenter_task": task_moid,
    }
    if plan.get("power_on"):
        try:
            if client.call(vc.read_state, moid)["power_state"] != POWERED_ON:
                _wait(client, client.call(vc.start_power, moid, "on"))
            result["powered_on"] = True
        except VCenterError as exc:
            result.update(powered_on=False, power_on_error=str(exc))

    vm = _refresh(platform, moid)
    if vm is not None:
        result["id"] = vm.pk
        record_event(
            run.task_log.user, "clone", vm, after=vm_summary(vm), message=f"cloned from {source}"
        )
    logger.info("VM %s cloned to %s on %s", source, moid, platform.name)
    return result


# Cold migration


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
    host = _lookup(Host.objects.filter(**in_dc), data.get("host"))
    pool = _lookup(ResourcePool.objects.filter(**in_dc), data.get("resource_pool"))
    for key, found in (("host", host), ("resource_pool", pool)):
        if data.get(key) not in (None, "") and found is None:
            raise _invalid(where, key, "Not found in the VM's datacenter.")
    if host is not None and pool is not None and pool.owner_moid != host.compute_resource_moid:
        raise _invalid(where, "resource_pool", f"The pool is not on host {host.name}'s cluster.")
    current_owner = vm.host.compute_resource_moid if vm.host_id else None
    if host is not None and pool is None and host.compute_resource_moid != current_owner:
        pool = _root_pool(platform, host.compute_resource_moid)
    if pool is not None and host is None and pool.owner_moid != current_owner:
        hosts = _hosts_of(platform, pool=pool)
        host = hosts[0] if len(hosts) == 1 else None

    client, state = _live_state(vm, codes.VM_MIGRATE_FAILED)
    datastore = None
    if data.get("datastore") not in (None, ""):
        datastore = _lookup(Datastore.objects.filter(**in_dc), data["datastore"])
        if datastore is None:
            raise _invalid(codes.VM_MIGRATE_NO_DATASTORE, "datastore", "Not found.")
        target = [host] if host else ([vm.host] if vm.host_id else [])
        if target and not _mounted(client, datastore, target, codes.VM_MIGRATE_NO_DATASTORE):
            raise _invalid(
                codes.VM_MIGRATE_NO_DATASTORE,
                "datastore",
                f"Datastore {datastore.name} is not reachable from host {target[0].name}.",
            )

    # Cold migration: the VM must be off, or the caller must let us power it off.
    power_off = bool(data.get("power_off"))
    if state["power_state"] == POWERED_ON and not power_off:
        raise _refused(
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
    from . import vm_tasks

    return enqueue(
        vm_tasks.migrate_vm,
        name="vcenter.migrate",
        user=user,
        obj=vm,
        kwargs={"platform_id": platform.pk, "moid": vm.moid, "plan": plan},
    )


def run_migrate(run, platform_id, moid, plan):
    """Carry out a cold migration plan inside the task."""
    failure = codes.VM_MIGRATE_FAILED
    platform = _platform(platform_id, failure)
    client = client_for_platform(platform)
    try:
        before = client.call(vc.read_state, moid)
        powered_off = False
        if before["power_state"] == POWERED_ON:
            if not plan.get("power_off"):
                raise TaskFailed(failure, "The VM was powered on after the request was accepted.")
            _wait(client, client.call(vc.start_power, moid, "off"))
            powered_off = True
        task_moid = client.call(vc.start_relocate, moid, plan)
        run.progress(0, task_moid)
        _wait(client, task_moid, run.progress)
        if powered_off:
            _wait(client, client.call(vc.start_power, moid, "on"))
    except VCenterError as exc:
        raise _task_failure(failure, exc) from exc

    vm = _refresh(platform, moid)
    after = {"host": plan.get("host"), "resource_pool": plan.get("resource_pool")}
    after["datastore"] = plan.get("datastore")
    if vm is not None:
        record_event(
            run.task_log.user,
            "migrate",
            vm,
            before={k: before[k] for k in ("host", "resource_pool", "datastores")},
            after=after,
        )
    logger.info("VM %s migrated on %s", moid, platform.name)
    return {
        "id": vm.pk if vm else None,
        "moid": moid,
        "vcenter_task": task_moid,
        "power_cycled": powered_off,
        **after,
    }


# IP assignment (guest customization)


def _ip_errors(data):
    """Check addresses with `ipaddress`; return (plan fields, {field: [problems]})."""
    errors = {}
    plan = {}
    try:
        address = ipaddress.IPv4Address(str(data.get("ip") or "").strip())
    except ValueError:
        errors["ip"] = ["Not an IPv4 address."]
        address = None
    raw_mask = str(data.get("netmask") or "").strip()
    try:
        network = ipaddress.IPv4Network(f"0.0.0.0/{raw_mask}")
        if not raw_mask:
            raise ValueError(raw_mask)
    except ValueError:
        errors["netmask"] = ["Not a netmask (e.g. 255.255.255.0 or 24)."]
        network = None
    if address is not None and network is not None:
        subnet = ipaddress.IPv4Network(f"{address}/{network.prefixlen}", strict=False)
        if network.prefixlen < 31 and address in (subnet.network_address, subnet.broadcast_address):
            errors["ip"] = [f"{address} is the network or broadcast address of {subnet}."]
        if address.is_loopback or address.is_multicast or address.is_unspecified:
            errors["ip"] = [f"{address} cannot be assigned to a NIC."]
        plan.update(ip=str(address), netmask=str(network.netmask))
        gateway = str(data.get("gateway") or "").strip()
        if gateway:
            try:
                gateway_address = ipaddress.IPv4Address(gateway)
                if gateway_address not in subnet or gateway_address == address:
                    errors["gateway"] = [f"The gateway must be another address in {subnet}."]
                plan["gateway"] = str(gateway_address)
            except ValueError:
                errors["gateway"] = ["Not an IPv4 address."]
    dns = []
    for server in data.get("dns") or []:
        try:
            dns.append(str(ipaddress.ip_address(str(server).strip())))
        except ValueError:
            errors.setdefault("dns", []).append(f"{server!r} is not an IP address.")
    plan["dns"] = dns
    return plan, errors


def plan_ip(user, vm, data):
    """Validate an IP assignment for one NIC of `vm` and queue it (202; TaskLog ends 2070).

    Addresses are checked with `ipaddress` (2073 with the field named), a powered-on VM is
    refused (2071) before vCenter is asked; the identity is Sysprep for Windows guests and
    LinuxPrep otherwise. vCenter applies the settings at the VM's next power-on.
    """
    code = codes.VM_IP_FAILED
    plan, errors = _ip_errors(data)
    hostname = str(data.get("hostname") or "").strip()
    if not _HOSTNAME_LABEL.match(hostname):
        errors["hostname"] = ["1-63 letters, digits or hyphens, not starting or ending with -."]
    domain = str(data.get("domain") or "").strip()
    if domain and not all(_HOSTNAME_LABEL.match(label) for label in domain.split(".")):
        errors["domain"] = ["Not a DNS domain name."]
    if errors:
        raise ApiError(code, data={"errors": errors})

    client, state = _live_state(vm, code)
    family = "windows" if state["guest_id"].lower().startswith("win") else "linux"
    if family == "windows" and len(hostname) > 15:
        raise _invalid(code, "hostname", "A Windows computer name has at most 15 characters.")
    if state["power_state"] == POWERED_ON:
        raise _refused(
            codes.VM_IP_POWERED_ON,
            "Guest customization needs the VM powered off; the settings apply at next power-on.",
        )
    with vcenter_errors(code):
        nics = client.call(vc.read_nics, vm.moid)
    nic = data.get("nic") or 0
    if not nics:
        raise _refused(code, "The VM has no network adapter.")
    if nic >= len(nics):
        raise _invalid(
            code, "nic", f"The VM has {len(nics)} network adapter(s): 0-{len(nics) - 1}."
        )

    plan.update(hostname=hostname, domain=domain, nic=nic, family=family)
    from . import vm_tasks

    return enqueue(
        vm_tasks.assign_ip,
        name="vcenter.ip",
        user=user,
        obj=vm,
        kwargs={"platform_id": vm.platform_id, "moid": vm.moid, "plan": plan},
    )


def run_customize(run, platform_id, moid, plan):
    """Carry out an IP plan inside the task: 2072 for a vCenter fault, 2073 for anything else."""
    platform = _platform(platform_id, codes.VM_IP_FAILED)
    client = client_for_platform(platform)
    try:
        if client.call(vc.read_state, moid)["power_state"] == POWERED_ON:
            raise TaskFailed(codes.VM_IP_POWERED_ON, "The VM was powered on in the meantime.")
        task_moid = client.call(vc.start_customize, moid, plan)
        run.progress(0, task_moid)
        _wait(client, task_moid, run.progress)
    except VCenterNotFound as exc:
        raise _task_failure(codes.VM_IP_FAILED, exc) from exc
    except VCenterFault as exc:
        raise _task_failure(codes.VM_IP_VMODL_ERROR, exc) from exc
    except VCenterError as exc:
        raise _task_failure(codes.VM_IP_FAILED, exc) from exc

    vm = _refresh(platform, moid)
    settings = {k: plan.get(k) for k in ("ip", "netmask", "gateway", "dns", "hostname", "nic")}
    if vm is not None:
        record_event(run.task_log.user, "customize", vm, after=settings)
    logger.info(
        "VM %s on %s customized (%s on NIC %s)", moid, platform.name, plan["ip"], plan["nic"]
    )
    return {
        "id": vm.pk if vm else None,
        "moid": moid,
        "vcenter_task": task_moid,
        "family": plan["family"],
        "applied_at": "next power-on",
        **settings,
    }
