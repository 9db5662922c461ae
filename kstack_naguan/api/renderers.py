"""The renderer that gives every API body the `{"code", "msg", "data"}` shape."""

from rest_framework.renderers import JSONRenderer

from . import codes

_STATUS_CODES = {
    401: codes.NOT_AUTHENTICATED,
    403: codes.PERMISSION_DENIED,
    404: codes.NOT_FOUND,
    405: codes.METHOD_NOT_ALLOWED,
    406: codes.NOT_ACCEPTABLE,
    413: codes.REQUEST_TOO_LARGE,
    415: codes.UNSUPPORTED_MEDIA_TYPE,
    429: codes.THROTTLED,
}


def envelope(code, data=None):
    """Return the envelope dict for `code` (a `Code` or its number) and `data`."""
    code = code if isinstance(code, codes.Code) else codes.get(code)
    return {"code": code.number, "msg": code.msg, "data": data}


def _code_for(response, view):
    """Pick the code of a response that did not name one: the view's per-action code first."""
    if response is None:
        return codes.OK
    code = getattr(response, "api_code", None)
    if code is not None:
        return code
    status = response.status_code
    if status >= 500:
        return codes.INTERNAL_ERROR
    if status >= 400:
        return _STATUS_CODES.get(status, codes.INVALID_INPUT)
    action_codes = getattr(view, "success_codes", None) or {}
    number = action_codes.get(getattr(view, "action", None))
    if number is not None:
        return codes.get(number)
    return codes.TASK_ACCEPTED if status == 202 else codes.OK


class EnvelopeRenderer(JSONRenderer):
    """JSON renderer that wraps the view's data unless it is already an envelope."""

    charset = "utf-8"
    ensure_ascii = False

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        view = renderer_context.get("view")
        if response is not None and response.status_code == 204:
            response.status_code = 200
        code = _code_for(response, view)
        if response is not None:
            response.api_code = code
        body = envelope(code, data)
        return super().render(body, accepted_media_type, renderer_context)
