"""Django-level error pages: the envelope under /api/, Django's own pages elsewhere."""

import logging

from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from .api import codes
from .api.middleware import current_request_id
from .api.renderers import envelope

logger = logging.getLogger(__name__)


def _is_api(request):
    return request.path.startswith("/api/")


@csrf_exempt  # the catch-all under /api/ answers 404 to any method, cookie or not
def not_found(request, exception=None):
    """404 for a route that does not exist."""
    if _is_api(request):
        return JsonResponse(
            envelope(codes.NOT_FOUND), status=404, json_dumps_params={"ensure_ascii": False}
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500 raised outside DRF's handler: a generic message and the request id, no traceback."""
    if _is_api(request):
        body = envelope(codes.INTERNAL_ERROR, {"request_id": current_request_id()})
        return JsonResponse(body, status=500, json_dumps_params={"ensure_ascii": False})
    return defaults.server_error(request)


def bad_request(request, exception=None):
    """400 raised by Django itself: a body over the size cap (413), or a suspicious request."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
            body, status = envelope(codes.REQUEST_TOO_LARGE), 413
        elif isinstance(exception, DisallowedHost):
            detail = "This host name is not served here (DJANGO_ALLOWED_HOSTS)."
            body, status = envelope(codes.MALFORMED_REQUEST, {"detail": detail}), 400
        else:
            body, status = envelope(codes.MALFORMED_REQUEST), 400
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    return defaults.bad_request(request, exception)
