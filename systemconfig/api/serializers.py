from rest_framework import serializers

from systemconfig.models import SystemConfig


class StrictBooleanField(serializers.BooleanField):
    """A boolean that accepts only true/false (JSON booleans, or the words in a form)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip().lower() in ("true", "false"):
            return data.strip().lower() == "true"
        self.fail("invalid")
        return None  # pragma: no cover - fail() raises


class SystemConfigSerializer(serializers.ModelSerializer):
    """The configuration; `logo` is the absolute URL the image is served from (or null)."""

    debug = StrictBooleanField(required=False)
    logo = serializers.ImageField(read_only=True, use_url=True)

    class Meta:
        model = SystemConfig
        fields = [
            "id",
            "name",
            "logo",
            "footer",
            "debug",
            "sync_interval_minutes",
            "log_retention_days",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "logo", "created_at", "updated_at"]
        extra_kwargs = {"name": {"allow_blank": False}}


class LogoUploadSerializer(serializers.Serializer):
    """Multipart body of `POST /api/system-config/logo`."""

    logo = serializers.FileField()
