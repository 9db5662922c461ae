from django.contrib.auth import get_user_model
from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    """Credentials for `POST /api/auth/login` (checked by the login service, not here)."""

    username = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    password = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, write_only=True
    )


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class ProfileSerializer(serializers.ModelSerializer):
    """The signed-in user as the login answer and `users/me` show it."""

    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = [
            "id",
            "username",
            "email",
            "real_name",
            "phone",
            "is_active",
            "is_superuser",
            "last_login",
            "date_joined",
            "roles",
        ]
        read_only_fields = fields

    def get_roles(self, user) -> list[str]:
        return sorted(group.name for group in user.groups.all())


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LoginResultSerializer(TokenPairSerializer):
    user = ProfileSerializer()
