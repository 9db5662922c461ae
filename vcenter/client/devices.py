"""A VM's virtual disks, SCSI controllers and network adapters, read and changed with pyVmomi.

Every function takes the session's `content` first, so it runs through `VCenterClient.call`
(which logs in again and maps faults to domain errors), and speaks plain dicts and managed object
ids. Devices are read through the PropertyCollector (`config.hardware.device`), never attribute
by attribute. Planning where a new disk goes is the service's job; these functions only turn a
plan into a `ReconfigVM_Task` and wait for it.
"""

import re

from pyVmomi import vim

from .errors import VCenterNotFound
from .inventory import retrieve_one
from .tasks import wait_for_task

KB_PER_GB = 1024 * 1024

# Adapter types as the API names them, and the vSphere device classes behind them.
NIC_TYPES = {
    "vmxnet3": vim.vm.device.VirtualVmxnet3,
    "e1000e": vim.vm.device.VirtualE1000e,
    "e1000": vim.vm.device.VirtualE1000,
    "vmxnet2": vim.vm.device.VirtualVmxnet2,
    "vmxnet": vim.vm.device.VirtualVmxnet,
    "pcnet32": vim.vm.device.VirtualPCNet32,
    "sriov": vim.vm.device.VirtualSriovEthernetCard,
}

# SCSI controller types as the API names them (the vSphere class names).
SCSI_TYPES = {
    "ParaVirtualSCSIController": vim.vm.device.ParaVirtualSCSIController,
    "VirtualLsiLogicController": vim.vm.device.VirtualLsiLogicController,
    "VirtualLsiLogicSASController": vim.vm.device.VirtualLsiLogicSASController,
    "VirtualBusLogicController": vim.vm.device.VirtualBusLogicController,
}

_DATASTORE_PATH = re.compile(r"^\[(?P<datastore>[^\]]*)\]\s*(?P<path>.*)$")


def _vm(content, moid):
    return vim.VirtualMachine(moid, content.propertyCollector._stub)


def _type_name(obj):
    return type(obj).__name__.rsplit(".", 1)[-1]


def _scsi_type(device):
    # The most derived known class wins (LsiLogicSAS is not an LsiLogic subclass, but be safe).
    for name, cls in SCSI_TYPES.items():
        if type(device) is cls:
            return name
    return _type_name(device)


def _nic_type(device):
    for name, cls in NIC_TYPES.items():
        if type(device) is cls:
            return name
    return _type_name(device).removeprefix("Virtual").lower()


def disk_type(backing):
    """`thin`, `thick` or `eagerZeroedThick` for a flat disk backing (`thick` when unknown)."""
    if getattr(backing, "thinProvisioned", False):
        return "thin"
    if getattr(backing, "eagerlyScrub", False):
        return "eagerZeroedThick"
    return "thick"


def split_datastore_path(file_name):
    """`("ds", "vm/vm.vmdk")` for `"[ds] vm/vm.vmdk"`; `("", file_name)` for anything else."""
    match = _DATASTORE_PATH.match(file_name or "")
    if match is None:
        return "", file_name or ""
    return match.group("datastore"), match.group("path")


def _disk(device, controllers):
    backing = device.backing
    file_name = getattr(backing, "fileName", "") or ""
    datastore_ref = getattr(backing, "datastore", None)
    capacity_kb = device.capacityInKB or (device.capacityInBytes or 0) // 1024
    controller = controllers.get(device.controllerKey) or {}
    return {
        "key": device.key,
        "label": device.deviceInfo.label if device.deviceInfo else "",
        "capacity_kb": capacity_kb,
        "size_gb": round(capacity_kb / KB_PER_GB, 3),
        "type": disk_type(backing),
        "disk_mode": getattr(backing, "diskMode", "") or "",
        "file_name": file_name,
        "datastore": split_datastore_path(file_name)[0],
        "datastore_moid": datastore_ref._moId if datastore_ref is not None else "",
        "controller_key": device.controllerKey,
        "controller_type": controller.get("type", ""),
        "bus_number": controller.get("bus_number"),
        "unit_number": device.unitNumber,
    }


def _nic(device):
    backing = device.backing
    connectable = device.connectable
    port = getattr(backing, "port", None)
    network = getattr(backing, "network", None)
    if port is not None:
        kind, portgroup_key = "distributed", port.portgroupKey or ""
    elif isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        kind, portgroup_key = "opaque", ""
    else:
        kind, portgroup_key = "standard", ""
    return {
        "key": device.key,
        "label": device.deviceInfo.label if device.deviceInfo else "",
        "mac_address": (device.macAddress or "").lower(),
        "adapter_type": _nic_type(device),
        "connected": bool(connectable and connectable.connected),
        "start_connected": bool(connectable and connectable.startConnected),
        "kind": kind,
        "network_moid": network._moId if network is not None else "",
        "network_name": getattr(backing, "deviceName", "") or "",
        "portgroup_key": portgroup_key,
        "switch_uuid": (port.switchUuid or "") if port is not None else "",
    }


def _device_list(content, moid):
    item = retrieve_one(content, _vm(content, moid), ["config.hardware.device"])
    if len(item) <= 2:
        raise VCenterNotFound(f"virtual machine {moid} has no configuration")
    return item.get("config.hardware.device") or []


def read_devices(content, moid):
    """A VM's SCSI controllers, disks and network adapters as plain dicts.

    `controllers` list each SCSI controller with the unit numbers its devices (disks, CD-ROMs)
    occupy, so a caller can plan where new disks go.
    """
    devices = _device_list(content, moid)
    controllers = {}
    for device in devices:
        if isinstance(device, vim.vm.device.VirtualSCSIController):
            controllers[device.key] = {
                "key": device.key,
                "bus_number": device.busNumber,
                "type": _scsi_type(device),
                "used_units": [],
            }
    disks, nics = [], []
    for device in devices:
        owner = controllers.get(device.controllerKey)
        if owner is not None and device.unitNumber is not None:
            owner["used_units"].append(device.unitNumber)
        if isinstance(device, vim.vm.device.VirtualDisk):
            disks.append(_disk(device, controllers))
        elif isinstance(device, vim.vm.device.VirtualEthernetCard):
            nics.append(_nic(device))
    for controller in controllers.values():
        controller["used_units"].sort()
    return {
        "controllers": sorted(controllers.values(), key=lambda c: c["bus_number"]),
        "disks": sorted(disks, key=lambda d: (d["bus_number"] or 0, d["unit_number"] or 0)),
        "nics": sorted(nics, key=lambda n: n["key"]),
    }


def _reconfigure(content, moid, changes):
    spec = vim.vm.ConfigSpec(deviceChange=changes)
    return wait_for_task(content, _vm(content, moid).ReconfigVM_Task(spec=spec))


def _flat_backing(kind, datastore_name):
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
        diskMode="persistent",
        thinProvisioned=kind == "thin",
        eagerlyScrub=kind == "eagerZeroedThick",
        # "[datastore]" lets vCenter name the file in the VM's folder on that datastore; an empty
        # name puts it beside the VM's configuration file.
        fileName=f"[{datastore_name}]" if datastore_name else "",
    )
    return backing


def add_disks(content, moid, controllers, disks):
    """Add new SCSI `controllers` and `disks` to a VM in one reconfiguration.

    `controllers` are `{"ref", "bus_number", "type"}`; `disks` are `{"controller", "unit_number",
    "size_kb", "type", "datastore"}` whose `controller` is an existing controller's key or the
    `ref` of a new one. Files are created by vCenter (`fileOperation` create).
    """
    changes, temp_keys = [], {}
    for index, controller in enumerate(controllers):
        key = -100 - index
        temp_keys[controller["ref"]] = key
        cls = SCSI_TYPES.get(controller["type"], vim.vm.device.ParaVirtualSCSIController)
        device = cls(key=key, busNumber=controller["bus_number"], sharedBus="noSharing")
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=device))
    for index, disk in enumerate(disks):
        device = vim.vm.device.VirtualDisk(
            key=-1000 - index,
            controllerKey=temp_keys.get(disk["controller"], disk["controller"]),
            unitNumber=disk["unit_number"],
            capacityInKB=disk["size_kb"],
            backing=_flat_backing(disk["type"], disk.get("datastore")),
        )
        changes.append(
            vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=device)
        )
    _reconfigure(content, moid, changes)


def _find(devices, cls, key):
    for device in devices:
        if isinstance(device, cls) and device.key == key:
            return device
    return None


def remove_disk(content, moid, key):
    """Detach the disk `key` and destroy its backing file; raise `VCenterNotFound` if absent."""
    device = _find(_device_list(content, moid), vim.vm.device.VirtualDisk, key)
    if device is None:
        raise VCenterNotFound(f"virtual machine {moid} has no disk {key}")
    change = vim.vm.device.VirtualDeviceSpec(
        operation="remove", fileOperation="destroy", device=device
    )
    _reconfigure(content, moid, [change])


def grow_disk(content, moid, key, size_kb):
    """Set the capacity of disk `key` to `size_kb` (the caller makes sure it grows)."""
    device = _find(_device_list(content, moid), vim.vm.device.VirtualDisk, key)
    if device is None:
        raise VCenterNotFound(f"virtual machine {moid} has no disk {key}")
    device.capacityInKB = size_kb
    device.capacityInBytes = size_kb * 1024
    _reconfigure(content, moid, [vim.vm.device.VirtualDeviceSpec(operation="edit", device=device)])


def add_nic(content, moid, network, adapter_type, connected=True):
    """Add a network adapter of `adapter_type` on `network` (a port group's plain dict).

    `network` holds `kind` (`standard` or `distributed`), `name` and `moid`, and for a
    distributed port group `switch_uuid` and `portgroup_key`.
    """
    if network["kind"] == "distributed":
        backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(
                switchUuid=network["switch_uuid"], portgroupKey=network["portgroup_key"]
            )
        )
    else:
        backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName=network["name"],
            network=vim.Network(network["moid"], content.propertyCollector._stub),
        )
    device = NIC_TYPES[adapter_type](
        key=-1,
        backing=backing,
        addressType="generated",
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(
            startConnected=connected, connected=connected, allowGuestControl=True
        ),
    )
    _reconfigure(content, moid, [vim.vm.device.VirtualDeviceSpec(operation="add", device=device)])


def remove_nic(content, moid, key):
    """Remove the network adapter `key`; raise `VCenterNotFound` if the VM has none by that key."""
    device = _find(_device_list(content, moid), vim.vm.device.VirtualEthernetCard, key)
    if device is None:
        raise VCenterNotFound(f"virtual machine {moid} has no network adapter {key}")
    _reconfigure(
        content, moid, [vim.vm.device.VirtualDeviceSpec(operation="remove", device=device)]
    )
