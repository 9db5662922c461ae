"""A VM's disks, network adapters and snapshots (`vms/{id}/disks/`, `networks/`, `snapshots/`).

Every route reads vCenter live through `vcenter.devices`, which also holds the rules; views here
parse, authorise, call the service and wrap its answer in the route's seed code. Listing needs
`vcenter.view_virtualmachine`; changes need the custom permission of the device kind. An unknown
VM id answers 404 with the route's code: 2113 on disks, the method's code elsewhere.
"""

from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http_status
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from kstack_naguan.api.pagination import EnvelopePagination
from kstack_naguan.api.responses import ApiResponse, accepted
from vcenter import devices

from .device_serializers import (
    DiskAddSerializer,
    DiskGrowSerializer,
    DiskRefSerializer,
    DisksAddedSerializer,
    DiskSerializer,
    NicAddSerializer,
    NicRefSerializer,
    NicSerializer,
    SnapshotActionSerializer,
    SnapshotCreateSerializer,
    SnapshotDeleteSerializer,
    SnapshotNodeSerializer,
    SnapshotRevertSerializer,
    SnapshotTreeSerializer,
)
from .serializers import TaskAcceptedSerializer

VIEW = "vcenter.view_virtualmachine"
DISK = "vcenter.disk_virtualmachine"
NETWORK = "vcenter.network_virtualmachine"
SNAPSHOT = "vcenter.snapshot_virtualmachine"


def _body(request, error_code):
    """The request body as a dict, or the route's bad-input code."""
    data = request.data
    if not isinstance(data, dict):
        raise validation_error(error_code, {"non_field_errors": ["expected a JSON object"]})
    return data


def _valid(serializer_class, data, error_code):
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise validation_error(error_code, serializer.errors)
    return serializer.validated_data


def _paginated(request, view, items, ok_code, bad_code):
    """A page of `items` (a list) in the envelope's list shape."""
    paginator = EnvelopePagination()
    try:
        page = paginator.paginate_queryset(items, request, view=view)
    except NotFound as exc:
        raise validation_error(bad_code, {"page": [str(exc.detail)]}) from None
    return ApiResponse(ok_code, paginator.get_paginated_response(page).data)


def _device_ident(raw, max_length=255):
    """A path segment as a device key (digits) or a label/MAC (anything else), or None."""
    if raw.isascii() and raw.isdigit():
        return int(raw) if len(raw) <= 10 else None
    return raw if len(raw) <= max_length else None


_PAGE_PARAMS = [OpenApiParameter("page", int), OpenApiParameter("page_size", int)]


# Disks


class VirtualDiskListView(APIView):
    """List (2130), add (2100) and delete by key or label in the body (2110) a VM's disks."""

    action_permissions = {"get": [VIEW], "post": [DISK], "delete": [DISK]}

    @extend_schema(parameters=_PAGE_PARAMS, responses={200: DiskSerializer(many=True)})
    def get(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_QUERY_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        disks = DiskSerializer(devices.list_disks(vm), many=True).data
        return _paginated(request, self, disks, codes.DISK_QUERY_OK, codes.DISK_QUERY_BAD_PARAMS)

    @extend_schema(request=DiskAddSerializer, responses={201: DisksAddedSerializer})
    def post(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        data = _body(request, codes.DISK_BAD_PARAMS)
        disks = data.get("disks")
        if disks in (None, "", []):
            raise validation_error(codes.DISK_MISSING_DISKS, {"disks": ["this field is required"]})
        if isinstance(disks, list) and len(disks) > devices.MAX_NEW_DISKS:
            # More disks than any VM can hold is a question of slots, not of a malformed list.
            raise ApiError(
                codes.DISK_NO_SLOT,
                http_status.HTTP_409_CONFLICT,
                detail=f"at most {devices.MAX_NEW_DISKS} disks fit on a VM",
            )
        valid = _valid(DiskAddSerializer, data, codes.DISK_BAD_PARAMS)
        result = devices.add_disks(
            vm, valid["disks"], datastore=valid.get("datastore"), user=request.user
        )
        return ApiResponse(
            codes.DISK_ADDED, DisksAddedSerializer(result).data, status=http_status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="vcenter_vms_disks_destroy_by_body",
        request=DiskRefSerializer,
        responses={200: DiskSerializer},
    )
    def delete(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_DELETE_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        ref = _valid(
            DiskRefSerializer,
            _body(request, codes.DISK_DELETE_BAD_PARAMS),
            codes.DISK_DELETE_BAD_PARAMS,
        )
        disk = devices.remove_disk(vm, ref.get("key", ref.get("label")), user=request.user)
        return ApiResponse(codes.DISK_DELETED, DiskSerializer(disk).data)


class VirtualDiskView(APIView):
    """One disk by device key or label: read (2130), grow (930), delete with its file (2110)."""

    action_permissions = {"get": [VIEW], "patch": [DISK], "delete": [DISK]}

    def _disk(self, disk, error_code):
        ident = _device_ident(disk)
        if ident is None:
            raise validation_error(error_code, {"disk": ["a device key or a label"]})
        return ident

    @extend_schema(responses={200: DiskSerializer})
    def get(self, request, vm_id, disk):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_QUERY_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        found = devices.find_disk(
            devices.list_disks(vm), self._disk(disk, codes.DISK_QUERY_BAD_PARAMS)
        )
        if found is None:
            raise ApiError(codes.DISK_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
        return ApiResponse(codes.DISK_QUERY_OK, DiskSerializer(found).data)

    @extend_schema(request=DiskGrowSerializer, responses={200: DiskSerializer})
    def patch(self, request, vm_id, disk):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        ident = self._disk(disk, codes.DISK_BAD_PARAMS)
        valid = _valid(
            DiskGrowSerializer, _body(request, codes.DISK_BAD_PARAMS), codes.DISK_BAD_PARAMS
        )
        grown = devices.grow_disk(vm, ident, valid["size"], user=request.user)
        return ApiResponse(codes.OK, DiskSerializer(grown).data)

    @extend_schema(responses={200: DiskSerializer})
    def delete(self, request, vm_id, disk):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.DISK_DELETE_BAD_PARAMS, missing_code=codes.DISK_VM_NOT_FOUND
        )
        removed = devices.remove_disk(
            vm, self._disk(disk, codes.DISK_DELETE_BAD_PARAMS), user=request.user
        )
        return ApiResponse(codes.DISK_DELETED, DiskSerializer(removed).data)


# Network adapters


class NetworkAdapterListView(APIView):
    """List (2230), add (2200) and delete by key or MAC in the body (2210) network adapters."""

    action_permissions = {"get": [VIEW], "post": [NETWORK], "delete": [NETWORK]}

    @extend_schema(parameters=_PAGE_PARAMS, responses={200: NicSerializer(many=True)})
    def get(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.NIC_QUERY_BAD_PARAMS, missing_code=codes.NIC_QUERY_BAD_PARAMS
        )
        nics = NicSerializer(devices.list_nics(vm), many=True).data
        return _paginated(request, self, nics, codes.NIC_QUERY_OK, codes.NIC_QUERY_BAD_PARAMS)

    @extend_schema(request=NicAddSerializer, responses={201: NicSerializer})
    def post(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.NIC_BAD_PARAMS, missing_code=codes.NIC_BAD_PARAMS
        )
        valid = _valid(NicAddSerializer, _body(request, codes.NIC_BAD_PARAMS), codes.NIC_BAD_PARAMS)
        nic = devices.add_nic(
            vm,
            valid["network"],
            adapter_type=valid["adapter_type"],
            connected=valid["connected"],
            user=request.user,
        )
        return ApiResponse(
            codes.NIC_ADDED, NicSerializer(nic).data, status=http_status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="vcenter_vms_networks_destroy_by_body",
        request=NicRefSerializer,
        responses={200: NicSerializer},
    )
    def delete(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.NIC_NOT_FOUND, missing_code=codes.NIC_NOT_FOUND
        )
        ref = _valid(NicRefSerializer, _body(request, codes.NIC_NOT_FOUND), codes.NIC_NOT_FOUND)
        nic = devices.remove_nic(vm, ref.get("key", ref.get("mac_address")), user=request.user)
        return ApiResponse(codes.NIC_DELETED, NicSerializer(nic).data)


class NetworkAdapterView(APIView):
    """One network adapter by device key or MAC address: read (2230) or delete (2210)."""

    action_permissions = {"get": [VIEW], "delete": [NETWORK]}

    @extend_schema(responses={200: NicSerializer})
    def get(self, request, vm_id, nic):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.NIC_QUERY_BAD_PARAMS, missing_code=codes.NIC_NOT_FOUND
        )
        ident = _device_ident(nic, max_length=32)
        found = devices.find_nic(devices.list_nics(vm), ident) if ident is not None else None
        if found is None:
            raise ApiError(codes.NIC_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
        return ApiResponse(codes.NIC_QUERY_OK, NicSerializer(found).data)

    @extend_schema(responses={200: NicSerializer})
    def delete(self, request, vm_id, nic):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.NIC_NOT_FOUND, missing_code=codes.NIC_NOT_FOUND
        )
        ident = _device_ident(nic, max_length=32)
        if ident is None:
            raise ApiError(codes.NIC_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
        removed = devices.remove_nic(vm, ident, user=request.user)
        return ApiResponse(codes.NIC_DELETED, NicSerializer(removed).data)


# Snapshots


class SnapshotListView(APIView):
    """The snapshot tree (2330); `action` create (2300) or revert (202, TaskLog 2302); delete."""

    action_permissions = {"get": [VIEW], "post": [SNAPSHOT], "delete": [SNAPSHOT]}

    @extend_schema(
        operation_id="vcenter_vms_snapshots_tree", responses={200: SnapshotTreeSerializer}
    )
    def get(self, request, vm_id):
        vm = devices.get_vm(
            vm_id,
            invalid_code=codes.SNAPSHOT_QUERY_FAILED,
            missing_code=codes.SNAPSHOT_QUERY_FAILED,
        )
        tree = devices.list_snapshots(vm)
        return ApiResponse(codes.SNAPSHOT_QUERY_OK, SnapshotTreeSerializer(tree).data)

    @extend_schema(
        request=SnapshotActionSerializer,
        responses={201: SnapshotNodeSerializer, 202: TaskAcceptedSerializer},
    )
    def post(self, request, vm_id):
        vm = devices.get_vm(
            vm_id, invalid_code=codes.SNAPSHOT_NOT_FOUND, missing_code=codes.SNAPSHOT_NOT_FOUND
        )
        data = _body(request, codes.SNAPSHOT_BAD_ACTION)
        action = data.get("action")
        if action == "create":
            return self._create(request, vm, data)
        if action == "revert":
            if data.get("snapshot_id") in (None, ""):
                raise validation_error(
                    codes.SNAPSHOT_MISSING_ID, {"snapshot_id": ["this field is required"]}
                )
            valid = _valid(SnapshotRevertSerializer, data, codes.SNAPSHOT_MISSING_ID)
            task_log = devices.start_revert(vm, valid["snapshot_id"], user=request.user)
            return accepted(task_log)
        raise validation_error(codes.SNAPSHOT_BAD_ACTION, {"action": ["create or revert"]})

    def _create(self, request, vm, data):
        if "snapshot_name" not in data and "name" in data:
            data = {**data, "snapshot_name": data["name"]}
        name = data.get("snapshot_name")
        if name is None or (isinstance(name, str) and not name.strip()):
            raise validation_error(
                codes.SNAPSHOT_MISSING_NAME, {"snapshot_name": ["this field is required"]}
            )
        valid = _valid(SnapshotCreateSerializer, data, codes.INVALID_INPUT)
        node = devices.create_snapshot(
            vm,
            valid["snapshot_name"].strip(),
            description=valid["description"],
            memory=valid["memory"],
            quiesce=valid["quiesce"],
            user=request.user,
        )
        return ApiResponse(
            codes.SNAPSHOT_CREATED,
            SnapshotNodeSerializer(node).data,
            status=http_status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="vcenter_vms_snapshots_destroy_by_body",
        request=SnapshotDeleteSerializer,
        responses={200: None},
    )
    def delete(self, request, vm_id):
        vm = devices.get_vm(
            vm_id,
            invalid_code=codes.SNAPSHOT_DELETE_FAILED,
            missing_code=codes.SNAPSHOT_NOT_FOUND,
        )
        data = _body(request, codes.SNAPSHOT_DELETE_FAILED)
        valid = _valid(SnapshotDeleteSerializer, data, codes.SNAPSHOT_DELETE_FAILED)
        result = devices.remove_snapshot(
            vm, valid["snapshot_id"], valid["remove_children"], user=request.user
        )
        return ApiResponse(codes.SNAPSHOT_DELETED, result)


class SnapshotView(APIView):
    """One snapshot by vCenter's snapshot id: read (2330) or delete (2310), `?remove_children`."""

    action_permissions = {"get": [VIEW], "delete": [SNAPSHOT]}

    @extend_schema(responses={200: SnapshotNodeSerializer})
    def get(self, request, vm_id, snapshot_id):
        vm = devices.get_vm(
            vm_id,
            invalid_code=codes.SNAPSHOT_QUERY_FAILED,
            missing_code=codes.SNAPSHOT_QUERY_FAILED,
        )
        valid = _valid(
            SnapshotRevertSerializer, {"snapshot_id": snapshot_id}, codes.SNAPSHOT_QUERY_FAILED
        )
        node = devices.get_snapshot(vm, valid["snapshot_id"])
        return ApiResponse(codes.SNAPSHOT_QUERY_OK, SnapshotNodeSerializer(node).data)

    @extend_schema(
        parameters=[OpenApiParameter("remove_children", bool)],
        request=None,
        responses={200: None},
    )
    def delete(self, request, vm_id, snapshot_id):
        vm = devices.get_vm(
            vm_id,
            invalid_code=codes.SNAPSHOT_DELETE_FAILED,
            missing_code=codes.SNAPSHOT_NOT_FOUND,
        )
        data = {"snapshot_id": snapshot_id}
        body = request.data if isinstance(request.data, dict) else {}
        flag = request.query_params.get("remove_children", body.get("remove_children"))
        if flag is not None:
            data["remove_children"] = flag
        valid = _valid(SnapshotDeleteSerializer, data, codes.SNAPSHOT_DELETE_FAILED)
        result = devices.remove_snapshot(
            vm, valid["snapshot_id"], valid["remove_children"], user=request.user
        )
        return ApiResponse(codes.SNAPSHOT_DELETED, result)


_VM = r"^vms/(?P<vm_id>[^/]+)"

routes = [
    re_path(rf"{_VM}/disks/?$", VirtualDiskListView.as_view(), name="vm-disk-list"),
    re_path(rf"{_VM}/disks/(?P<disk>[^/]+)/?$", VirtualDiskView.as_view(), name="vm-disk-detail"),
    re_path(rf"{_VM}/networks/?$", NetworkAdapterListView.as_view(), name="vm-network-list"),
    re_path(
        rf"{_VM}/networks/(?P<nic>[^/]+)/?$",
        NetworkAdapterView.as_view(),
        name="vm-network-detail",
    ),
    re_path(rf"{_VM}/snapshots/?$", SnapshotListView.as_view(), name="vm-snapshot-list"),
    re_path(
        rf"{_VM}/snapshots/(?P<snapshot_id>[^/]+)/?$",
        SnapshotView.as_view(),
        name="vm-snapshot-detail",
    ),
]
