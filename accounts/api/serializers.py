from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rbac.models import Role

from .fields import PrimaryKeyListField, StrictBooleanField


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


class RoleRefSerializer(serializers.Serializer):
    """A role as a user's record names it."""

    id = serializers.IntegerField()
    name = serializers.CharField()


class UserSerializer(serializers.ModelSerializer):
    """A user as the users API shows it (never the password hash)."""

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
            "is_staff",
            "is_superuser",
            "last_login",
            "date_joined",
            "roles",
        ]
        read_only_fields = fields

    @extend_schema_field(RoleRefSerializer(many=True))
    def get_roles(self, user):
        return [{"id": g.pk, "name": g.name} for g in sorted(user.groups.all(), key=_by_name)]


def _by_name(group):
    return group.name


class UserWriteSerializer(serializers.Serializer):
    """The fields a create or update may carry; formats and lengths are the model's to check."""

    username = serializers.CharField(trim_whitespace=True)
    email = serializers.CharField(trim_whitespace=True)
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    real_name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)
    is_staff = StrictBooleanField(required=False)
    is_superuser = StrictBooleanField(required=False)
    roles = PrimaryKeyListField(queryset=Role.objects.all(), required=False)

    REQUIRED = ("username", "email", "password")


class UserUpdateSerializer(UserWriteSerializer):
    """Every field optional; the password and the roles have their own routes."""

    password = None
    roles = None
    username = serializers.CharField(required=False, trim_whitespace=True)
    email = serializers.CharField(required=False, trim_whitespace=True)


class ProfileUpdateSerializer(serializers.Serializer):
    """What a user may change on their own record."""

    email = serializers.CharField(required=False, trim_whitespace=True)
    real_name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)


class PasswordChangeSerializer(serializers.Serializer):
    """The signed-in user's old password and the new one."""

    old_password = serializers.CharField(trim_whitespace=False)
    new_password = serializers.CharField(trim_whitespace=False)


class PasswordResetSerializer(serializers.Serializer):
    """The new password an administrator sets for a user."""

    password = serializers.CharField(trim_whitespace=False)
