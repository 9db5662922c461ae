"""Small assertions shared by the users, menus, roles and user-roles tests."""


def expect(response, status, code):
    """Assert the envelope's HTTP status and code; return its `data`."""
    assert response.status_code == status, response.content.decode()
    body = response.json()
    assert body["code"] == int(code), body
    return body["data"]


def error_fields(data):
    """The field names a validation failure's `data` names."""
    return set((data or {}).get("errors", {}))
