from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from platforms.models import CloudPlatform, PlatformType


class PlatformTypeSerializer(serializers.ModelSerializer):
    """A kind of platform, with how many platforms use it."""

    name = serializers.CharField(
        max_length=64,
        validators=[UniqueValidator(PlatformType.objects.all(), message="This name is taken.")],
    )
    platform_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = PlatformType
        fields = ["id", "name", "description", "platform_count", "created_at", "updated_at"]
        read_only_fields = ["id", "platform_count", "created_at", "updated_at"]


class CloudPlatformSerializer(serializers.ModelSerializer):
    """A vCenter endpoint; the password is write-only and only `has_password` is ever shown."""

    name = serializers.CharField(
        max_length=64,
        validators=[UniqueValidator(CloudPlatform.objects.all(), message="This name is taken.")],
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=256,
        style={"input_type": "password"},
        help_text="Write-only. Required on create; empty or absent on update keeps the stored one.",
    )
    has_password = serializers.SerializerMethodField()
    platform_type_name = serializers.CharField(source="platform_type.name", read_only=True)

    class Meta:
        model = CloudPlatform
        fields = [
            "id",
            "name",
            "platform_type",
            "platform_type_name",
            "host",
            "port",
            "protocol",
            "username",
            "password",
            "has_password",
            "verify_tls",
            "is_active",
            "remarks",
            "last_synced_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_synced_at", "created_at", "updated_at"]

    def get_has_password(self, platform) -> bool:
        return bool(platform.password_encrypted)

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": ["This field is required."]})
        return attrs


class ConnectionResultSerializer(serializers.Serializer):
    """What `test-connection` reports: the endpoint's `about` data."""

    platform = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()
    build = serializers.CharField()
    api_type = serializers.CharField()
    instance_uuid = serializers.CharField()
