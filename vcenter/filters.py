import django_filters

from .models import VirtualMachine, VirtualMachinePowerStateChoices


class VirtualMachineFilterSet(django_filters.FilterSet):
    platform = django_filters.NumberFilter(field_name="platform_id")
    datacenter = django_filters.NumberFilter(field_name="datacenter_id")
    cluster = django_filters.NumberFilter(field_name="cluster_id")
    host = django_filters.NumberFilter(field_name="host_id")
    power_state = django_filters.ChoiceFilter(choices=VirtualMachinePowerStateChoices.choices)
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    is_template = django_filters.BooleanFilter()
    moid = django_filters.CharFilter()

    class Meta:
        model = VirtualMachine
        fields = [
            "platform",
            "datacenter",
            "cluster",
            "host",
            "power_state",
            "name",
            "is_template",
            "moid",
        ]
