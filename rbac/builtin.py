"""The two built-in roles and the permissions they hold, kept in step with the portal's models.

Permissions rows only exist after `post_migrate` has run for their app, and other apps keep adding
models, so a data migration alone cannot grant "every permission of the portal". The data
migration `0002_builtin_roles_and_menus` creates the roles and the menu tree; `grant_builtin`
runs after every app's migrations (connected in `RbacConfig.ready`) and grants:

- administrator: every permission of the portal's apps (`PORTAL_APPS`);
- ordinary user: read-only `view_*` on the vCenter inventory and the system configuration
  (`ORDINARY_USER_VIEW_APPS`) — not users, roles, menus, platforms' credentials or logs.

It also re-creates a built-in role that a test database flush removed. It never revokes, so a
permission an operator added by hand stays. `restore_builtin_roles` does all of it at once, for
a database that a flush without `post_migrate` left empty (the teardown of a test with
serialized rollback), so nothing that needs a built-in role depends on which test ran before.
"""

import logging

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

logger = logging.getLogger(__name__)

PORTAL_APPS = (
    "accounts",
    "rbac",
    "platforms",
    "systemconfig",
    "audit",
    "vcenter",
    "django_celery_beat",
)
ORDINARY_USER_VIEW_APPS = ("vcenter", "systemconfig")

BUILTIN_ROLES = {
    "administrator": {"name": "administrator", "description": "管理员：门户的全部权限"},
    "user": {"name": "user", "description": "普通用户：只读查看虚拟机与资源"},
}


def ensure_builtin_roles(role_model, using=DEFAULT_DB_ALIAS):
    """Return `{builtin: role}`, creating a built-in role that is missing (name kept if taken)."""
    roles = {}
    for key, fields in BUILTIN_ROLES.items():
        role = role_model._default_manager.using(using).filter(builtin=key).first()
        if role is None:
            name = fields["name"]
            if role_model._default_manager.using(using).filter(name=name).exists():
                name = f"{name}-builtin"
            role = role_model._default_manager.using(using).create(
                name=name, description=fields["description"], builtin=key
            )
            logger.info("created built-in role %s", key)
        roles[key] = role
    return roles


def grant_builtin(sender, app_config=None, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs):
    """`post_migrate` receiver: grant the built-in roles the permissions of `app_config`'s app.

    `migrate` passes the migration state's `apps`; `flush` (and so test teardown) passes none.
    """
    if app_config is None or app_config.label not in PORTAL_APPS:
        return
    try:
        role_model = apps.get_model("rbac", "Role")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return  # rbac is not migrated (yet) in this state

    roles = ensure_builtin_roles(role_model, using)
    permissions = permission_model._default_manager.using(using).filter(
        content_type__app_label=app_config.label
    )
    roles["administrator"].permissions.add(*permissions)
    if app_config.label in ORDINARY_USER_VIEW_APPS:
        roles["user"].permissions.add(*permissions.filter(codename__startswith="view_"))


def restore_builtin_roles(using=DEFAULT_DB_ALIAS):
    """Return `{builtin: role}` holding every grant `migrate` gives them, whatever was lost.

    Re-creates the portal apps' content types and permissions (Django's own `post_migrate`
    step), then the built-in roles and their permissions, as `grant_builtin` does. Menus the
    data migration seeded are not brought back. Never revokes.
    """
    for label in PORTAL_APPS:
        try:
            app_config = global_apps.get_app_config(label)
        except LookupError:
            continue
        create_permissions(app_config, verbosity=0, using=using)
        grant_builtin(None, app_config=app_config, using=using)
    return ensure_builtin_roles(global_apps.get_model("rbac", "Role"), using)
