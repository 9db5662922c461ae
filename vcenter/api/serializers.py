from rest_framework import serializers

from vcenter.models import VirtualMachine


class VirtualMachineSerializer(serializers.ModelSerializer):
    """A VM of the mirror, with the names of where it runs."""

    platform_name = serializers.CharField(source="platform.name", read_only=True)
    datacenter_name = serializers.CharField(source="datacenter.name", read_only=True)
    cluster_name = serializers.CharField(source="cluster.name", read_only=True, default=None)
    host_name = serializers.CharField(source="host.name", read_only=True, default=None)
    resource_pool_name = serializers.CharField(
        source="resource_pool.name", read_only=True, default=None
    )
    folder_name = serializers.CharField(source="folder.name", read_only=True, default=None)
    datastore_names = serializers.SerializerMethodField()
    network_names = serializers.SerializerMethodField()

    class Meta:
        model = VirtualMachine
        fields = [
            "id",
            "platform",
            "platform_name",
            "moid",
            "name",
            "instance_uuid",
            "bios_uuid",
            "power_state",
            "num_cpu",
            "memory_mb",
            "guest_id",
            "guest_full_name",
            "ip_address",
            "ip_addresses",
            "hostname",
            "tools_status",
            "is_template",
            "vm_path",
            "annotation",
            "datacenter",
            "datacenter_name",
            "cluster",
            "cluster_name",
            "host",
            "host_name",
            "resource_pool",
            "resource_pool_name",
            "folder",
            "folder_name",
            "datastore_names",
            "network_names",
            "synced_at",
        ]
        read_only_fields = fields

    def get_datastore_names(self, vm) -> list[str]:
        return sorted(ds.name for ds in vm.datastores.all())

    def get_network_names(self, vm) -> list[str]:
        return sorted(net.name for net in vm.networks.all())


class SyncRequestSerializer(serializers.Serializer):
    platform = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class TaskAcceptedSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    status = serializers.CharField()
