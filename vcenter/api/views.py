from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http_status
from rest_framework.views import APIView

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeReadOnlyViewSet
from platforms.models import CloudPlatform
from vcenter import services
from vcenter.filters import VirtualMachineFilterSet
from vcenter.models import Datastore, Network, VirtualMachine

from .serializers import SyncRequestSerializer, TaskAcceptedSerializer, VirtualMachineSerializer


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


class SyncView(APIView):
    """Queue an inventory sync of one platform, or of every active one (202 + TaskLog ids)."""

    action_permissions = {"post": ["vcenter.sync_inventory"]}

    @extend_schema(
        request=SyncRequestSerializer, responses={202: TaskAcceptedSerializer(many=True)}
    )
    def post(self, request):
        serializer = SyncRequestSerializer(data=request.data)
        if not serializer.is_valid():
            raise ApiError(codes.SYNC_FAILED, data={"errors": serializer.errors})
        platform_id = serializer.validated_data.get("platform")
        if platform_id:
            platforms = list(CloudPlatform.objects.filter(pk=platform_id))
            if not platforms:
                raise ApiError(
                    codes.SYNC_FAILED, http_status.HTTP_404_NOT_FOUND, detail="unknown platform"
                )
        else:
            platforms = list(services.active_platforms())
        logs = [services.start_sync(p, request.user) for p in platforms]
        data = [
            {"task_id": log.pk, "platform": log.object_id, "status": log.status} for log in logs
        ]
        return ApiResponse(codes.TASK_ACCEPTED, data, status=http_status.HTTP_202_ACCEPTED)


class TreeView(APIView):
    """Platform → datacenter → cluster → host → VM (2430)."""

    action_permissions = {"get": ["vcenter.view_virtualmachine"]}

    @extend_schema(parameters=[OpenApiParameter("platform", int, required=False)])
    def get(self, request):
        raw = request.query_params.get("platform")
        if raw not in (None, "") and not str(raw).isdigit():
            raise ApiError(
                codes.TREE_FAILED, data={"errors": {"platform": ["must be an integer id"]}}
            )
        return ApiResponse(codes.TREE_OK, services.inventory_tree(int(raw) if raw else None))
