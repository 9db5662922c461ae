import django_filters
from django.contrib.auth import get_user_model

from kstack_naguan.api.filters import IdFilter, ModelIdFilter

from .models import Menu, Role


class MenuFilterSet(django_filters.FilterSet):
    """`?parent=&root=true&is_hide=&is_hide_children=&name=&title=`."""

    root = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull")
    title = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Menu
        fields = ["parent", "root", "name", "title", "is_hide", "is_hide_children"]


class RoleFilterSet(django_filters.FilterSet):
    """`?name=&is_builtin=&user=`."""

    name = django_filters.CharFilter(lookup_expr="icontains")
    is_builtin = django_filters.BooleanFilter(method="filter_builtin")
    user = ModelIdFilter(field_name="group__user", queryset=get_user_model()._default_manager.all())

    class Meta:
        model = Role
        fields = ["name", "builtin", "is_builtin", "user"]

    def filter_builtin(self, queryset, name, value):
        return queryset.exclude(builtin="") if value else queryset.filter(builtin="")


class UserRoleFilterSet(django_filters.FilterSet):
    """`?user=&role=&username=` over users and the roles they hold."""

    user = IdFilter(field_name="id")
    role = ModelIdFilter(field_name="groups", queryset=Role.objects.all())
    username = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = get_user_model()
        fields = ["user", "role", "username"]
