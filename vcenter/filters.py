"""Filters of the VM list (`GET vcenter/vms?...`)."""

import django_filters

from kstack_naguan.api.filters import IdFilter

from . import operations
from .models import VirtualMachine, VirtualMachinePowerStateChoices


class VirtualMachineFilterSet(django_filters.FilterSet):
    """VMs by where they run, power state, template flag, guest OS, address and name.

    `name` matches part of the name as the user typed it: the value is escaped the way vSphere
    stores `%`, `/` and `\\` before it is compared.
    """

    platform = IdFilter(field_name="platform_id")
    datacenter = IdFilter(field_name="datacenter_id")
    cluster = IdFilter(field_name="cluster_id")
    host = IdFilter(field_name="host_id")
    resource_pool = IdFilter(field_name="resource_pool_id")
    folder = IdFilter(field_name="folder_id")
    datastore = IdFilter(field_name="datastores", distinct=True)
    network = IdFilter(field_name="networks", distinct=True)
    power_state = django_filters.ChoiceFilter(choices=VirtualMachinePowerStateChoices.choices)
    name = django_filters.CharFilter(method="filter_name")
    is_template = django_filters.BooleanFilter()
    moid = django_filters.CharFilter()
    guest_id = django_filters.CharFilter()
    ip_address = django_filters.CharFilter()

    class Meta:
        model = VirtualMachine
        fields = [
            "platform",
            "datacenter",
            "cluster",
            "host",
            "resource_pool",
            "folder",
            "datastore",
            "network",
            "power_state",
            "name",
            "is_template",
            "moid",
            "guest_id",
            "ip_address",
        ]

    def filter_name(self, queryset, name, value):
        """Part of the name, compared in the escaped form vSphere stores."""
        return queryset.filter(name__icontains=operations.escape_name(value))
