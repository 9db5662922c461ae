"""The properties the inventory mirror reads, per vSphere type, and a bulk reader for them."""

from pyVmomi import vim, vmodl

from .inventory import retrieve, retrieve_one

INVENTORY_PROPERTIES = {
    vim.Datacenter: ["name", "parent"],
    vim.Folder: ["name", "parent", "childType"],
    vim.ComputeResource: [
        "name",
        "parent",
        "summary.totalCpu",
        "summary.totalMemory",
        "summary.numHosts",
        "configurationEx",
    ],
    vim.HostSystem: [
        "name",
        "parent",
        "runtime.connectionState",
        "runtime.powerState",
        "runtime.inMaintenanceMode",
        "summary.hardware.numCpuCores",
        "summary.hardware.cpuMhz",
        "summary.hardware.memorySize",
        "summary.config.product.version",
        "network",
        "datastore",
        "config.network.portgroup",
    ],
    vim.ResourcePool: [
        "name",
        "parent",
        "owner",
        "config.cpuAllocation.limit",
        "config.cpuAllocation.reservation",
        "config.memoryAllocation.limit",
        "config.memoryAllocation.reservation",
    ],
    vim.Datastore: [
        "name",
        "parent",
        "summary.type",
        "summary.url",
        "summary.capacity",
        "summary.freeSpace",
        "summary.accessible",
        "host",
        "browser",
    ],
    vim.Network: ["name", "parent", "host"],
    vim.dvs.DistributedVirtualPortgroup: [
        "name",
        "parent",
        "host",
        "key",
        "config.distributedVirtualSwitch",
        "config.defaultPortConfig",
    ],
    vim.DistributedVirtualSwitch: ["name", "uuid"],
    vim.VirtualMachine: [
        "name",
        "parent",
        "resourcePool",
        "datastore",
        "network",
        "runtime.host",
        "runtime.powerState",
        "config.template",
        "config.instanceUuid",
        "config.uuid",
        "config.guestId",
        "config.guestFullName",
        "config.annotation",
        "config.files.vmPathName",
        "summary.config.numCpu",
        "summary.config.memorySizeMB",
        "guest.ipAddress",
        "guest.hostName",
        "guest.net",
        "guest.toolsRunningStatus",
    ],
}

VM_PROPERTIES = INVENTORY_PROPERTIES[vim.VirtualMachine]


def read_inventory(content):
    """Return every inventory object below the root folder as a list of property dicts."""
    return list(retrieve(content, INVENTORY_PROPERTIES))


def read_vm(content, moid):
    """Read one VM's mirrored properties by moid; None when vCenter no longer has it."""
    ref = vim.VirtualMachine(moid, content.propertyCollector._stub)
    try:
        item = retrieve_one(content, ref, VM_PROPERTIES)
    except vmodl.fault.ManagedObjectNotFound:
        return None
    return item if len(item) > 2 else None
