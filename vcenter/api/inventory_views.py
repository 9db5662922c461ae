"""Inventory reads and sync: the tree, datastores, ISO images, port groups, resource pools."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http_status
from rest_framework.views import APIView

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.responses import ApiResponse
from platforms.models import CloudPlatform
from vcenter import services

from .serializers import SyncRequestSerializer, TaskAcceptedSerializer


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
