"""Request ids: one per request, in the response header, the logs, audit rows and Celery tasks."""

import contextvars
import logging
import re
import uuid

_request_id = contextvars.ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id():
    """The id of the request (or task) being served, or "-" outside one."""
    return _request_id.get()


def bind_request_id(value):
    """Make `value` the current request id (Celery tasks use it to continue a request's id)."""
    return _request_id.set(value or "-")


def reset_request_id(token):
    """Undo a `bind_request_id`."""
    _request_id.reset(token)


class RequestIdMiddleware:
    """Give each request an id (a client's well-formed `X-Request-ID` is kept) and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Add `request_id` to every log record so the formatter can print it."""

    def filter(self, record):
        record.request_id = _request_id.get()
        return True
