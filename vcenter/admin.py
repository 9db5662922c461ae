from django.contrib import admin

from .models import (
    Cluster,
    Datacenter,
    Datastore,
    Folder,
    Host,
    IsoImage,
    Network,
    ResourcePool,
    VirtualMachine,
)


class InventoryAdmin(admin.ModelAdmin):
    """The mirror comes from vCenter: it can be read and deleted, never typed in."""

    list_filter = ["platform"]
    search_fields = ["name", "moid"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Datacenter)
class DatacenterAdmin(InventoryAdmin):
    list_display = ["name", "platform", "moid", "synced_at"]


@admin.register(Folder)
class FolderAdmin(InventoryAdmin):
    list_display = ["name", "datacenter", "platform", "moid"]


@admin.register(Cluster)
class ClusterAdmin(InventoryAdmin):
    list_display = ["name", "datacenter", "num_hosts", "drs_enabled", "ha_enabled", "platform"]


@admin.register(Host)
class HostAdmin(InventoryAdmin):
    list_display = [
        "name",
        "cluster",
        "datacenter",
        "connection_state",
        "power_state",
        "version",
        "platform",
    ]
    list_filter = ["platform", "connection_state", "power_state"]


@admin.register(ResourcePool)
class ResourcePoolAdmin(InventoryAdmin):
    list_display = ["name", "cluster", "datacenter", "cpu_limit", "memory_limit", "platform"]


@admin.register(Datastore)
class DatastoreAdmin(InventoryAdmin):
    list_display = [
        "name",
        "type",
        "capacity_bytes",
        "free_bytes",
        "accessible",
        "datacenter",
        "platform",
    ]


@admin.register(Network)
class NetworkAdmin(InventoryAdmin):
    list_display = ["name", "kind", "vlan_id", "datacenter", "platform"]
    list_filter = ["platform", "kind"]


@admin.register(VirtualMachine)
class VirtualMachineAdmin(InventoryAdmin):
    list_display = [
        "name",
        "power_state",
        "num_cpu",
        "memory_mb",
        "ip_address",
        "host",
        "cluster",
        "platform",
    ]
    list_filter = ["platform", "power_state", "is_template"]
    search_fields = ["name", "moid", "ip_address", "instance_uuid"]
    list_select_related = ["host", "cluster", "platform"]


@admin.register(IsoImage)
class IsoImageAdmin(InventoryAdmin):
    list_display = ["path", "size_bytes", "modified_at", "datastore", "platform", "synced_at"]
    list_filter = ["platform", "datastore"]
    search_fields = ["name", "path"]
    list_select_related = ["datastore", "platform"]
