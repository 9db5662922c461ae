"""What every VM operation shares: names as vSphere stores them, vCenter errors as API
errors, lookups in the mirror, the live state of a VM and the refresh of its mirror row."""

import logging
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field

from rest_framework import status as http_status

from audit.services import TaskFailed
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from platforms.models import CloudPlatform

from ..client import (
    VCenterAuthError,
    VCenterError,
    VCenterNotFound,
    VCenterUnreachable,
    client_for_platform,
)
from ..client import vms as vc
from ..models import Folder, Host, ResourcePool, VirtualMachine, VirtualMachinePowerStateChoices
from ..names import display_name, escape_name
from ..sync import refresh_vm

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


# Names


def clean_name(name, code, field_name="name"):
    """Validate a new VM name and return its escaped form, or raise `ApiError(code)`."""
    problems = []
    name = (name or "").strip()
    if not name:
        problems.append("A name is required.")
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        problems.append("The name may not contain control characters.")
    elif name in (".", ".."):
        problems.append("The name may not be . or .. (it names the VM's datastore folder).")
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


@contextmanager
def unreachable_as(code):
    """Answer `code` when vCenter cannot be reached, whichever check was talking to it."""
    try:
        yield
    except ApiError as exc:
        if exc.status != http_status.HTTP_502_BAD_GATEWAY:
            raise
        raise ApiError(code, exc.status, exc.data) from exc


def refused(code, detail, status=http_status.HTTP_409_CONFLICT, **data):
    """A refusal with `code` and a sentence saying why (409 unless `status` says otherwise)."""
    logger.warning("refused with %s: %s", int(code), detail)
    return ApiError(code, status, data or None, detail=detail)


def invalid(code, field_name, message):
    """A 400 with `code` naming the one field that is wrong."""
    return ApiError(code, data={"errors": {field_name: [message]}})


def live_state(vm, code, not_found_code=None):
    """Read the VM's state from vCenter; a VM vCenter lost leaves the mirror and answers 404."""
    client = client_for_platform(vm.platform)
    try:
        with vcenter_errors(code, not_found_code):
            return client, client.call(vc.read_state, vm.moid)
    except ApiError as exc:
        if exc.status == http_status.HTTP_404_NOT_FOUND:
            VirtualMachine.objects.filter(pk=vm.pk).delete()
        raise


def wait(client, task_moid, progress=None):
    """Follow a vCenter task to its end (see `client.vms.wait`)."""
    return client.call(vc.wait, task_moid, progress)


def refresh_mirror(platform, moid):
    """Re-read one VM into the mirror; a failed read is logged, not raised (the change is done)."""
    try:
        return refresh_vm(platform, moid)
    except VCenterError:
        logger.warning("could not refresh VM %s of %s after a change", moid, platform.name)
        return VirtualMachine.objects.filter(platform=platform, moid=moid).first()


def taken_name_error(client, folder_moid, name, code, folder_name=None):
    """The refusal for `name` when the folder already holds a VM of that name (read live).

    Returns None when the name is free. vSphere keeps names unique per folder; vcsim does not.
    """
    with vcenter_errors(code):
        taken = client.call(vc.vm_names_in_folder, folder_moid)
    if display_name(name) not in {display_name(n) for n in taken}:
        return None
    return refused(
        code,
        f"A VM named {display_name(name)!r} already exists in folder {folder_name or folder_moid}.",
        errors={"name": ["A VM of this name already exists in the target folder."]},
    )


def refuse_taken_name(client, folder, name, code):
    """Raise `taken_name_error` for a request that names a mirrored `folder`."""
    error = taken_name_error(client, folder.moid, name, code, folder.name)
    if error is not None:
        raise error


def refuse_taken_name_in_task(client, folder_moid, name, code):
    """Raise `TaskFailed(code)` when a task finds its VM's name taken since it was accepted."""
    try:
        error = taken_name_error(client, folder_moid, name, code)
    except ApiError as exc:
        raise TaskFailed(code, str(exc.data.get("detail", ""))) from exc
    if error is not None:
        raise TaskFailed(code, error.data["detail"])


def task_platform(platform_id, code):
    """The platform a task works on, or `TaskFailed(code)` when it was deleted meanwhile."""
    platform = CloudPlatform.objects.filter(pk=platform_id).first()
    if platform is None:
        raise TaskFailed(code, f"platform {platform_id} no longer exists")
    return platform


def task_failure(code, exc):
    """`TaskFailed(code)` whose message is the vCenter error's reason."""
    return TaskFailed(code, str(exc) or type(exc).__name__)


# Lookups in the mirror


def lookup(queryset, ref):
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


def vm_folder(datacenter, ref=None):
    """The VM folder `ref` in `datacenter`, or the datacenter's root VM folder."""
    folders = Folder.objects.filter(datacenter=datacenter)
    if ref not in (None, ""):
        folder = lookup(folders, ref)
        if folder is None or "VirtualMachine" not in (folder.child_types or []):
            return None
        return folder
    for folder in folders.filter(parent_moid=datacenter.moid):
        if "VirtualMachine" in (folder.child_types or []):
            return folder
    return None


def root_pool(platform, compute_resource_moid):
    """The root resource pool of a cluster or standalone host, from the mirror."""
    return ResourcePool.objects.filter(
        platform=platform, owner_moid=compute_resource_moid, parent_moid=compute_resource_moid
    ).first()


def hosts_of(platform, pool=None, cluster=None, host=None):
    """The hosts a VM placed on `host`, in `cluster` or in `pool` may run on."""
    if host is not None:
        return [host]
    if cluster is not None:
        return list(Host.objects.filter(cluster=cluster))
    if pool is not None:
        return list(Host.objects.filter(platform=platform, compute_resource_moid=pool.owner_moid))
    return []


def mounted(client, datastore, hosts, code):
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
