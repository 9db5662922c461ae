"""Inventory reads and sync: the tree, datastores, ISO images, port groups, resource pools."""

import logging

from django.db import DatabaseError
from django.db.models import Count, F, Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework import status as http_status
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeMixin
from platforms.models import CloudPlatform
from vcenter import services
from vcenter.inventory_filters import (
    DatastoreFilterSet,
    IsoImageFilterSet,
    PortGroupFilterSet,
    ResourcePoolFilterSet,
)
from vcenter.models import Datastore, Host, IsoImage, Network, ResourcePool

from .inventory_serializers import (
    DatastoreSerializer,
    IsoImageSerializer,
    PortGroupSerializer,
    ResourcePoolTreeSerializer,
)
from .serializers import SyncRequestSerializer, TaskAcceptedSerializer

logger = logging.getLogger(__name__)

_HOSTS = Host.objects.only("id", "moid", "name").order_by("name")


class SyncView(APIView):
    """Queue an inventory sync of one platform, or of every active one (202 + TaskLog ids).

    A platform whose sync is queued or running is not synced again: asked for alone, it
    answers 409 with 911 CONFLICT and the running TaskLog's id; among all platforms, its entry
    names the running TaskLog instead of a new one.
    """

    action_permissions = {"post": ["vcenter.sync_inventory"]}

    @extend_schema(
        request=SyncRequestSerializer,
        responses={202: TaskAcceptedSerializer(many=True), 409: OpenApiTypes.OBJECT},
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

        # Queue a sync per platform; one already running answers with its own TaskLog.
        data, running = [], []
        for platform in platforms:
            try:
                log = services.start_sync(platform, request.user)
            except services.SyncRunning as exc:
                entry = _running_entry(platform, exc.task_log)
                running.append(entry)
                data.append(entry)
            else:
                data.append({"task_id": log.pk, "platform": platform.pk, "status": log.status})

        # Refused outright when every platform asked for is already syncing.
        if running and len(running) == len(data):
            return ApiResponse(
                codes.CONFLICT,
                running[0] if platform_id else running,
                status=http_status.HTTP_409_CONFLICT,
            )
        return ApiResponse(codes.TASK_ACCEPTED, data, status=http_status.HTTP_202_ACCEPTED)


def _running_entry(platform, task_log):
    return {
        "task_id": task_log.pk if task_log is not None else None,
        "platform": platform.pk,
        "status": task_log.status if task_log is not None else "running",
        "detail": f"a sync of {platform.name} is already running",
    }


class TreeView(APIView):
    """Platform → datacenter → folder → cluster → host → resource pool → VM (2430; 2431)."""

    action_permissions = {"get": ["vcenter.view_virtualmachine"]}

    @extend_schema(
        parameters=[OpenApiParameter("platform", int, required=False)],
        responses={200: {"type": "array", "items": {"type": "object"}}},
    )
    def get(self, request):
        raw = request.query_params.get("platform")
        if raw not in (None, "") and not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise validation_error(codes.TREE_FAILED, {"platform": ["must be an integer id"]})
        tree = services.inventory_tree(int(raw) if raw else None)
        if tree is None:
            raise ApiError(
                codes.TREE_FAILED, http_status.HTTP_404_NOT_FOUND, detail="unknown platform"
            )
        return ApiResponse(codes.TREE_OK, tree)


class InventoryListViewSet(EnvelopeMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A paginated inventory list whose bad filter parameters answer `bad_params_code` (400)."""

    bad_params_code = codes.INVALID_INPUT

    def filter_queryset(self, queryset):
        try:
            return super().filter_queryset(queryset)
        except ValidationError as exc:
            raise validation_error(self.bad_params_code, exc.detail) from None


class DatastoreViewSet(InventoryListViewSet):
    """Datastores with the hosts that mount them and their VM counts (2440; 2441 bad filter)."""

    serializer_class = DatastoreSerializer
    filterset_class = DatastoreFilterSet
    search_fields = ["name", "url"]
    ordering_fields = ["name", "capacity_bytes", "free_bytes", "vm_count", "id"]
    ordering = ["name", "id"]
    success_codes = {"list": codes.DATASTORE_QUERY_OK.number}
    bad_params_code = codes.DATASTORE_BAD_PARAMS
    queryset = (
        Datastore.objects.select_related("datacenter")
        .annotate(vm_count=Count("vms", distinct=True))
        .prefetch_related(Prefetch("hosts", queryset=_HOSTS))
    )


class IsoImageViewSet(InventoryListViewSet):
    """ISO images found on the datastores by the last sync (2450; 2451 database failure)."""

    serializer_class = IsoImageSerializer
    filterset_class = IsoImageFilterSet
    search_fields = ["name", "path"]
    ordering_fields = ["name", "path", "size_bytes", "modified_at", "id"]
    ordering = ["name", "id"]
    success_codes = {"list": codes.IMAGE_QUERY_OK.number}
    queryset = IsoImage.objects.all()

    def get_queryset(self):
        return IsoImage.objects.select_related("datastore")

    def list(self, request, *args, **kwargs):
        try:
            return super().list(request, *args, **kwargs)
        except DatabaseError:
            logger.exception("reading ISO images failed")
            raise ApiError(
                codes.IMAGE_DB_ERROR, http_status.HTTP_500_INTERNAL_SERVER_ERROR
            ) from None


class PortGroupViewSet(InventoryListViewSet):
    """Standard and distributed port groups with VLAN, switch and hosts (2460; 2461 bad filter)."""

    serializer_class = PortGroupSerializer
    filterset_class = PortGroupFilterSet
    search_fields = ["name"]
    ordering_fields = ["name", "kind", "vlan_id", "vm_count", "id"]
    ordering = ["name", "id"]
    success_codes = {"list": codes.PORT_GROUP_QUERY_OK.number}
    bad_params_code = codes.PORT_GROUP_QUERY_FAILED
    queryset = (
        Network.objects.select_related("datacenter")
        .annotate(vm_count=Count("vms", distinct=True))
        .prefetch_related(Prefetch("hosts", queryset=_HOSTS))
    )


class ResourcePoolViewSet(InventoryListViewSet):
    """Resource pools as a tree under each cluster or standalone host (2470; 2471 bad filter).

    The page holds root pools, one per cluster or standalone host; each carries its owner and
    the pools below it, read with one more query for the whole page.
    """

    serializer_class = ResourcePoolTreeSerializer
    filterset_class = ResourcePoolFilterSet
    search_fields = ["name"]
    ordering_fields = ["name", "id"]
    ordering = ["name", "id"]
    success_codes = {"list": codes.RESOURCE_POOL_QUERY_OK.number}
    bad_params_code = codes.RESOURCE_POOL_BAD_PARAMS
    queryset = (
        ResourcePool.objects.filter(parent_moid=F("owner_moid"))
        .select_related("cluster")
        .annotate(vm_count=Count("vms"))
    )

    def list(self, request, *args, **kwargs):
        # Page the root pools, as any list.
        roots = self.paginate_queryset(self.filter_queryset(self.get_queryset()))

        # Read every pool below them at once and index them by parent.
        platforms = {pool.platform_id for pool in roots}
        owners = {pool.owner_moid for pool in roots}
        below = (
            ResourcePool.objects.filter(platform_id__in=platforms, owner_moid__in=owners)
            .exclude(parent_moid=F("owner_moid"))
            .annotate(vm_count=Count("vms"))
            .order_by("name", "id")
        )
        children = {}
        for pool in below:
            children.setdefault((pool.platform_id, pool.parent_moid), []).append(pool)

        # Name the standalone hosts that own pools (a cluster comes with its root pool).
        standalone = {}
        if any(pool.cluster_id is None for pool in roots):
            for host in Host.objects.filter(
                platform_id__in=platforms, compute_resource_moid__in=owners, cluster__isnull=True
            ).only("id", "moid", "name", "platform_id", "compute_resource_moid"):
                standalone[(host.platform_id, host.compute_resource_moid)] = host

        context = {**self.get_serializer_context(), "children": children}
        context["standalone_hosts"] = standalone
        serializer = self.get_serializer_class()(roots, many=True, context=context)
        return self.get_paginated_response(serializer.data)
