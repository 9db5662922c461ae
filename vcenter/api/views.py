"""The VM lifecycle routes: `vms/` list, get (optionally live), create, resize, delete, and the
`power`, `clone`, `migrate` and `ip` actions. Views parse and authorise; `vcenter.operations`
validates against the mirror and vCenter and does the work."""

from django.db.models import Prefetch
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http_status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.responses import ApiResponse, accepted
from kstack_naguan.api.viewsets import EnvelopeModelViewSet
from vcenter import operations
from vcenter.filters import VirtualMachineFilterSet, VirtualMachineSearchFilter
from vcenter.models import Datastore, Network, VirtualMachine

from .serializers import (
    CloneSerializer,
    DeleteSerializer,
    IpAssignSerializer,
    MigrateSerializer,
    PowerSerializer,
    ResizeSerializer,
    TaskAcceptedSerializer,
    VirtualMachineCreateSerializer,
    VirtualMachineSerializer,
    vm_rows,
    vm_values,
)

# Fields whose problem has a seed code of its own, per operation, in the order they are tried.
_CREATE_FIELD_CODES = {
    "disks": codes.VM_CREATE_BAD_DISKS,
    "datacenter": codes.VM_CREATE_NO_DATACENTER,
    "platform": codes.VM_CREATE_NO_DATACENTER,
    "cluster": codes.VM_CREATE_NO_DATACENTER,
    "host": codes.VM_CREATE_NO_DATACENTER,
    "resource_pool": codes.VM_CREATE_NO_DATACENTER,
    "folder": codes.VM_CREATE_NO_DATACENTER,
    "datastore": codes.VM_CREATE_DISK_FAILED,
    "networks": codes.VM_CREATE_NETWORK_FAILED,
    "iso": codes.VM_CREATE_ISO_FAILED,
}
_RESIZE_FIELD_CODES = {
    "cpu": codes.VM_CPU_UPDATE_FAILED,
    "memory_mb": codes.VM_MEMORY_UPDATE_FAILED,
}
_CLONE_FIELD_CODES = {
    "datacenter": codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER,
    "host": codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER,
    "resource_pool": codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER,
    "folder": codes.VM_CLONE_NO_DATASTORE_OR_DATACENTER,
    "datastore": codes.VM_CLONE_NO_DATASTORE,
}
_MIGRATE_FIELD_CODES = {
    "host": codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER,
    "resource_pool": codes.VM_MIGRATE_NO_DATASTORE_OR_DATACENTER,
    "datastore": codes.VM_MIGRATE_NO_DATASTORE,
}


def _error_code(detail):
    """The seed code a field's first error carries in its `code`, if it names one."""
    while isinstance(detail, list | dict) and detail:
        detail = detail[0] if isinstance(detail, list) else next(iter(detail.values()))
    code = getattr(detail, "code", "")
    return codes.get(int(code)) if str(code).isdigit() and int(code) in codes.REGISTRY else None


def _parse(serializer_class, data, field_codes=None, default=codes.INVALID_INPUT):
    """Validate `data`; a failure answers 400 with the first field's seed code, or `default`."""
    if not isinstance(data, dict):
        raise ApiError(default, data={"errors": {"non_field_errors": ["Expected a JSON object."]}})
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    errors = serializer.errors
    code = default
    for field_name, field_code in (field_codes or {}).items():
        if field_name in errors:
            code = _error_code(errors[field_name]) or field_code
            break
    raise ApiError(code, http_status.HTTP_400_BAD_REQUEST, {"errors": errors})


def _flag(value):
    """A query-string boolean: None when absent, ValueError when not a boolean word."""
    if value is None:
        return None
    words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if str(value).lower() not in words:
        raise ValueError(value)
    return words[str(value).lower()]


class VirtualMachineViewSet(EnvelopeModelViewSet):
    """The VMs of the inventory mirror and their lifecycle in vCenter.

    List and get answer 2030 (2031 for an unknown id or a failed live read). Create, clone,
    migrate and ip answer 202 with a TaskLog whose code tells the outcome (2000, 2050, 2060,
    2070 on success); power, resize and delete run in the request (2040-2046, 2020, 2010).
    """

    serializer_class = VirtualMachineSerializer
    filterset_class = VirtualMachineFilterSet
    filter_backends = [DjangoFilterBackend, VirtualMachineSearchFilter, OrderingFilter]
    search_fields = ["name", "ip_address", "instance_uuid", "guest_full_name"]
    ordering_fields = ["name", "power_state", "num_cpu", "memory_mb", "synced_at", "id"]
    ordering = ["name", "id"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    query_failed_code = codes.VM_QUERY_FAILED
    success_codes = {"list": codes.VM_QUERY_OK.number, "retrieve": codes.VM_QUERY_OK.number}
    action_permissions = {
        "power": ["vcenter.power_virtualmachine"],
        "clone": ["vcenter.clone_virtualmachine"],
        "migrate": ["vcenter.migrate_virtualmachine"],
        "ip": ["vcenter.customize_virtualmachine"],
    }
    queryset = VirtualMachine.objects.select_related(
        "platform", "datacenter", "cluster", "host", "resource_pool", "folder"
    ).prefetch_related(
        Prefetch("datastores", queryset=Datastore.objects.only("id", "name")),
        Prefetch("networks", queryset=Network.objects.only("id", "name")),
    )

    def list(self, request, *args, **kwargs):
        """A page of VMs from the mirror, filtered, searched and ordered (2030; 2031)."""
        rows = self.paginate_queryset(vm_values(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(vm_rows(rows))

    def _vm(self, not_found_code):
        """The VM named in the URL, or 404 with the operation's code."""
        try:
            return self.get_object()
        except (Http404, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status != http_status.HTTP_404_NOT_FOUND:
                raise
            raise ApiError(
                not_found_code, http_status.HTTP_404_NOT_FOUND, detail="No such VM."
            ) from None

    def _answer(self, outcome):
        data = dict(outcome.data)
        if outcome.vm is not None:
            vm = self.get_queryset().filter(pk=outcome.vm.pk).first() or outcome.vm
            data["vm"] = VirtualMachineSerializer(vm).data
        return ApiResponse(outcome.code, data)

    @extend_schema(
        parameters=[OpenApiParameter("refresh", bool, description="read the VM live first")]
    )
    def retrieve(self, request, *args, **kwargs):
        """One VM from the mirror; with `?refresh=true` read live from vCenter first."""
        try:
            refresh = _flag(request.query_params.get("refresh"))
        except ValueError:
            raise ApiError(
                codes.VM_QUERY_FAILED, data={"errors": {"refresh": ["Use true or false."]}}
            ) from None
        vm = self._vm(codes.VM_QUERY_FAILED)
        if refresh:
            operations.refresh(vm)
            vm = self._vm(codes.VM_QUERY_FAILED)
        return ApiResponse(codes.VM_QUERY_OK, self.get_serializer(vm).data)

    @extend_schema(request=VirtualMachineCreateSerializer, responses={202: TaskAcceptedSerializer})
    def create(self, request, *args, **kwargs):
        """Validate and queue a new VM (202 + TaskLog that ends 2000, or 2005-2008)."""
        data = _parse(VirtualMachineCreateSerializer, request.data, _CREATE_FIELD_CODES)
        return accepted(operations.plan_create(request.user, data))

    @extend_schema(request=ResizeSerializer, responses={200: VirtualMachineSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Change CPU and/or memory (2020; 2021 CPU, 2022 memory when refused)."""
        body = request.data if isinstance(request.data, dict) else {}
        not_found = (
            codes.VM_MEMORY_UPDATE_FAILED
            if "memory_mb" in body and "cpu" not in body
            else codes.VM_CPU_UPDATE_FAILED
        )
        vm = self._vm(not_found)
        data = _parse(ResizeSerializer, request.data, _RESIZE_FIELD_CODES)
        return self._answer(
            operations.resize(request.user, vm, data.get("cpu"), data.get("memory_mb"))
        )

    @extend_schema(parameters=[OpenApiParameter("force", bool)])
    def destroy(self, request, *args, **kwargs):
        """Delete the VM in vCenter (2010; 2011 refused, e.g. powered on without force=true)."""
        vm = self._vm(codes.VM_DELETE_FAILED)
        body = request.data if isinstance(request.data, dict) else {}
        raw = {**body, **request.query_params.dict()}
        data = _parse(DeleteSerializer, raw, default=codes.VM_DELETE_FAILED)
        return self._answer(operations.delete(request.user, vm, force=data["force"]))

    @extend_schema(request=PowerSerializer, responses={200: VirtualMachineSerializer})
    @action(detail=True, methods=["post"])
    def power(self, request, *args, **kwargs):
        """on, off, suspend or reboot (2040-2046; 2009 for another action)."""
        data = _parse(
            PowerSerializer, request.data, {"action": codes.VM_BAD_ACTION}, codes.VM_BAD_ACTION
        )
        action_name = data["action"].strip().lower()
        if action_name not in operations.POWER_ACTIONS:
            raise ApiError(
                codes.VM_BAD_ACTION,
                data={
                    "errors": {"action": [f"Choose one of: {', '.join(operations.POWER_ACTIONS)}."]}
                },
            )
        vm = self._vm(operations.POWER_ACTIONS[action_name][1])
        return self._answer(operations.power(request.user, vm, action_name))

    @extend_schema(request=CloneSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request, *args, **kwargs):
        """Clone the VM or template (202 + TaskLog that ends 2050, or 2051-2054)."""
        vm = self._vm(codes.VM_CLONE_NO_SOURCE)
        data = _parse(CloneSerializer, request.data, _CLONE_FIELD_CODES)
        return accepted(operations.plan_clone(request.user, vm, data))

    @extend_schema(request=MigrateSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def migrate(self, request, *args, **kwargs):
        """Cold-migrate the VM (202 + TaskLog that ends 2060, or 2061-2063)."""
        vm = self._vm(codes.VM_MIGRATE_FAILED)
        data = _parse(MigrateSerializer, request.data, _MIGRATE_FIELD_CODES)
        return accepted(operations.plan_migrate(request.user, vm, data))

    @extend_schema(request=IpAssignSerializer, responses={202: TaskAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def ip(self, request, *args, **kwargs):
        """Assign an IP through guest customization (202 + TaskLog that ends 2070-2073)."""
        vm = self._vm(codes.VM_IP_FAILED)
        data = _parse(IpAssignSerializer, request.data, default=codes.VM_IP_FAILED)
        return accepted(operations.plan_ip(request.user, vm, data))
