import django_filters
from django.contrib.auth import get_user_model

from kstack_naguan.api.filters import DateTimeFilter, ModelIdFilter
from rbac.models import Role


class UserFilterSet(django_filters.FilterSet):
    """`?username=&email=&is_active=&is_staff=&is_superuser=&role=&joined_after=&joined_before=`."""

    username = django_filters.CharFilter(lookup_expr="icontains")
    email = django_filters.CharFilter(lookup_expr="icontains")
    real_name = django_filters.CharFilter(lookup_expr="icontains")
    role = ModelIdFilter(field_name="groups", queryset=Role.objects.all(), label="role")
    joined_after = DateTimeFilter(field_name="date_joined", lookup_expr="gte")
    joined_before = DateTimeFilter(field_name="date_joined", lookup_expr="lt")

    class Meta:
        model = get_user_model()
        fields = ["username", "email", "real_name", "is_active", "is_staff", "is_superuser", "role"]
