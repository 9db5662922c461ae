"""The VM lifecycle in vCenter: create, power, destroy, reconfigure, clone, relocate, customize.

Every function takes the session's `ServiceContent` first, so it runs through
`VCenterClient.call`, and works with plain values: managed object ids in, managed object ids and
dicts out. Operations that start a vCenter task are split in two — `start_*` submits the task
and returns its moid, `wait` follows it — so that a lost connection retried by `call` never
submits the same change twice. A task that ends in a fault raises `VCenterTaskFault` carrying
the fault itself, which lets the caller tell a network from a disk from an ISO failure.

Reads go through the PropertyCollector (`inventory.retrieve_one`): on vcsim, reading an unset
property by pyVmomi attribute access drops the connection.
"""

import logging
import posixpath
import re

from pyVmomi import vim, vmodl

from .errors import VCenterFault, VCenterNotFound, VCenterTaskFault, describe_fault
from .inventory import retrieve_many, retrieve_one
from .tasks import wait_for_task

logger = logging.getLogger(__name__)

GUEST_TOOLS_RUNNING = "guestToolsRunning"
SCSI_RESERVED_UNIT = 7  # the controller's own unit on a SCSI bus
SCSI_UNITS = [unit for unit in range(16) if unit != SCSI_RESERVED_UNIT]
IDE_CONTROLLER_KEY = 200  # the first IDE controller every new VM gets
GB_IN_KB = 1024 * 1024

NIC_TYPES = {
    "vmxnet3": vim.vm.device.VirtualVmxnet3,
    "e1000": vim.vm.device.VirtualE1000,
    "e1000e": vim.vm.device.VirtualE1000e,
}

VM_STATE_PATHS = [
    "name",
    "runtime.powerState",
    "runtime.host",
    "config.template",
    "config.guestId",
    "config.hardware.numCPU",
    "config.hardware.numCoresPerSocket",
    "config.hardware.memoryMB",
    "config.cpuHotAddEnabled",
    "config.cpuHotRemoveEnabled",
    "config.memoryHotAddEnabled",
    "config.hotPlugMemoryLimit",
    "config.hotPlugMemoryIncrementSize",
    "guest.toolsRunningStatus",
    "parent",
    "resourcePool",
    "datastore",
]


def _ref(content, vim_type, moid):
    return vim_type(moid, content.propertyCollector._stub)


def _vm(content, moid):
    return _ref(content, vim.VirtualMachine, moid)


# Reads


def read_state(content, moid):
    """The power state, hardware and hot-add flags of one VM as a plain dict.

    Raises `VCenterNotFound` when vCenter no longer has the VM.
    """
    try:
        item = retrieve_one(content, _vm(content, moid), VM_STATE_PATHS)
    except vmodl.fault.ManagedObjectNotFound:
        item = {}
    if "name" not in item:
        raise VCenterNotFound(f"vCenter has no VM {moid}", fault="ManagedObjectNotFound")
    return {
        "moid": moid,
        "name": item["name"],
        "power_state": str(item.get("runtime.powerState") or "poweredOff"),
        "host": item.get("runtime.host"),
        "folder": item.get("parent"),
        "resource_pool": item.get("resourcePool"),
        "datastores": list(item.get("datastore") or []),
        "is_template": bool(item.get("config.template")),
        "guest_id": item.get("config.guestId") or "",
        "num_cpu": item.get("config.hardware.numCPU") or 0,
        "cores_per_socket": item.get("config.hardware.numCoresPerSocket") or 1,
        "memory_mb": item.get("config.hardware.memoryMB") or 0,
        "cpu_hot_add": bool(item.get("config.cpuHotAddEnabled")),
        "cpu_hot_remove": bool(item.get("config.cpuHotRemoveEnabled")),
        "memory_hot_add": bool(item.get("config.memoryHotAddEnabled")),
        "memory_hot_add_limit_mb": item.get("config.hotPlugMemoryLimit") or 0,
        "memory_hot_add_increment_mb": item.get("config.hotPlugMemoryIncrementSize") or 0,
        "tools_running": str(item.get("guest.toolsRunningStatus") or "") == GUEST_TOOLS_RUNNING,
    }


def read_nics(content, moid):
    """The VM's network adapters in device order: `[{"key", "label", "mac"}]`."""
    item = retrieve_one(content, _vm(content, moid), ["config.hardware.device"])
    return [
        {
            "key": device.key,
            "label": getattr(device.deviceInfo, "label", "") or "",
            "mac": device.macAddress or "",
        }
        for device in item.get("config.hardware.device") or []
        if isinstance(device, vim.vm.device.VirtualEthernetCard)
    ]


def vm_names_in_folder(content, folder_moid):
    """The names of the VMs and templates directly inside a folder, as vCenter stores them.

    vSphere keeps names unique per folder, so only the folder's own children count.
    """
    collector = vmodl.query.PropertyCollector
    children = collector.TraversalSpec(
        name="children", type=vim.Folder, path="childEntity", skip=False
    )
    spec = collector.FilterSpec(
        objectSet=[
            collector.ObjectSpec(
                obj=_ref(content, vim.Folder, folder_moid), skip=True, selectSet=[children]
            )
        ],
        propSet=[collector.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])],
    )
    names = set()
    result = content.propertyCollector.RetrievePropertiesEx(
        specSet=[spec], options=collector.RetrieveOptions()
    )
    while result is not None:
        for obj in result.objects:
            for prop in obj.propSet or []:
                names.add(prop.val)
        if not result.token:
            break
        result = content.propertyCollector.ContinueRetrievePropertiesEx(token=result.token)
    return names


_HOST_LIMIT_PATHS = ["summary.hardware.numCpuThreads", "summary.hardware.memorySize"]


def _limits(item):
    return {
        "cpu_threads": item.get("summary.hardware.numCpuThreads") or 0,
        "memory_mb": (item.get("summary.hardware.memorySize") or 0) // (1024 * 1024),
    }


def host_limits(content, host_moid):
    """What one VM on this host may use: logical CPUs and memory in MB."""
    return _limits(
        retrieve_one(content, _ref(content, vim.HostSystem, host_moid), _HOST_LIMIT_PATHS)
    )


def largest_host_limits(content, host_moids):
    """The most logical CPUs and memory (MB) any one of the hosts offers, in one round trip."""
    hosts = [_ref(content, vim.HostSystem, moid) for moid in host_moids]
    limits = [_limits(item) for item in retrieve_many(content, hosts, _HOST_LIMIT_PATHS).values()]
    return {
        "cpu_threads": max((limit["cpu_threads"] for limit in limits), default=0),
        "memory_mb": max((limit["memory_mb"] for limit in limits), default=0),
    }


def host_datastores(content, host_moids):
    """{host moid: [datastore moids]} as each host sees its mounts, in one round trip."""
    hosts = [_ref(content, vim.HostSystem, moid) for moid in host_moids]
    items = retrieve_many(content, hosts, ["datastore"])
    return {moid: list(item.get("datastore") or []) for moid, item in items.items()}


def datastore_free_bytes(content, datastore_moid):
    """Free space of a datastore in bytes, read now."""
    item = retrieve_one(
        content, _ref(content, vim.Datastore, datastore_moid), ["summary.freeSpace"]
    )
    return item.get("summary.freeSpace") or 0


_DATASTORE_PATH = re.compile(r"^\[(?P<datastore>[^\]]+)\]\s*(?P<path>.*)$")


def parse_datastore_path(path):
    """Split `[datastore] folder/file` into (datastore, "folder/file"); None if malformed."""
    match = _DATASTORE_PATH.match(path or "")
    if match is None:
        return None
    return match["datastore"].strip(), match["path"].strip().lstrip("/")


def datastore_file_exists(content, datastore_moid, datastore_name, path):
    """Whether `path` (relative to the datastore's root) names a file on that datastore.

    Searches the file's folder with the datastore browser (`SearchDatastore_Task`); a folder
    that does not exist means the file does not either.
    """
    folder, filename = posixpath.split(path)
    item = retrieve_one(content, _ref(content, vim.Datastore, datastore_moid), ["browser"])
    browser = _ref(content, vim.host.DatastoreBrowser, item["browser"])
    spec = vim.host.DatastoreBrowser.SearchSpec(matchPattern=[filename])
    task = browser.SearchDatastore_Task(
        datastorePath=f"[{datastore_name}] {folder}".rstrip(), searchSpec=spec
    )
    try:
        result = wait_for_task(content, task)
    except VCenterFault as exc:
        if (exc.fault or "").endswith("FileNotFound"):
            return False
        raise
    return any(found.path == filename for found in (getattr(result, "file", None) or []))


# Tasks


def wait(content, task_moid, progress=None, timeout=None):
    """Wait for the task `task_moid`; return its result (a moid for a new VM).

    `progress(percent, task_moid)` is called as vCenter reports progress. A task that ends in
    a fault raises `VCenterTaskFault` with the fault's type, fields and the fault itself.
    """
    task = _ref(content, vim.Task, task_moid)
    try:
        return wait_for_task(content, task, progress=progress, timeout=timeout)
    except VCenterFault:
        fault = retrieve_one(content, task, ["info.error"]).get("info.error")
        if fault is None:
            raise
        raise VCenterTaskFault(
            describe_fault(fault), fault=type(fault).__name__, vim_fault=fault
        ) from None


def _device_spec(device, file_operation=None):
    spec = vim.vm.device.VirtualDeviceSpec(operation="add", device=device)
    if file_operation:
        spec.fileOperation = file_operation
    return spec


def _connectable():
    return vim.vm.device.VirtualDevice.ConnectInfo(
        startConnected=True, connected=True, allowGuestControl=True
    )


def _nic_backing(network):
    if network["kind"] == "distributed":
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(
                switchUuid=network["switch_uuid"], portgroupKey=network["portgroup_key"]
            )
        )
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
        deviceName=network["name"], network=vim.Network(network["moid"])
    )


def create_device_changes(plan):
    """The device specs of a new VM: a SCSI controller and its disks, NICs, a CD-ROM.

    Returns (changes, kinds) where `kinds[i]` says what `changes[i]` is ("controller", "disk",
    "nic", "cdrom"), so a fault's `deviceIndex` can be traced to the device that failed.
    """
    changes, kinds = [], []
    controller_key = -100
    changes.append(
        _device_spec(
            vim.vm.device.ParaVirtualSCSIController(
                key=controller_key, busNumber=0, sharedBus="noSharing"
            )
        )
    )
    kinds.append("controller")

    for index, disk in enumerate(plan["disks"]):
        backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=f"[{plan['datastore_name']}]",
            diskMode="persistent",
            thinProvisioned=disk["type"] == "thin",
            eagerlyScrub=disk["type"] == "eagerZeroedThick",
        )
        device = vim.vm.device.VirtualDisk(
            key=-(1000 + index),
            controllerKey=controller_key,
            unitNumber=SCSI_UNITS[index],
            capacityInKB=disk["size"] * GB_IN_KB,
            backing=backing,
        )
        changes.append(_device_spec(device, "create"))
        kinds.append("disk")

    card_type = NIC_TYPES[plan.get("nic_type") or "vmxnet3"]
    for index, network in enumerate(plan["networks"]):
        device = card_type(
            key=-(2000 + index),
            addressType="generated",
            backing=_nic_backing(network),
            connectable=_connectable(),
        )
        changes.append(_device_spec(device))
        kinds.append("nic")

    if plan.get("iso"):
        device = vim.vm.device.VirtualCdrom(
            key=-3000,
            controllerKey=IDE_CONTROLLER_KEY,
            unitNumber=0,
            backing=vim.vm.device.VirtualCdrom.IsoBackingInfo(fileName=plan["iso"]),
            connectable=_connectable(),
        )
        changes.append(_device_spec(device))
        kinds.append("cdrom")
    return changes, kinds


def start_create(content, plan):
    """Submit `CreateVM_Task` for `plan` (see `operations.plan_create`); return the task moid."""
    changes, _kinds = create_device_changes(plan)
    config = vim.vm.ConfigSpec(
        name=plan["name"],
        guestId=plan["guest_id"],
        numCPUs=plan["num_cpu"],
        memoryMB=plan["memory_mb"],
        annotation=plan.get("annotation") or "",
        files=vim.vm.FileInfo(vmPathName=f"[{plan['datastore_name']}]"),
        deviceChange=changes,
    )
    folder = _ref(content, vim.Folder, plan["folder"])
    pool = _ref(content, vim.ResourcePool, plan["resource_pool"])
    host = _ref(content, vim.HostSystem, plan["host"]) if plan.get("host") else None
    task = folder.CreateVM_Task(config=config, pool=pool, host=host)
    logger.info("CreateVM_Task %s submitted for %s", task._moId, plan["name"])
    return task._moId


def start_power(content, moid, action):
    """Submit a power task ("on", "off", "suspend", "reset"); return the task moid."""
    vm = _vm(content, moid)
    method = {
        "on": vm.PowerOnVM_Task,
        "off": vm.PowerOffVM_Task,
        "suspend": vm.SuspendVM_Task,
        "reset": vm.ResetVM_Task,
    }[action]
    task = method()
    logger.info("power %s of %s submitted as %s", action, moid, task._moId)
    return task._moId


def reboot_guest(content, moid):
    """Ask VMware Tools in the guest to restart the OS (no task: vCenter returns at once)."""
    _vm(content, moid).RebootGuest()
    logger.info("guest reboot of %s requested", moid)


def start_destroy(content, moid):
    """Submit `Destroy_Task` for a VM; return the task moid."""
    task = _vm(content, moid).Destroy_Task()
    logger.info("Destroy_Task %s submitted for %s", task._moId, moid)
    return task._moId


def start_reconfigure(content, moid, num_cpu=None, memory_mb=None):
    """Submit `ReconfigVM_Task` changing CPU count and/or memory; return the task moid."""
    spec = vim.vm.ConfigSpec()
    if num_cpu is not None:
        spec.numCPUs = num_cpu
    if memory_mb is not None:
        spec.memoryMB = memory_mb
    task = _vm(content, moid).ReconfigVM_Task(spec=spec)
    logger.info("ReconfigVM_Task %s submitted for %s", task._moId, moid)
    return task._moId


def _relocate_spec(content, plan):
    spec = vim.vm.RelocateSpec()
    if plan.get("resource_pool"):
        spec.pool = _ref(content, vim.ResourcePool, plan["resource_pool"])
    if plan.get("host"):
        spec.host = _ref(content, vim.HostSystem, plan["host"])
    if plan.get("datastore"):
        spec.datastore = _ref(content, vim.Datastore, plan["datastore"])
    return spec


def start_clone(content, moid, plan):
    """Submit `CloneVM_Task` of VM `moid` into `plan["folder"]`; return the task moid.

    The resource pool is left out when the plan has none: vCenter then keeps the source's pool
    for a VM and refuses a template, which has no pool of its own.
    """
    spec = vim.vm.CloneSpec(
        location=_relocate_spec(content, plan),
        powerOn=bool(plan.get("power_on")),
        template=bool(plan.get("template")),
    )
    task = _vm(content, moid).CloneVM_Task(
        folder=_ref(content, vim.Folder, plan["folder"]), name=plan["name"], spec=spec
    )
    logger.info("CloneVM_Task %s submitted: %s -> %s", task._moId, moid, plan["name"])
    return task._moId


def start_relocate(content, moid, plan):
    """Submit `RelocateVM_Task` (cold migration) to the plan's host/pool/datastore."""
    task = _vm(content, moid).RelocateVM_Task(spec=_relocate_spec(content, plan))
    logger.info("RelocateVM_Task %s submitted for %s", task._moId, moid)
    return task._moId


def customization_spec(plan, nic_count):
    """A guest customization spec setting a fixed IP on one NIC and DHCP on the others.

    Windows guests get a Sysprep identity, every other family a LinuxPrep identity. vCenter
    wants one adapter mapping per NIC, in device order.
    """
    hostname = vim.vm.customization.FixedName(name=plan["hostname"])
    # TODO(#5): a Windows administrator password, time zone and domain join for Sysprep.
    if plan["family"] == "windows":
        identity = vim.vm.customization.Sysprep(
            guiUnattended=vim.vm.customization.GuiUnattended(
                autoLogon=False, autoLogonCount=0, timeZone=plan.get("windows_time_zone", 210)
            ),
            userData=vim.vm.customization.UserData(
                computerName=hostname,
                fullName=plan.get("full_name") or "KStack",
                orgName=plan.get("org_name") or "KStack",
                productId="",
            ),
            identification=vim.vm.customization.Identification(joinWorkgroup="WORKGROUP"),
        )
    else:
        identity = vim.vm.customization.LinuxPrep(
            hostName=hostname, domain=plan.get("domain") or "localdomain", hwClockUTC=True
        )

    fixed = vim.vm.customization.IPSettings(
        ip=vim.vm.customization.FixedIp(ipAddress=plan["ip"]),
        subnetMask=plan["netmask"],
        gateway=[plan["gateway"]] if plan.get("gateway") else [],
        dnsServerList=list(plan.get("dns") or []),
    )
    if plan.get("domain"):
        fixed.dnsDomain = plan["domain"]
    mappings = []
    for index in range(nic_count):
        adapter = (
            fixed
            if index == plan["nic"]
            else vim.vm.customization.IPSettings(ip=vim.vm.customization.DhcpIpGenerator())
        )
        mappings.append(vim.vm.customization.AdapterMapping(adapter=adapter))
    return vim.vm.customization.Specification(
        identity=identity,
        globalIPSettings=vim.vm.customization.GlobalIPSettings(
            dnsServerList=list(plan.get("dns") or []),
            dnsSuffixList=[plan["domain"]] if plan.get("domain") else [],
        ),
        nicSettingMap=mappings,
    )


def start_customize(content, moid, plan):
    """Submit `CustomizeVM_Task` for the plan's NIC; return the task moid."""
    nics = read_nics(content, moid)
    spec = customization_spec(plan, len(nics))
    task = _vm(content, moid).CustomizeVM_Task(spec=spec)
    logger.info("CustomizeVM_Task %s submitted for %s", task._moId, moid)
    return task._moId


def create_fault_device(fault, plan):
    """Which device of a create plan a task fault points at, or None for the VM as a whole.

    Answers "nic", "disk", "controller" or "cdrom": from the fault's `deviceIndex` (an index
    into the plan's device changes), from an `invalidProperty` naming a NIC's port, from the
    `file` a file fault names, or from a lack of datastore space.
    """
    _changes, kinds = create_device_changes(plan)
    index = getattr(fault, "deviceIndex", None)
    if isinstance(index, int) and 0 <= index < len(kinds):
        return kinds[index]
    prop = (getattr(fault, "invalidProperty", None) or "").lower()
    if "devicechange" in prop and any(word in prop for word in ("port", "network", "switch")):
        return "nic"
    filename = (getattr(fault, "file", None) or "").lower()
    if filename.endswith(".iso"):
        return "cdrom"
    if filename.endswith(".vmdk"):
        return "disk"
    if isinstance(fault, vim.fault.NoDiskSpace | vim.fault.InsufficientStorageSpace):
        return "disk"
    return None
