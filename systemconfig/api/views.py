"""The system configuration (1600-1631) and its logo (1620-1622)."""

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema
from rest_framework import status as http_status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.views import APIView

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from kstack_naguan.api.responses import ApiResponse
from systemconfig import services
from systemconfig.models import SystemConfig

from .serializers import LogoUploadSerializer, SystemConfigSerializer


def _validated(request, instance=None, partial=False):
    """Validate the body: 1601 when `debug` is not a boolean, 908 for anything else wrong."""
    data = request.data
    if not isinstance(data, Mapping):
        raise validation_error(
            codes.INVALID_INPUT, {"non_field_errors": ["Expected a JSON object."]}
        )
    serializer = SystemConfigSerializer(
        instance, data=data, partial=partial, context={"request": request}
    )
    unknown = sorted(str(key) for key in data if key not in serializer.fields)
    if unknown:
        raise validation_error(codes.INVALID_INPUT, {key: ["Unknown field."] for key in unknown})
    writable = [key for key in data if not serializer.fields[key].read_only]
    if instance is not None and not writable:
        raise validation_error(
            codes.INVALID_INPUT, {"non_field_errors": ["No field to update was given."]}
        )
    if not serializer.is_valid():
        code = codes.CONFIG_BAD_DEBUG if "debug" in serializer.errors else codes.INVALID_INPUT
        raise validation_error(code, serializer.errors)
    return serializer.validated_data


class SystemConfigView(APIView):
    """`GET` (1630, 1631), `POST` (1600, 1601, 1602) and `PUT`/`PATCH` (1610-1612)."""

    queryset = SystemConfig.objects.all()

    def _answer(self, request, code, config, status=http_status.HTTP_200_OK):
        data = SystemConfigSerializer(config, context={"request": request}).data
        return ApiResponse(code, data, status=status)

    @extend_schema(responses={200: SystemConfigSerializer})
    def get(self, request):
        return self._answer(request, codes.CONFIG_QUERY_OK, services.get_config())

    @extend_schema(request=SystemConfigSerializer, responses={201: SystemConfigSerializer})
    def post(self, request):
        config = services.create_config(request.user, _validated(request))
        return self._answer(request, codes.CONFIG_CREATED, config, http_status.HTTP_201_CREATED)

    @extend_schema(request=SystemConfigSerializer, responses={200: SystemConfigSerializer})
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=SystemConfigSerializer, responses={200: SystemConfigSerializer})
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, partial):
        config = SystemConfig.current()
        if config is None:
            raise ApiError(codes.CONFIG_UPDATE_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
        data = _validated(request, config, partial=partial)
        config = services.update_config(request.user, config, data)
        return self._answer(request, codes.CONFIG_UPDATED, config)


class SystemConfigLogoView(APIView):
    """`POST` a multipart `logo` image (1620; 1621 without a configuration; 1622); `DELETE` it."""

    queryset = SystemConfig.objects.all()
    parser_classes = [MultiPartParser, FormParser]
    action_permissions = {
        "post": ["systemconfig.change_systemconfig"],
        "put": ["systemconfig.change_systemconfig"],
        "delete": ["systemconfig.change_systemconfig"],
    }

    def _config(self):
        config = SystemConfig.current()
        if config is None:
            raise ApiError(codes.LOGO_CONFIG_NOT_FOUND, http_status.HTTP_404_NOT_FOUND)
        return config

    @extend_schema(
        request={"multipart/form-data": LogoUploadSerializer},
        responses={200: SystemConfigSerializer},
    )
    def post(self, request):
        # Refuse an oversized upload by its declared length, before parsing the body.
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > services.max_logo_request_bytes():
            raise ApiError(codes.REQUEST_TOO_LARGE, http_status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        config = self._config()
        upload = request.FILES.get("logo")
        config = services.set_logo(request.user, config, upload)
        data = SystemConfigSerializer(config, context={"request": request}).data
        return ApiResponse(codes.LOGO_UPDATED, data)

    put = post

    @extend_schema(request=None, responses={200: SystemConfigSerializer})
    def delete(self, request):
        config = services.remove_logo(request.user, self._config())
        data = SystemConfigSerializer(config, context={"request": request}).data
        return ApiResponse(codes.LOGO_UPDATED, data)
