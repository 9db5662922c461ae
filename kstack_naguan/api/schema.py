"""The OpenAPI schema as the client sees it: every body inside the envelope, every error listed.

drf-spectacular describes what a view returns; the renderer then wraps it as
`{"code", "msg", "data"}` and turns 204 into 200, and the exception handler answers errors the
views never declare. `envelope_postprocessing_hook` makes the schema say the same, so a client
generated from it (or a fuzzer checking answers against it) sees the real shapes:

- each declared response body becomes the `data` of an envelope; a response without a body
  becomes an envelope whose `data` is null;
- a declared 204 becomes the 200 it really is;
- the generic errors are added where the view did not declare them: 401, 404 and 500 on every
  route (no token or refused credentials; an unknown id or a page past the end; the
  database-failure codes), 400 where there are parameters or a body, 403 where a token is
  needed, 413 and 415 where there is a body, and 409 and 502 on the routes that talk to vCenter
  (it refused, or could not be reached in time).
"""

ERROR_ENVELOPE = "ErrorEnvelope"

_ERRORS = {
    "400": ("Invalid parameters or body: data.errors names the fields."),
    "401": ("Not authenticated: the token is missing, invalid or expired."),
    "403": ("The caller lacks the permission this action needs."),
    "404": ("No such object (or a page past the last)."),
    "413": ("The request body is over the size cap."),
    "415": ("The body's content type is not accepted."),
    "500": ("Internal or database error: data.request_id identifies the failure in the logs."),
    "409": ("vCenter refused the operation in the object's present state."),
    "502": ("vCenter is unreachable, too slow, or refused the stored credentials."),
}


def envelope_schema(data_schema=None):
    """An envelope schema whose `data` follows `data_schema` (null when None)."""
    data = data_schema if data_schema is not None else {"nullable": True, "enum": [None]}
    return {
        "type": "object",
        "required": ["code", "msg", "data"],
        "properties": {
            "code": {"type": "integer", "description": "Response code (docs/error-codes.md)."},
            "msg": {
                "type": "string",
                "description": "The code's message in the request's language.",
            },
            "data": data,
        },
    }


def _error_content():
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_ENVELOPE}"}}}


def _wrap(status, response):
    content = response.get("content")
    if not content:
        error = str(status)[0] in "45"
        response["content"] = (
            _error_content() if error else {"application/json": {"schema": envelope_schema()}}
        )
        return
    for media in content.values():
        schema = media.get("schema")
        if schema is not None and schema.get("$ref") != f"#/components/schemas/{ERROR_ENVELOPE}":
            media["schema"] = envelope_schema(schema)


def _needs_token(operation):
    return {} not in (operation.get("security") or [{}])


def _talks_to_vcenter(path, method):
    # Changes under /api/vcenter/, and a VM's own routes (read live), go to vCenter; so does the
    # platform connection test. Mirror reads and the sync request (it queues a task) do not.
    if path.endswith("/test-connection/"):
        return True
    if path.startswith("/api/vcenter/vms/{"):
        return True
    return path.startswith("/api/vcenter/") and method != "get" and path != "/api/vcenter/sync"


def _error_statuses(path, method, operation):
    parameters = operation.get("parameters") or []
    has_body = "requestBody" in operation
    # Every route can answer 401 (no token, or refused credentials), 404 (an unknown id in the
    # path, the body or the configuration; a page past the last) and 500 (database failures).
    statuses = ["401", "404", "500"]
    if has_body or parameters:
        statuses.append("400")
    if _needs_token(operation):
        statuses.append("403")
    if has_body:
        statuses += ["413", "415"]
    if _talks_to_vcenter(path, method):
        statuses += ["409", "502"]
    return statuses


def envelope_postprocessing_hook(result, generator, request, public):
    """drf-spectacular hook: wrap every response in the envelope and list the generic errors."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_ENVELOPE] = envelope_schema({"type": "object", "nullable": True})
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]

            # The renderer answers 200 where a view answers 204.
            if "204" in responses:
                moved = responses.pop("204")
                responses.setdefault("200", moved)

            # Declared bodies become the envelope's data.
            for status, response in responses.items():
                _wrap(status, response)

            # The errors the exception handler gives on any route of this kind.
            for status in _error_statuses(path, method, operation):
                responses.setdefault(
                    status,
                    {"description": _ERRORS[status], "content": _error_content()},
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result
