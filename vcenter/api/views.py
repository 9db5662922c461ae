from django.db.models import Prefetch

from kstack_naguan.api import codes
from kstack_naguan.api.viewsets import EnvelopeReadOnlyViewSet
from vcenter.filters import VirtualMachineFilterSet
from vcenter.models import Datastore, Network, VirtualMachine

from .serializers import VirtualMachineSerializer


class VirtualMachineViewSet(EnvelopeReadOnlyViewSet):
    """The VMs of the inventory mirror (2030 on success)."""

    # TODO(#5): create, update, delete and the power/clone/migrate/ip actions.
    serializer_class = VirtualMachineSerializer
    filterset_class = VirtualMachineFilterSet
    search_fields = ["name", "ip_address", "instance_uuid", "guest_full_name"]
    ordering_fields = ["name", "power_state", "num_cpu", "memory_mb", "synced_at", "id"]
    ordering = ["name", "id"]
    success_codes = {"list": codes.VM_QUERY_OK.number, "retrieve": codes.VM_QUERY_OK.number}
    not_found_codes = {"retrieve": codes.VM_QUERY_FAILED.number}
    queryset = VirtualMachine.objects.select_related(
        "platform", "datacenter", "cluster", "host", "resource_pool", "folder"
    ).prefetch_related(
        Prefetch("datastores", queryset=Datastore.objects.only("id", "name")),
        Prefetch("networks", queryset=Network.objects.only("id", "name")),
    )
