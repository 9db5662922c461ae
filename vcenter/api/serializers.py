"""Serializers of the VM routes: the mirrored VM as the API shows it, and the input of each
lifecycle operation. They check shape and type only; `vcenter.operations` checks the rest
against the mirror and vCenter. A field whose problem has a seed code of its own raises a
`ValidationError` whose `code` is that number (the view answers with it)."""

import json

from django.db.models import F
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vcenter import operations
from vcenter.client.vms import NIC_TYPES
from vcenter.models import VirtualMachine
from vcenter.operations.common import MAX_NAME_LENGTH


class VirtualMachineSerializer(serializers.ModelSerializer):
    """A VM of the mirror, with the names of where it runs."""

    platform_name = serializers.CharField(source="platform.name", read_only=True)
    datacenter_name = serializers.CharField(source="datacenter.name", read_only=True)
    cluster_name = serializers.CharField(
        source="cluster.name", read_only=True, default=None, allow_null=True
    )
    host_name = serializers.CharField(
        source="host.name", read_only=True, default=None, allow_null=True
    )
    resource_pool_name = serializers.CharField(
        source="resource_pool.name", read_only=True, default=None, allow_null=True
    )
    folder_name = serializers.CharField(
        source="folder.name", read_only=True, default=None, allow_null=True
    )
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

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # vSphere stores `/`, `\\` and `%` escaped; show the name the user gave.
        data["name"] = operations.display_name(instance.name)
        return data

    def get_datastore_names(self, vm) -> list[str]:
        return sorted(ds.name for ds in vm.datastores.all())

    def get_network_names(self, vm) -> list[str]:
        return sorted(net.name for net in vm.networks.all())


# The names `VirtualMachineSerializer` reads through a relation, as `values()` expressions.
_RELATED_NAMES = {
    "platform_name": F("platform__name"),
    "datacenter_name": F("datacenter__name"),
    "cluster_name": F("cluster__name"),
    "host_name": F("host__name"),
    "resource_pool_name": F("resource_pool__name"),
    "folder_name": F("folder__name"),
}
_LINKED_NAMES = {"datastore_names": "datastores", "network_names": "networks"}
_COLUMNS = [
    name
    for name in VirtualMachineSerializer.Meta.fields
    if name not in _RELATED_NAMES and name not in _LINKED_NAMES
]
_DATETIME = serializers.DateTimeField()


def vm_values(queryset):
    """`queryset` as plain rows of the VM's columns and the names of its related objects."""
    return queryset.select_related(None).prefetch_related(None).values(*_COLUMNS, **_RELATED_NAMES)


def vm_rows(rows):
    """Rows of `vm_values` as `VirtualMachineSerializer` shows them, with two more queries.

    The VM list reads plain rows, the related names joined in, and the datastore and network
    names from the link tables, instead of building and serialising some ten model instances
    per VM: the same output (a test compares them) at a fraction of the cost.
    """
    linked = {key: _names_by_vm(relation, rows) for key, relation in _LINKED_NAMES.items()}
    fields = VirtualMachineSerializer.Meta.fields
    for row in rows:
        row["name"] = operations.display_name(row["name"])
        if row["synced_at"] is not None:
            row["synced_at"] = _DATETIME.to_representation(row["synced_at"])
        for key, names in linked.items():
            row[key] = names.get(row["id"], [])
    return [{name: row[name] for name in fields} for row in rows]


def _names_by_vm(relation, rows):
    # {VM id: sorted names} of one many-to-many relation, in one query over its link table.
    through = getattr(VirtualMachine, relation).through
    target = getattr(VirtualMachine, relation).field.m2m_reverse_field_name()
    names = {}
    links = through.objects.filter(virtualmachine_id__in=[row["id"] for row in rows])
    for vm_id, name in links.values_list("virtualmachine_id", f"{target}__name"):
        names.setdefault(vm_id, []).append(name)
    return {vm_id: sorted(values) for vm_id, values in names.items()}


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ObjectRefField(serializers.Field):
    """An inventory object named by its id (a JSON integer) or by moid or name (a string)."""

    default_error_messages = {
        "invalid": "Give an id (integer) or a moid or name (string).",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, int):
            if data < 1 or data > 2**63 - 1:
                self.fail("invalid")
            return data
        data = data.strip()
        if not data or len(data) > 255:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


DISK_EXAMPLE = '[{"type": "thin", "size": 10}]'


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "size"],
            "properties": {
                "type": {"type": "string", "enum": ["thin", "thick", "eagerZeroedThick"]},
                "size": {"type": "integer", "minimum": 1, "description": "GB"},
            },
        },
    }
)
class DiskListField(serializers.Field):
    """Disks as a JSON list (or its text) of `{"type": thin|thick|eagerZeroedThick, "size": GB}`.

    A disk without a type raises code 2001, without a size 2002, anything else malformed 2003;
    every message shows the expected form.
    """

    def _fail(self, message, code="2003"):
        raise serializers.ValidationError(f"{message} Expected e.g. {DISK_EXAMPLE}.", code=code)

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                self._fail("The disk list is not valid JSON.")
        if not isinstance(data, list):
            self._fail("The disks must be a list.")
        if len(data) > operations.MAX_DISKS:
            self._fail(f"At most {operations.MAX_DISKS} disks fit on the VM's SCSI controller.")
        disks = []
        for number, disk in enumerate(data, start=1):
            if not isinstance(disk, dict):
                self._fail(f"Disk {number} is not an object.")
            if disk.get("type") in (None, ""):
                self._fail(f"Disk {number} has no type.", code="2001")
            if disk.get("size") in (None, ""):
                self._fail(f"Disk {number} has no size.", code="2002")
            unknown = set(disk) - {"type", "size"}
            if unknown:
                self._fail(
                    f"Disk {number} has unknown keys: {', '.join(sorted(map(str, unknown)))}."
                )
            if disk["type"] not in operations.DISK_TYPES:
                self._fail(
                    f"Disk {number} has type {disk['type']!r}; use one of "
                    f"{', '.join(operations.DISK_TYPES)}."
                )
            size = disk["size"]
            if isinstance(size, str) and size.strip().isdigit():
                size = int(size)
            if isinstance(size, bool) or not isinstance(size, int):
                self._fail(f"Disk {number} has size {disk['size']!r}; give whole gigabytes.")
            if not 1 <= size <= operations.MAX_DISK_GB:
                self._fail(f"Disk {number}: the size must be 1-{operations.MAX_DISK_GB} GB.")
            disks.append({"type": disk["type"], "size": size})
        return disks

    def to_representation(self, value):
        return value


class VirtualMachineCreateSerializer(serializers.Serializer):
    """`POST vms/`: what to create and where; the placement is checked by the service."""

    # vSphere allows 80 characters as stored; `/`, `%` and `\` count three (the service checks).
    name = serializers.CharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True)
    platform = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    datacenter = ObjectRefField()
    cluster = ObjectRefField(required=False, allow_null=True)
    host = ObjectRefField(required=False, allow_null=True)
    resource_pool = ObjectRefField(required=False, allow_null=True)
    folder = ObjectRefField(required=False, allow_null=True)
    datastore = ObjectRefField()
    cpu = serializers.IntegerField(min_value=1, max_value=operations.MAX_CPUS)
    memory_mb = serializers.IntegerField(min_value=4, max_value=operations.MAX_MEMORY_MB)
    guest_id = serializers.RegexField(
        r"^[A-Za-z0-9_]{1,64}$", required=False, default="otherLinux64Guest"
    )
    disks = DiskListField(required=False, default=list)
    networks = serializers.ListField(
        child=ObjectRefField(), required=False, default=list, max_length=operations.MAX_NICS
    )
    nic_type = serializers.ChoiceField(choices=list(NIC_TYPES), required=False, default="vmxnet3")
    iso = ObjectRefField(required=False, allow_null=True)
    power_on = serializers.BooleanField(required=False, default=False)
    annotation = serializers.CharField(required=False, allow_blank=True, max_length=4096)

    def validate_memory_mb(self, value):
        if value % 4:
            raise serializers.ValidationError("Memory must be a multiple of 4 MB.")
        return value


class PowerSerializer(serializers.Serializer):
    """`POST vms/{id}/power`: on, off, suspend or reboot."""

    action = serializers.CharField(max_length=32)


class ResizeSerializer(serializers.Serializer):
    """`PATCH vms/{id}`: a new CPU count and/or memory size."""

    cpu = serializers.IntegerField(required=False, min_value=1, max_value=operations.MAX_CPUS)
    memory_mb = serializers.IntegerField(
        required=False, min_value=4, max_value=operations.MAX_MEMORY_MB
    )

    def validate_memory_mb(self, value):
        if value % 4:
            raise serializers.ValidationError("Memory must be a multiple of 4 MB.")
        return value


class DeleteSerializer(serializers.Serializer):
    """`DELETE vms/{id}?force=true`: force powers a running VM off before deleting it."""

    force = serializers.BooleanField(required=False, default=False)


class CloneSerializer(serializers.Serializer):
    """`POST vms/{id}/clone`: the clone's name and where it goes."""

    name = serializers.CharField(max_length=MAX_NAME_LENGTH)
    datacenter = ObjectRefField(required=False, allow_null=True)
    host = ObjectRefField(required=False, allow_null=True)
    resource_pool = ObjectRefField(required=False, allow_null=True)
    datastore = ObjectRefField(required=False, allow_null=True)
    folder = ObjectRefField(required=False, allow_null=True)
    power_on = serializers.BooleanField(required=False, default=False)
    template = serializers.BooleanField(required=False, default=False)


class MigrateSerializer(serializers.Serializer):
    """`POST vms/{id}/migrate`: the target host, resource pool and/or datastore."""

    host = ObjectRefField(required=False, allow_null=True)
    resource_pool = ObjectRefField(required=False, allow_null=True)
    datastore = ObjectRefField(required=False, allow_null=True)
    power_off = serializers.BooleanField(required=False, default=False)


class IpAssignSerializer(serializers.Serializer):
    """`POST vms/{id}/ip`: guest network settings for one NIC; addresses are checked later."""

    hostname = serializers.CharField(max_length=255)
    ip = serializers.CharField(max_length=64)
    netmask = serializers.CharField(max_length=64)
    gateway = serializers.CharField(max_length=64, required=False, allow_blank=True)
    dns = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=3
    )
    domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    nic = serializers.IntegerField(required=False, default=0, min_value=0, max_value=9)


class SyncRequestSerializer(serializers.Serializer):
    platform = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class TaskAcceptedSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    status = serializers.CharField()
