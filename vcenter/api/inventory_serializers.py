"""Serializers of the inventory lists: datastores, ISO images, port groups, resource pools."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vcenter.models import Datastore, Host, IsoImage, Network, ResourcePool


class HostRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Host
        fields = ["id", "moid", "name"]
        read_only_fields = fields


class DatastoreSerializer(serializers.ModelSerializer):
    """A datastore with its space, the hosts that mount it and how many VMs it holds."""

    datacenter_name = serializers.CharField(source="datacenter.name", read_only=True)
    used_bytes = serializers.SerializerMethodField()
    hosts = HostRefSerializer(many=True, read_only=True)
    vm_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Datastore
        fields = [
            "id",
            "platform",
            "moid",
            "name",
            "type",
            "url",
            "capacity_bytes",
            "free_bytes",
            "used_bytes",
            "accessible",
            "datacenter",
            "datacenter_name",
            "hosts",
            "vm_count",
            "synced_at",
        ]
        read_only_fields = fields

    def get_used_bytes(self, datastore) -> int:
        return max(0, datastore.capacity_bytes - datastore.free_bytes)


class IsoImageSerializer(serializers.ModelSerializer):
    """An ISO image; `path` is what a VM create takes as its CD-ROM's ISO."""

    datastore_name = serializers.CharField(source="datastore.name", read_only=True)
    datacenter = serializers.IntegerField(source="datastore.datacenter_id", read_only=True)

    class Meta:
        model = IsoImage
        fields = [
            "id",
            "platform",
            "datacenter",
            "datastore",
            "datastore_name",
            "path",
            "name",
            "size_bytes",
            "modified_at",
            "synced_at",
        ]
        read_only_fields = fields


class PortGroupSerializer(serializers.ModelSerializer):
    """A standard or distributed port group with its VLAN, switch and hosts.

    `switch` is the distributed switch's moid, or the standard vSwitch's name (a standard
    vSwitch is no managed object); `vlan_id` is None for a trunk or private VLAN.
    """

    datacenter_name = serializers.CharField(source="datacenter.name", read_only=True)
    switch = serializers.CharField(source="switch_name", read_only=True)
    hosts = HostRefSerializer(many=True, read_only=True)
    vm_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Network
        fields = [
            "id",
            "platform",
            "moid",
            "name",
            "kind",
            "vlan_id",
            "switch",
            "switch_moid",
            "switch_uuid",
            "portgroup_key",
            "is_uplink",
            "datacenter",
            "datacenter_name",
            "hosts",
            "vm_count",
            "synced_at",
        ]
        read_only_fields = fields


class ResourcePoolNodeSerializer(serializers.ModelSerializer):
    """A resource pool with its limits and reservations and the pools below it.

    CPU in MHz, memory in MB; a limit of -1 means unlimited. `children` come from the view's
    context (`children`: {(platform id, parent moid): [pools]}), read with one query per page.
    """

    vm_count = serializers.IntegerField(read_only=True)
    children = serializers.SerializerMethodField()

    class Meta:
        model = ResourcePool
        fields = [
            "id",
            "moid",
            "name",
            "cpu_limit",
            "cpu_reservation",
            "memory_limit",
            "memory_reservation",
            "vm_count",
            "children",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_children(self, pool):
        below = self.context.get("children", {}).get((pool.platform_id, pool.moid), [])
        return ResourcePoolNodeSerializer(below, many=True, context=self.context).data


class ResourcePoolTreeSerializer(ResourcePoolNodeSerializer):
    """A cluster's or standalone host's root pool, naming its owner, with the tree below it."""

    owner = serializers.SerializerMethodField()

    class Meta(ResourcePoolNodeSerializer.Meta):
        fields = ["platform", "datacenter", "owner", *ResourcePoolNodeSerializer.Meta.fields]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_owner(self, pool):
        if pool.cluster_id is not None:
            cluster = pool.cluster
            return {"type": "cluster", "id": cluster.id, "moid": cluster.moid, "name": cluster.name}
        host = self.context.get("standalone_hosts", {}).get((pool.platform_id, pool.owner_moid))
        if host is not None:
            return {"type": "host", "id": host.id, "moid": host.moid, "name": host.name}
        return {"type": "compute_resource", "id": None, "moid": pool.owner_moid, "name": ""}
