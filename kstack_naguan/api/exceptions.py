"""Errors that carry a response code, and the one handler that turns any error into the envelope.

Views and services raise `ApiError(code, status, data)`; DRF's own exceptions (authentication,
permission, parse, throttling, 404, 405, 415) map to the generic 900 block. Anything else is a
500 whose answer holds only a generic message and the request id; the traceback goes to the log.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status as http_status

from . import codes
from .middleware import current_request_id
from .responses import ApiResponse

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal with a response code, an HTTP status and optional envelope data."""

    def __init__(self, code, status=http_status.HTTP_400_BAD_REQUEST, data=None, detail=None):
        self.code = code if isinstance(code, codes.Code) else codes.get(code)
        self.status = status
        self.data = data
        if detail is not None:
            self.data = {**(self.data or {}), "detail": str(detail)}
        super().__init__(f"{self.code.number} {detail or ''}".strip())


def database_error(code):
    """The answer to a failed database operation: `code`, a 500 and the request id to quote."""
    return ApiError(
        code, http_status.HTTP_500_INTERNAL_SERVER_ERROR, {"request_id": current_request_id()}
    )


def validation_error(code, errors):
    """Build an `ApiError` naming the invalid fields as `{"errors": {field: [messages]}}`."""
    return ApiError(code, http_status.HTTP_400_BAD_REQUEST, {"errors": errors})


_DRF_CODES = [
    (drf_exceptions.NotAuthenticated, "NOT_AUTHENTICATED"),
    (drf_exceptions.AuthenticationFailed, "NOT_AUTHENTICATED"),
    (drf_exceptions.PermissionDenied, "PERMISSION_DENIED"),
    (drf_exceptions.NotFound, "NOT_FOUND"),
    (drf_exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf_exceptions.ParseError, "MALFORMED_REQUEST"),
    (drf_exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf_exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf_exceptions.Throttled, "THROTTLED"),
    (drf_exceptions.ValidationError, "INVALID_INPUT"),
]


def _drf_code(exc):
    for exc_class, name in _DRF_CODES:
        if isinstance(exc, exc_class):
            return getattr(codes, name)
    return codes.INVALID_INPUT


def _detail_text(detail):
    """A readable message from a DRF detail, which may be nested (simplejwt sends a dict)."""
    if isinstance(detail, dict):
        detail = detail.get("detail") or next(iter(detail.values()), "")
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


def envelope_exception_handler(exc, context):
    """Turn `exc` into an enveloped `ApiResponse`; every API error passes through here."""
    if isinstance(exc, ApiError):
        return ApiResponse(exc.code, exc.data, status=exc.status)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Django raises these while DRF parses the body: the body is over the size cap.
        return ApiResponse(
            codes.REQUEST_TOO_LARGE, None, status=http_status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, drf_exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            status = http_status.HTTP_401_UNAUTHORIZED
        else:
            status = exc.status_code
        if isinstance(exc, drf_exceptions.ValidationError):
            data = {
                "errors": exc.detail
                if isinstance(exc.detail, dict)
                else {"non_field_errors": exc.detail}
            }
        else:
            data = {"detail": _detail_text(exc.detail)}
        return ApiResponse(_drf_code(exc), data, status=status, headers=headers)

    request_id = current_request_id()
    logger.exception(
        "unhandled error in %s (request %s)", type(context.get("view")).__name__, request_id
    )
    return ApiResponse(
        codes.INTERNAL_ERROR,
        {"request_id": request_id},
        status=http_status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
