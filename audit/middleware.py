"""The request log: one row per API request, written after the response, never breaking it."""

import json
import logging
import re
import time

from django.db import DatabaseError, transaction

from .models import RequestLog

logger = logging.getLogger(__name__)

SECRET_KEY_PATTERN = re.compile(r"pass|pwd|token|secret|key|refresh|access|auth|session", re.I)
REDACTED = "********"
MAX_BODY_CHARS = 4096


def redact(value):
    """Return `value` (parsed JSON) with every field whose name looks secret replaced."""
    if isinstance(value, dict):
        return {
            k: REDACTED if SECRET_KEY_PATTERN.search(str(k)) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _body_for_log(request):
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return ""
    content_type = request.content_type or ""
    if not content_type.startswith("application/json"):
        return f"<{content_type or 'no content type'} body not recorded>"
    try:
        raw = request.body
    except Exception:  # the body may be over the size cap or already consumed
        return "<body not readable>"
    if not raw:
        return ""
    try:
        text = json.dumps(redact(json.loads(raw)), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return "<malformed JSON not recorded>"
    return text[:MAX_BODY_CHARS]


def _client_ip(request):
    # TODO(#10): honour X-Forwarded-For only behind a configured, trusted proxy.
    return request.META.get("REMOTE_ADDR") or None


class RequestLogMiddleware:
    """Record every request under /api/ (except the schema and docs) in `RequestLog`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        """Serve the request, then write its log row."""
        if not request.path.startswith("/api/") or request.path.startswith(
            ("/api/schema", "/api/docs")
        ):
            return self.get_response(request)
        body = _body_for_log(request)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = int((time.perf_counter() - started) * 1000)
        self._write(request, response, body, duration_ms)
        return response

    def _write(self, request, response, body, duration_ms):
        user = getattr(request, "user", None)
        # DRF authenticates inside the view; its user is on the wrapped request it returns.
        drf_request = getattr(response, "renderer_context", {}).get("request")
        if drf_request is not None:
            user = getattr(drf_request, "user", user)
        authenticated = bool(user and user.is_authenticated)
        api_code = getattr(response, "api_code", None)
        try:
            with transaction.atomic():
                RequestLog.objects.create(
                    user=user if authenticated else None,
                    username=user.get_username() if authenticated else "",
                    method=request.method[:10],
                    path=request.path[:512],
                    query=request.META.get("QUERY_STRING", "")[:2048],
                    status=response.status_code,
                    code=api_code.number if api_code is not None else None,
                    duration_ms=duration_ms,
                    client_ip=_client_ip(request),
                    user_agent=request.headers.get("User-Agent", "")[:256],
                    request_id=getattr(request, "request_id", "")[:64],
                    body=body,
                )
        except DatabaseError:
            logger.warning(
                "request log not written for %s %s", request.method, request.path, exc_info=True
            )
