"""The request log: one row per API request, written after the response, never breaking it.

Each request under /api/ (but the schema and the docs) becomes one `RequestLog` row: time, user,
method, path, query string, status, response code, duration, client address, user agent, request
id and body. Secrets are redacted before anything is stored: every field of a JSON or form body
and every query parameter whose name looks secret (password, token, secret, key...). Writing the
row costs one INSERT (on PostgreSQL committed asynchronously, so no request waits for a disk
flush); if it fails, the failure is logged and the response goes out unchanged.
"""

import ipaddress
import json
import logging
import re
import time
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from rest_framework.throttling import BaseThrottle

from .models import RequestLog

logger = logging.getLogger(__name__)

SECRET_KEY_PATTERN = re.compile(
    r"pass|pw|token|secret|key|refresh|access|auth|session|cookie|credential|private|signature",
    re.I,
)
REDACTED = "********"
MAX_BODY_CHARS = 4096
MAX_QUERY_CHARS = 2048
_UNLOGGED_PREFIXES = ("/api/schema", "/api/docs")


def is_secret(name):
    """True when a field or parameter called `name` may hold a secret."""
    return bool(SECRET_KEY_PATTERN.search(str(name)))


def redact(value):
    """Return `value` (parsed JSON) with every field whose name looks secret replaced."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_query(query_string):
    """Return a query string (or form body) with the values of secret-looking names replaced.

    Names are compared decoded, so `p%61ssword=...` is caught too; a string without such a name is
    kept as it came.
    """
    if not query_string:
        return ""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if not any(is_secret(name) for name, _value in pairs):
        return query_string
    return urlencode([(name, REDACTED if is_secret(name) else value) for name, value in pairs])


def _body_for_log(request):
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return ""
    content_type = request.content_type or ""
    is_json = content_type.startswith("application/json")
    is_form = content_type.startswith("application/x-www-form-urlencoded")
    if not (is_json or is_form):
        return f"<{content_type or 'no content type'} body not recorded>"
    try:
        raw = request.body
    except Exception:  # the body may be over the size cap or already consumed
        return "<body not readable>"
    if not raw:
        return ""
    try:
        text = raw.decode("utf-8")
        if is_form:
            return redact_query(text)[:MAX_BODY_CHARS]
        text = json.dumps(redact(json.loads(text)), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "<malformed body not recorded>"
    # A lone surrogate (`"\ud800"` in JSON) cannot be stored: it becomes "?".
    return text[:MAX_BODY_CHARS].encode("utf-8", "replace").decode("utf-8")


def _client_ip(request):
    # The address the login throttles count: REMOTE_ADDR, or the entry of X-Forwarded-For that
    # the trusted proxies (`NUM_PROXIES`) added. A value that is not an address is not stored.
    address = BaseThrottle().get_ident(request) or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _user(request, response):
    # DRF authenticates inside the view; its user is on the wrapped request it returns.
    drf_request = (getattr(response, "renderer_context", None) or {}).get("request")
    user = getattr(drf_request, "user", None) if drf_request is not None else None
    if user is None:
        user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user, user.get_username()
    return None, ""


class RequestLogMiddleware:
    """Record every request under /api/ (except the schema and docs) in `RequestLog`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        """Serve the request, then write its log row."""
        if not request.path.startswith("/api/") or request.path.startswith(_UNLOGGED_PREFIXES):
            return self.get_response(request)
        try:
            body = _body_for_log(request)
        except Exception:  # recording must never stop the request
            logger.warning("request body of %s not recorded", request.path, exc_info=True)
            body = "<body not recorded>"
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = int((time.perf_counter() - started) * 1000)
        try:
            self._write(request, response, body, duration_ms)
        except Exception:  # a failing log write must not change the answer
            logger.warning(
                "request log not written for %s %s",
                request.method,
                request.path[:200],
                exc_info=True,
            )
        return response

    def _write(self, request, response, body, duration_ms):
        user, username = _user(request, response)
        api_code = getattr(response, "api_code", None)
        fields = {
            "user": user,
            "username": username[:150],
            "method": request.method[:10],
            "path": request.path[:512],
            "query": redact_query(request.META.get("QUERY_STRING", ""))[:MAX_QUERY_CHARS],
            "status": response.status_code,
            "code": api_code.number if api_code is not None else None,
            "duration_ms": duration_ms,
            "client_ip": _client_ip(request),
            "user_agent": request.headers.get("User-Agent", "")[:256],
            "request_id": getattr(request, "request_id", "")[:64],
            "body": body,
        }
        connection = transaction.get_connection()
        if connection.in_atomic_block:
            # Inside a transaction, a savepoint keeps a failed INSERT from spoiling it.
            with transaction.atomic():
                RequestLog.objects.create(**fields)
        elif connection.vendor == "postgresql":
            # A request log row need not wait for the disk: without the flush of a synchronous
            # commit the INSERT costs a fraction (a crash may lose the last fraction of a
            # second of log rows, never the consistency of the database).
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                RequestLog.objects.create(**fields)
        else:
            RequestLog.objects.create(**fields)
