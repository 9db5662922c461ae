from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import PrimaryKeyListField, StrictBooleanField
from accounts.api.serializers import RoleRefSerializer
from rbac import services
from rbac.models import Menu, Role, RoleBuiltinChoices

_INT32 = {"min_value": -(2**31), "max_value": 2**31 - 1}


class MenuSerializer(serializers.ModelSerializer):
    """A menu as the API shows it."""

    class Meta:
        model = Menu
        fields = [
            "id",
            "parent",
            "path",
            "name",
            "component",
            "title",
            "icon",
            "sort",
            "is_hide",
            "is_hide_children",
        ]
        read_only_fields = fields


class MenuNodeSerializer(MenuSerializer):
    """A menu with its children nested (schema only; trees are built by the service)."""

    children = serializers.ListField(child=serializers.DictField())

    class Meta(MenuSerializer.Meta):
        fields = [*MenuSerializer.Meta.fields, "children"]


class MenuWriteSerializer(serializers.Serializer):
    """The fields a menu create or update may carry."""

    parent = serializers.PrimaryKeyRelatedField(
        queryset=Menu.objects.all(), allow_null=True, required=False
    )
    path = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=64)
    component = serializers.CharField(max_length=200, required=False, allow_blank=True)
    title = serializers.CharField(max_length=64)
    icon = serializers.CharField(max_length=64, required=False, allow_blank=True)
    sort = serializers.IntegerField(required=False, **_INT32)
    is_hide = StrictBooleanField(required=False)
    is_hide_children = StrictBooleanField(required=False)


class RoleSerializer(serializers.ModelSerializer):
    """A role with its permissions as `app_label.codename` and its menus as ids."""

    is_builtin = serializers.BooleanField(read_only=True)
    builtin = serializers.ChoiceField(
        choices=RoleBuiltinChoices.choices, allow_blank=True, read_only=True
    )
    permissions = serializers.SerializerMethodField()
    menus = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Role
        fields = [
            "id",
            "name",
            "description",
            "is_builtin",
            "builtin",
            "permissions",
            "menus",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_permissions(self, role) -> list[str]:
        return services.permission_names(role.permissions.all())


class RoleWriteSerializer(serializers.Serializer):
    """The fields a role create or update may carry; lists replace the role's current ones."""

    name = serializers.CharField(max_length=150)
    description = serializers.CharField(max_length=255)
    permissions = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, max_length=1000
    )
    menus = PrimaryKeyListField(queryset=Menu.objects.all(), required=False)

    REQUIRED = ("name", "description")


class UserRoleSerializer(serializers.ModelSerializer):
    """A user and the roles they hold."""

    user = serializers.IntegerField(source="pk", read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["user", "username", "real_name", "roles"]
        read_only_fields = fields

    @extend_schema_field(RoleRefSerializer(many=True))
    def get_roles(self, user):
        return [{"id": role.pk, "name": role.name} for role in user.prefetched_roles]


class RoleListSerializer(serializers.Serializer):
    """`{"roles": [ids]}` (or `{"role": id}`): the roles to give, take or set."""

    roles = PrimaryKeyListField(queryset=Role.objects.all())


class UserRoleAddSerializer(RoleListSerializer):
    """`{"user": id, "roles": [ids]}` (or `"role": id`); at least one role."""

    roles = PrimaryKeyListField(queryset=Role.objects.all(), allow_empty=False)
    user = serializers.PrimaryKeyRelatedField(queryset=get_user_model()._default_manager.all())
