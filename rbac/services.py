"""Menus, roles and user roles: the rules the API and the admin share.

Nobody raises their own rights: a user who is not a superuser grants a role only the permissions
they hold themselves, takes away only those too (nor deletes a role granting more), assigns or
removes only roles whose permissions they hold, never changes their own roles, and never touches
a superuser's. The built-in roles keep their names, and only a superuser changes what the
built-in administrator role grants. Database failures become the seed's
"database operation failed" codes with a 500 and the request id; unique constraints have the
last word when two requests race.
"""

import logging

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import ProtectedError, Q
from rest_framework import status as http_status

from audit.services import record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, database_error

from .models import Menu, Role, RoleBuiltinChoices

logger = logging.getLogger(__name__)


def _forbid(detail):
    logger.warning("refused: %s", detail)
    return ApiError(codes.PERMISSION_DENIED, http_status.HTTP_403_FORBIDDEN, detail=detail)


def _clean(instance, code, exclude=(), validate_unique=True):
    """Run the model's validation (formats, lengths, constraints), raising `code` per field.

    `validate_unique=False` leaves a unique name to the caller's own check and the database's
    constraint (a race between two creates then ends in the caller's "exists" code).
    """
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=validate_unique)
    except ValidationError as exc:
        raise ApiError(code, data={"errors": exc.message_dict}) from None


# Menus --------------------------------------------------------------------------------------


def build_tree(menus):
    """Nest `menus` (already ordered by sort) under their parents; orphans become roots."""
    nodes = {menu.pk: {**menu_fields(menu), "children": []} for menu in menus}
    roots = []
    for menu in menus:
        parent = nodes.get(menu.parent_id)
        (parent["children"] if parent else roots).append(nodes[menu.pk])
    return roots


def menu_fields(menu):
    """The fields of a menu as the API shows them."""
    return {
        "id": menu.pk,
        "parent": menu.parent_id,
        "path": menu.path,
        "name": menu.name,
        "component": menu.component,
        "title": menu.title,
        "icon": menu.icon,
        "sort": menu.sort,
        "is_hide": menu.is_hide,
        "is_hide_children": menu.is_hide_children,
    }


def menus_for(user):
    """The menus `user`'s roles grant, with their ancestors, ordered by sort (all for a superuser).

    A role that grants a child page implies the parent entries leading to it, so the SPA can
    place it; siblings the roles do not grant stay out.
    """
    menus = list(Menu.objects.order_by("sort", "id"))
    if user.is_superuser:
        return menus
    by_id = {menu.pk: menu for menu in menus}
    granted = set(
        Menu.objects.filter(roles__group__user=user).values_list("pk", flat=True).distinct()
    )
    visible = set()
    for menu_id in granted:
        while menu_id is not None and menu_id not in visible and menu_id in by_id:
            visible.add(menu_id)
            menu_id = by_id[menu_id].parent_id
    return [menu for menu in menus if menu.pk in visible]


def _save_menu(menu, db_code, event):
    try:
        with transaction.atomic():
            menu.save()
            event()
    except IntegrityError:
        raise ApiError(
            codes.INVALID_INPUT,
            http_status.HTTP_409_CONFLICT,
            {"errors": {"name": ["A menu with this route name already exists."]}},
        ) from None
    except DatabaseError:
        logger.exception("saving menu %r failed", menu.name)
        raise database_error(db_code) from None


def create_menu(actor, data):
    """Create a menu from validated `data` (1200); the seed has no database code here: 999."""
    menu = Menu(**data)
    _clean(menu, codes.INVALID_INPUT)
    _save_menu(
        menu,
        codes.INTERNAL_ERROR,
        lambda: record_event(actor, "menu_created", menu, after=menu_fields(menu)),
    )
    logger.info("menu %s created", menu.name)
    return menu


def update_menu(actor, menu, data):
    """Apply validated `data` to `menu` (1220), refusing a parent cycle; 1224 on a DB failure."""
    before = menu_fields(menu)
    for field, value in data.items():
        setattr(menu, field, value)
    _clean(menu, codes.INVALID_INPUT)
    _save_menu(
        menu,
        codes.MENU_UPDATE_DB_ERROR,
        lambda: record_event(actor, "menu_updated", menu, before=before, after=menu_fields(menu)),
    )
    logger.info("menu %s updated (%s)", menu.name, ", ".join(data))
    return menu


def delete_menu(actor, menu):
    """Delete a leaf menu (1210); 1211 while it has children, 1213 on a database failure."""
    if menu.children.exists():
        raise ApiError(codes.MENU_HAS_CHILDREN, http_status.HTTP_409_CONFLICT)
    name, pk, before = menu.name, menu.pk, menu_fields(menu)
    try:
        with transaction.atomic():
            menu.delete()
            record_event(
                actor,
                "menu_deleted",
                object_type=Menu._meta.label,
                object_id=pk,
                object_repr=name,
                before=before,
            )
    except ProtectedError:  # a child was added since the check
        raise ApiError(codes.MENU_HAS_CHILDREN, http_status.HTTP_409_CONFLICT) from None
    except DatabaseError:
        logger.exception("deleting menu %r failed", name)
        raise database_error(codes.MENU_DELETE_ERROR) from None
    logger.info("menu %s deleted", name)


# Roles --------------------------------------------------------------------------------------


def permission_names(permissions):
    """`app_label.codename` for each permission, sorted."""
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)


def resolve_permissions(names):
    """Return the `Permission` rows for `app_label.codename` names, or raise naming the unknown.

    The permission table is small (a few hundred rows), so it is read whole: one query however
    many names a request sends.
    """
    wanted = list(dict.fromkeys(names))
    known = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ApiError(
            codes.INVALID_INPUT,
            data={"errors": {"permissions": [f"unknown permission {n!r}" for n in unknown[:20]]}},
        )
    return [known[name] for name in wanted]


def _not_held(actor, permissions):
    """The names among `permissions` (names or rows) that `actor` does not hold, sorted."""
    if actor.is_superuser:
        return []
    names = [
        p if isinstance(p, str) else f"{p.content_type.app_label}.{p.codename}" for p in permissions
    ]
    return sorted(set(names) - actor.get_all_permissions())


def check_grantable(actor, permissions, verb="grant"):
    """Refuse unless `actor` holds every permission in `permissions` (names or rows).

    `verb` says what the refusal was about: "grant", or "take away" for a removal, which is
    held to the same rule so nobody strips rights they could not give back.
    """
    missing = _not_held(actor, permissions)
    if missing:
        raise _forbid(f"you cannot {verb} permissions you do not hold: {', '.join(missing)}")


def may_delete_role(actor, role):
    """True when `actor` holds every permission `role` grants (deleting takes them away)."""
    return not _not_held(actor, role.permissions.select_related("content_type"))


def _name_taken(name, exclude_pk=None):
    # Any auth group of that name, in any letter case, blocks it, role or not.
    return Group.objects.exclude(pk=exclude_pk).filter(name__iexact=name).exists()


def role_summary(role):
    """What the event log keeps of a role before and after a change."""
    return {
        "name": role.name,
        "description": role.description,
        "permissions": permission_names(role.permissions.select_related("content_type")),
        "menus": sorted(role.menus.values_list("pk", flat=True)),
    }


def _save_role(role, permissions, menus, exists_code, db_code, event):
    """Save `role` and replace its permissions and menus (when given) in one transaction."""
    try:
        with transaction.atomic():
            role.save()
            if permissions is not None:
                role.permissions.set(permissions)
            if menus is not None:
                role.menus.set(menus)
            event()
    except IntegrityError:
        if _name_taken(role.name, exclude_pk=role.pk):
            raise ApiError(exists_code, http_status.HTTP_409_CONFLICT) from None
        logger.exception("saving role %r failed on a constraint", role.name)
        raise database_error(db_code) from None
    except DatabaseError:
        logger.exception("saving role %r failed", role.name)
        raise database_error(db_code) from None


def create_role(actor, data):
    """Create a role with its permissions and menus (1300); 1302 for a taken name."""
    permissions = resolve_permissions(data.pop("permissions", []))
    menus = data.pop("menus", [])
    check_grantable(actor, permissions)
    role = Role(**data)
    if _name_taken(role.name):
        raise ApiError(codes.ROLE_NAME_EXISTS, http_status.HTTP_409_CONFLICT)
    _clean(role, codes.INVALID_INPUT, exclude=["group"], validate_unique=False)
    _save_role(
        role,
        permissions,
        menus,
        codes.ROLE_NAME_EXISTS,
        codes.ROLE_CREATE_DB_ERROR,
        lambda: record_event(actor, "role_created", role, after=role_summary(role)),
    )
    logger.info("role %s created by %s", role.name, actor.username)
    return role


def check_builtin_change(actor, role, name=None, permissions_changed=False, menus_changed=False):
    """Refuse renaming a built-in role (908 with 409, for anyone: the SPA, the docs and the
    event log know them by name), and changing the built-in administrator role's permissions or
    menus unless `actor` is a superuser (902): a role manager must not disarm the administrators.
    """
    if role.is_builtin and name is not None and name != role.name:
        logger.warning("refused: renaming the built-in role %s to %r", role.builtin, name[:150])
        raise ApiError(
            codes.INVALID_INPUT,
            http_status.HTTP_409_CONFLICT,
            {"errors": {"name": ["The built-in roles keep their names."]}},
        )
    administrator = role.builtin == RoleBuiltinChoices.ADMINISTRATOR
    if administrator and not actor.is_superuser and (permissions_changed or menus_changed):
        raise _forbid(
            "only a superuser may change the permissions or menus of the built-in "
            "administrator role"
        )


def update_role(actor, role, data):
    """Change a role (1320); given permission or menu lists replace the old ones.

    Permissions added or taken away must be ones `actor` holds (403); the built-in roles keep
    their names and the administrator role its grants (`check_builtin_change`).
    """
    permissions = data.pop("permissions", None)
    menus = data.pop("menus", None)
    current = set(permission_names(role.permissions.select_related("content_type")))
    wanted = current
    if permissions is not None:
        permissions = resolve_permissions(permissions)
        wanted = set(permission_names(permissions))
    menus_changed = menus is not None and {m.pk for m in menus} != set(
        role.menus.values_list("pk", flat=True)
    )
    check_builtin_change(actor, role, data.get("name"), wanted != current, menus_changed)
    check_grantable(actor, wanted - current)
    check_grantable(actor, current - wanted, verb="take away")
    before = role_summary(role)
    for field, value in data.items():
        setattr(role, field, value)
    if "name" in data and _name_taken(role.name, exclude_pk=role.pk):
        raise ApiError(codes.ROLE_UPDATE_NAME_EXISTS, http_status.HTTP_409_CONFLICT)
    _clean(role, codes.INVALID_INPUT, exclude=["group"], validate_unique=False)
    _save_role(
        role,
        permissions,
        menus,
        codes.ROLE_UPDATE_NAME_EXISTS,
        codes.ROLE_UPDATE_DB_ERROR,
        lambda: record_event(actor, "role_updated", role, before=before, after=role_summary(role)),
    )
    logger.info("role %s updated by %s", role.name, actor.username)
    return role


def delete_role(actor, role):
    """Delete a role (1310) and its memberships; 1312 for a built-in role, 403 for a role
    granting permissions `actor` does not hold (deleting takes them from its members)."""
    if role.is_builtin:
        raise ApiError(codes.ROLE_BUILTIN, http_status.HTTP_409_CONFLICT)
    check_grantable(actor, role.permissions.select_related("content_type"), verb="take away")
    name, pk, before = role.name, role.pk, role_summary(role)
    with transaction.atomic():
        role.delete()
        record_event(
            actor,
            "role_deleted",
            object_type=Role._meta.label,
            object_id=pk,
            object_repr=name,
            before=before,
        )
    logger.info("role %s deleted by %s", name, actor.username)


# User roles ---------------------------------------------------------------------------------


def grantable_permissions(user):
    """The permissions `user` may put on a role: all for a superuser, else the ones they hold."""
    if user.is_superuser:
        return Permission.objects.all()
    return Permission.objects.filter(Q(group__user=user) | Q(user=user)).distinct()


def grantable_roles(user):
    """The roles `user` may give or take: those whose permissions `user` holds every one of."""
    if user.is_superuser:
        return Role.objects.all()
    held = Permission.objects.filter(Q(group__user=user) | Q(user=user)).values("pk")
    return Role.objects.exclude(permissions__in=Permission.objects.exclude(pk__in=held))


def permissions_beyond(actor, user):
    """The permissions `user` holds (through roles or directly) that `actor` does not, sorted.

    Someone who may change users still may not change, reset the password of, deactivate or
    delete a user this names anything for: that would be a way into rights they were not given.
    """
    if actor.is_superuser:
        return []
    return _not_held(actor, grantable_permissions(user).select_related("content_type"))


def check_assignable(actor, user, roles):
    """Refuse unless `actor` may give `user` or take from them each of `roles`, and `user`
    holds nothing beyond `actor` (`permissions_beyond`)."""
    if actor.is_superuser:
        return
    if user.pk == actor.pk:
        raise _forbid("you cannot change your own roles")
    if user.is_superuser:
        raise _forbid("only a superuser may change a superuser's roles")
    beyond = permissions_beyond(actor, user) if user.pk is not None else []
    if beyond:
        raise _forbid(
            "you cannot change the roles of a user who holds permissions you do not: "
            + ", ".join(beyond)
        )
    for role in roles:
        check_grantable(actor, role.permissions.select_related("content_type"))


def _role_names(user):
    return sorted(Role.objects.filter(group__user=user).values_list("name", flat=True))


def _apply(actor, user, action, change):
    """Run `change` and log it in one transaction; the seed has no database code here: 999."""
    try:
        with transaction.atomic():
            before = _role_names(user)
            change()
            record_event(
                actor, action, user, before={"roles": before}, after={"roles": _role_names(user)}
            )
    except DatabaseError:
        logger.exception("changing the roles of %r failed", user.username)
        raise database_error(codes.INTERNAL_ERROR) from None


def add_roles(actor, user, roles):
    """Give `user` each of `roles` (1400); roles already held stay."""
    check_assignable(actor, user, roles)
    _apply(actor, user, "roles_added", lambda: user.groups.add(*roles))
    logger.info(
        "roles %s given to %s by %s", [r.name for r in roles], user.username, actor.username
    )


def remove_roles(actor, user, roles):
    """Take each of `roles` from `user` (1410); roles not held are ignored."""
    check_assignable(actor, user, roles)
    _apply(actor, user, "roles_removed", lambda: user.groups.remove(*roles))
    logger.info(
        "roles %s taken from %s by %s", [r.name for r in roles], user.username, actor.username
    )


def set_roles(actor, user, roles):
    """Make `roles` exactly the roles of `user` (1420)."""
    current = list(Role.objects.filter(group__user=user))
    wanted = {role.pk for role in roles}
    held = {role.pk for role in current}
    changed = [r for r in roles if r.pk not in held] + [r for r in current if r.pk not in wanted]
    check_assignable(actor, user, changed)
    # Plain auth groups (not roles) a user belongs to are left alone.
    _apply(
        actor,
        user,
        "roles_set",
        lambda: (user.groups.remove(*current), user.groups.add(*roles)),
    )
    logger.info(
        "roles of %s set to %s by %s", user.username, [r.name for r in roles], actor.username
    )
