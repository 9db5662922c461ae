import django_filters

from kstack_naguan.api.filters import IdFilter

from .models import CloudPlatform, PlatformType


class PlatformTypeFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = PlatformType
        fields = ["name"]


class CloudPlatformFilterSet(django_filters.FilterSet):
    platform_type = IdFilter(field_name="platform_type_id")
    platform_type_name = django_filters.CharFilter(field_name="platform_type__name")
    name = django_filters.CharFilter(lookup_expr="icontains")
    host = django_filters.CharFilter(lookup_expr="icontains")
    protocol = django_filters.ChoiceFilter(choices=[("https", "https"), ("http", "http")])

    class Meta:
        model = CloudPlatform
        fields = [
            "platform_type",
            "platform_type_name",
            "name",
            "host",
            "protocol",
            "is_active",
            "verify_tls",
        ]
