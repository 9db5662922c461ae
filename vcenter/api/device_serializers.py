"""Request and response shapes of a VM's disk, network adapter and snapshot routes.

Request serializers check types and ranges only; the rules that need vCenter or the mirror
(free slots, known port groups, the snapshot tree) live in `vcenter.devices`. Response
serializers describe the plain dicts the service returns, for the schema and for a stable shape.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vcenter.devices import NIC_ADD_TYPES

MAX_DISK_GB = 62 * 1024  # the largest VMDK vSphere supports (62 TB)
DISK_TYPES = ("thin", "thick", "eagerZeroedThick")


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON number (or digits), never as a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}]})
class ReferenceField(serializers.Field):
    """A mirror id (positive integer) or a name (non-blank string without NUL characters)."""

    default_error_messages = {"invalid": "give an id (integer) or a name (string)"}

    def __init__(self, max_length=255, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            if data <= 0:
                self.fail("invalid")
            return data
        if (
            isinstance(data, str)
            and data.strip()
            and len(data) <= self.max_length
            and "\x00" not in data
        ):
            return data.strip()
        self.fail("invalid")
        return None  # pragma: no cover

    def to_representation(self, value):
        return value


class DiskSpecSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=DISK_TYPES)
    size = StrictIntegerField(min_value=1, max_value=MAX_DISK_GB, help_text="GB")


class DiskAddSerializer(serializers.Serializer):
    disks = serializers.ListField(child=DiskSpecSerializer(), allow_empty=False)
    datastore = ReferenceField(required=False, allow_null=True)


class DiskGrowSerializer(serializers.Serializer):
    size = StrictIntegerField(min_value=1, max_value=MAX_DISK_GB, help_text="GB")


class DiskRefSerializer(serializers.Serializer):
    """Names a disk for deletion by its device key or its label."""

    key = StrictIntegerField(required=False, min_value=1, max_value=2**31 - 1)
    label = serializers.CharField(required=False, max_length=255)

    def validate(self, attrs):
        if ("key" in attrs) == ("label" in attrs):
            raise serializers.ValidationError("give exactly one of key or label")
        return attrs


class DiskSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    label = serializers.CharField()
    size_gb = serializers.FloatField()
    capacity_kb = serializers.IntegerField()
    type = serializers.CharField()
    disk_mode = serializers.CharField()
    file_name = serializers.CharField()
    datastore = serializers.CharField()
    controller_key = serializers.IntegerField()
    controller_type = serializers.CharField()
    bus_number = serializers.IntegerField(allow_null=True)
    unit_number = serializers.IntegerField(allow_null=True)


class ControllerSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    bus_number = serializers.IntegerField()
    type = serializers.CharField()
    used_units = serializers.ListField(child=serializers.IntegerField())


class DisksAddedSerializer(serializers.Serializer):
    disks = DiskSerializer(many=True)
    controllers = ControllerSerializer(many=True)


class NicAddSerializer(serializers.Serializer):
    network = ReferenceField(help_text="port group id (from port-groups) or name")
    adapter_type = serializers.ChoiceField(choices=NIC_ADD_TYPES, default="vmxnet3")
    connected = serializers.BooleanField(default=True)


class NicRefSerializer(serializers.Serializer):
    """Names a network adapter for deletion by its device key or its MAC address."""

    key = StrictIntegerField(required=False, min_value=1, max_value=2**31 - 1)
    mac_address = serializers.CharField(required=False, max_length=32)

    def validate(self, attrs):
        if ("key" in attrs) == ("mac_address" in attrs):
            raise serializers.ValidationError("give exactly one of key or mac_address")
        return attrs


class NicSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    label = serializers.CharField()
    mac_address = serializers.CharField()
    adapter_type = serializers.CharField()
    connected = serializers.BooleanField()
    start_connected = serializers.BooleanField()
    kind = serializers.CharField()
    network = serializers.IntegerField(allow_null=True)
    port_group = serializers.CharField(allow_null=True)
    portgroup_key = serializers.CharField()
    switch_uuid = serializers.CharField()


class SnapshotActionSerializer(serializers.Serializer):
    """`action` create (`snapshot_name`...) or revert (`snapshot_id`)."""

    action = serializers.CharField()
    snapshot_name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    memory = serializers.BooleanField(required=False)
    quiesce = serializers.BooleanField(required=False)
    snapshot_id = serializers.IntegerField(required=False)


class SnapshotCreateSerializer(serializers.Serializer):
    snapshot_name = serializers.CharField(max_length=255)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=4096, default=""
    )
    memory = serializers.BooleanField(default=False)
    quiesce = serializers.BooleanField(default=False)


class SnapshotRevertSerializer(serializers.Serializer):
    snapshot_id = StrictIntegerField(min_value=1, max_value=2**31 - 1)


class SnapshotDeleteSerializer(serializers.Serializer):
    snapshot_id = StrictIntegerField(min_value=1, max_value=2**31 - 1)
    remove_children = serializers.BooleanField(default=False)


class SnapshotNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    snapshot_id = serializers.IntegerField()
    moid = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField()
    quiesced = serializers.BooleanField()
    is_current = serializers.BooleanField()
    parent = serializers.IntegerField(
        allow_null=True, help_text="the parent's snapshot_id (vCenter's id, as the routes take)"
    )
    children = serializers.SerializerMethodField()

    def get_children(self, node) -> list[dict]:
        return SnapshotNodeSerializer(node["children"], many=True).data


class SnapshotTreeSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    current = serializers.IntegerField(allow_null=True)
    results = SnapshotNodeSerializer(many=True)
