"""Platform types and cloud platforms: CRUD (1500-1531) and the vCenter connection test."""

import logging
from collections.abc import Mapping

from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import status as http_status
from rest_framework.decorators import action

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeModelViewSet
from kstack_naguan.crypto import DecryptionError
from platforms import services
from platforms.filters import CloudPlatformFilterSet, PlatformTypeFilterSet
from platforms.models import CloudPlatform, PlatformType
from vcenter.client import VCenterAuthError, VCenterError, VCenterUnreachable

from .serializers import (
    CloudPlatformSerializer,
    ConnectionResultSerializer,
    PlatformTypeSerializer,
)

logger = logging.getLogger(__name__)


def _body(request, code, *, serializer, require_fields=False):
    """Return the request's JSON object, refusing a non-object, unknown keys or (on update) none."""
    data = request.data
    if not isinstance(data, Mapping):
        raise validation_error(code, {"non_field_errors": ["Expected a JSON object."]})
    unknown = sorted(str(key) for key in data if key not in serializer.fields)
    if unknown:
        raise validation_error(code, {key: ["Unknown field."] for key in unknown})
    if require_fields and not any(
        key in data and not serializer.fields[key].read_only for key in data
    ):
        raise validation_error(code, {"non_field_errors": ["No field to update was given."]})
    return data


def _validated(serializer, code):
    """Validate `serializer`; a taken name answers 1502/409, anything else `code`/400."""
    if serializer.is_valid():
        return serializer.validated_data
    errors = serializer.errors
    if any(getattr(error, "code", None) == "unique" for error in errors.get("name", [])):
        raise ApiError(
            codes.PLATFORM_NAME_EXISTS, http_status.HTTP_409_CONFLICT, {"errors": errors}
        )
    raise validation_error(code, errors)


_SUCCESS_CODES = {
    "list": codes.PLATFORM_QUERY_OK.number,
    "retrieve": codes.PLATFORM_QUERY_OK.number,
    "create": codes.PLATFORM_CREATED.number,
    "update": codes.PLATFORM_UPDATED.number,
    "partial_update": codes.PLATFORM_UPDATED.number,
    "destroy": codes.PLATFORM_DELETED.number,
}
_NOT_FOUND_CODES = {
    "retrieve": codes.PLATFORM_QUERY_FAILED.number,
    "update": codes.PLATFORM_UPDATE_NOT_FOUND.number,
    "partial_update": codes.PLATFORM_UPDATE_NOT_FOUND.number,
    "destroy": codes.PLATFORM_DELETE_NOT_FOUND.number,
}


class PlatformTypeViewSet(EnvelopeModelViewSet):
    """Platform types: CRUD; a type that platforms still use cannot be deleted (912/409)."""

    queryset = PlatformType.objects.annotate(platform_count=Count("platforms"))
    serializer_class = PlatformTypeSerializer
    filterset_class = PlatformTypeFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "id", "created_at"]
    ordering = ["name"]
    success_codes = _SUCCESS_CODES
    not_found_codes = _NOT_FOUND_CODES
    query_failed_code = codes.PLATFORM_QUERY_FAILED

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        _body(request, codes.PLATFORM_BAD_PARAMS, serializer=serializer)
        data = _validated(serializer, codes.PLATFORM_BAD_PARAMS)
        platform_type = services.create_platform_type(request.user, data)
        return ApiResponse(
            codes.PLATFORM_CREATED,
            self.get_serializer(self.get_queryset().get(pk=platform_type.pk)).data,
            status=http_status.HTTP_201_CREATED,
        )

    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        data = _body(
            request, codes.PLATFORM_UPDATE_BAD_PARAMS, serializer=serializer, require_fields=True
        )
        if "name" in data and not str(data["name"] or "").strip():
            raise validation_error(
                codes.PLATFORM_TYPE_EMPTY, {"name": ["The platform type's name is empty."]}
            )
        validated = _validated(serializer, codes.PLATFORM_UPDATE_BAD_PARAMS)
        services.update_platform_type(request.user, instance, validated)
        return ApiResponse(
            codes.PLATFORM_UPDATED,
            self.get_serializer(self.get_queryset().get(pk=instance.pk)).data,
        )

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        return ApiResponse(
            codes.PLATFORM_DELETED, services.delete_platform_type(request.user, instance)
        )


class CloudPlatformViewSet(EnvelopeModelViewSet):
    """vCenter endpoints: CRUD with a write-only password, and `test-connection`."""

    queryset = CloudPlatform.objects.select_related("platform_type")
    serializer_class = CloudPlatformSerializer
    filterset_class = CloudPlatformFilterSet
    search_fields = ["name", "host", "remarks"]
    ordering_fields = ["name", "id", "host", "created_at", "last_synced_at"]
    ordering = ["name"]
    success_codes = _SUCCESS_CODES
    not_found_codes = _NOT_FOUND_CODES
    query_failed_code = codes.PLATFORM_QUERY_FAILED
    action_permissions = {"test_connection": ["platforms.change_cloudplatform"]}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        _body(request, codes.PLATFORM_BAD_PARAMS, serializer=serializer)
        data = _validated(serializer, codes.PLATFORM_BAD_PARAMS)
        platform = services.create_platform(request.user, data)
        return ApiResponse(
            codes.PLATFORM_CREATED,
            self.get_serializer(platform).data,
            status=http_status.HTTP_201_CREATED,
        )

    def update(self, request, *args, partial=False, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        data = _body(
            request, codes.PLATFORM_UPDATE_BAD_PARAMS, serializer=serializer, require_fields=True
        )
        if "platform_type" in data and data["platform_type"] in (None, ""):
            raise validation_error(
                codes.PLATFORM_TYPE_EMPTY, {"platform_type": ["The platform type is empty."]}
            )
        validated = _validated(serializer, codes.PLATFORM_UPDATE_BAD_PARAMS)
        platform = services.update_platform(request.user, instance, validated)
        return ApiResponse(codes.PLATFORM_UPDATED, self.get_serializer(platform).data)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        return ApiResponse(codes.PLATFORM_DELETED, services.delete_platform(request.user, instance))

    @extend_schema(request=None, responses={200: ConnectionResultSerializer})
    @action(detail=True, methods=["post"], url_path="test-connection")
    def test_connection(self, request, pk=None):
        """Log into the platform's vCenter: 934 with its version, 920/502 or 935 with the reason."""
        platform = self.get_object()
        failure = {"platform": platform.pk, "host": platform.host, "username": platform.username}
        try:
            about = services.test_connection(request.user, platform)
        except VCenterUnreachable as exc:
            raise ApiError(
                codes.VCENTER_UNREACHABLE,
                http_status.HTTP_502_BAD_GATEWAY,
                {**failure, "reason": str(exc)},
            ) from None
        except VCenterAuthError as exc:
            raise ApiError(
                codes.CONNECTION_FAILED,
                http_status.HTTP_400_BAD_REQUEST,
                {**failure, "reason": str(exc), "fault": exc.fault},
            ) from None
        except VCenterError as exc:
            raise ApiError(
                codes.CONNECTION_FAILED,
                http_status.HTTP_502_BAD_GATEWAY,
                {**failure, "reason": str(exc), "fault": exc.fault},
            ) from None
        except DecryptionError as exc:
            raise ApiError(
                codes.CONNECTION_FAILED,
                http_status.HTTP_400_BAD_REQUEST,
                {**failure, "reason": f"{exc}; enter the password again"},
            ) from None
        return ApiResponse(codes.CONNECTION_OK, {"platform": platform.pk, **about})
