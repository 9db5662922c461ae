"""Permission classes shared by every API view, built on Django's model permissions.

The same `app_label.codename` permissions that the admin checks decide what the API allows, so a
role cannot do more through one than through the other. A view names what it needs either by its
queryset's model (view/add/change/delete by HTTP method) or explicitly per action in
`action_permissions`, e.g. `{"power": ["vcenter.power_virtualmachine"]}`.
"""

from rest_framework.permissions import BasePermission

_METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def required_permissions(request, view):
    """Return the permission names `view` needs for `request`, or None if any signed-in user may."""
    explicit = getattr(view, "action_permissions", None) or {}
    action = getattr(view, "action", None) or request.method.lower()
    if action in explicit:
        return list(explicit[action])
    if "*" in explicit:
        return list(explicit["*"])
    if getattr(view, "authenticated_only", False):
        return []

    queryset = getattr(view, "queryset", None)
    if queryset is None and hasattr(view, "get_queryset"):
        queryset = view.get_queryset()
    if queryset is None:
        return None
    opts = queryset.model._meta
    verb = _METHOD_ACTIONS.get(request.method, "change")
    return [f"{opts.app_label}.{verb}_{opts.model_name}"]


class ModelPermission(BasePermission):
    """Signed in, and holding every Django permission the action needs (superusers hold all)."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        perms = required_permissions(request, view)
        if perms is None:
            # A view without a model or explicit permissions is refused rather than left open.
            return user.is_superuser
        return user.has_perms(perms)


class IsAuthenticated(BasePermission):
    """Any signed-in user: for a caller's own profile, menus and logout."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
