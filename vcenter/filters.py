"""Filters of the VM list (`GET vcenter/vms?...`)."""

import django_filters
from django.db.models import Q
from rest_framework.filters import SearchFilter

from kstack_naguan.api.filters import IdFilter

from . import operations
from .models import VirtualMachine, VirtualMachinePowerStateChoices
from .names import escape_name


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


class VirtualMachineSearchFilter(SearchFilter):
    """`?search=` over the VM's name as typed (compared in vSphere's escaped form), its IP
    address, instance UUID and guest OS."""

    def filter_queryset(self, request, queryset, view):
        for term in self.get_search_terms(request):
            queryset = queryset.filter(
                Q(name__icontains=escape_name(term))
                | Q(ip_address__icontains=term)
                | Q(instance_uuid__icontains=term)
                | Q(guest_full_name__icontains=term)
            )
        return queryset
