"""Permission classes shared by every API view, built on Django's model permissions.

The same `app_label.codename` permissions that the admin checks decide what the API allows, so a
role cannot do more through one than through the other. A view names what it needs either by its
queryset's model (view/add/change/delete by HTTP method) or explicitly per action in
`action_permissions`, e.g. `{"power": ["vcenter.power_virtualmachine"]}`; an empty list there
means any signed-in user (a caller's own profile and menus).

Two hooks leave room for per-object rules (a VM visible to its owner, their department, or the
roles granted its datacenter or folder) without touching the views:

- `scope_queryset(user, queryset)` narrows what a user may see; the base viewsets call it in
  `get_queryset`, so lists and detail lookups (and thus 404 for hidden objects) both obey it;
- `ModelPermission.has_object_permission` asks `object_permitted(user, obj, perms)`.

Apps register a rule per model with `@register_scope(Model)`; without one both hooks pass
everything through.
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

# model class -> callable(user, queryset) returning the narrowed queryset
_SCOPES = {}


def register_scope(model):
    """Decorator registering `func(user, queryset)` as the visibility rule for `model`."""

    def decorator(func):
        _SCOPES[model] = func
        return func

    return decorator


def scope_queryset(user, queryset):
    """Return the part of `queryset` that `user` may see (all of it for a superuser).

    TODO(#3): no model registers a rule yet, so every model passes through. Per-object scoping
    (owner, department, datacenter/folder grants) needs the ownership and grant models first.
    """
    if user is None or getattr(user, "is_superuser", False):
        return queryset
    rule = _SCOPES.get(queryset.model)
    if rule is None:
        return queryset
    return rule(user, queryset)


def object_permitted(user, obj, perms):
    """True when `user` may apply `perms` to `obj`: the object lies within the user's scope."""
    if getattr(user, "is_superuser", False):
        return True
    rule = _SCOPES.get(type(obj))
    if rule is None:
        return True
    return rule(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()


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

    def has_object_permission(self, request, view, obj):
        return object_permitted(request.user, obj, required_permissions(request, view) or [])


class IsAuthenticated(BasePermission):
    """Any signed-in user: for a caller's own profile, menus and logout."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
