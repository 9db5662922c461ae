"""Menus (1200-1231), roles (1300-1331) and user roles (1400-1431)."""

import logging
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import DatabaseError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status as http_status
from rest_framework.decorators import action

from accounts.services import database_error
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeModelViewSet
from rbac import services
from rbac.filters import MenuFilterSet, RoleFilterSet, UserRoleFilterSet
from rbac.models import Menu, Role

from .serializers import (
    MenuNodeSerializer,
    MenuSerializer,
    MenuWriteSerializer,
    RoleListSerializer,
    RoleSerializer,
    RoleWriteSerializer,
    UserRoleAddSerializer,
    UserRoleSerializer,
)

logger = logging.getLogger(__name__)

_EMPTY = ("required", "blank", "null")


def _errors_of(field, errors):
    return [getattr(e, "code", None) for e in errors.get(field, [])]


def _body(request, code):
    """The request body as a mapping, or `code` when it is a list, a string or a number."""
    if not isinstance(request.data, Mapping):
        raise ApiError(code, data={"errors": {"non_field_errors": ["expected an object"]}})
    return request.data


def _validate(serializer, code_for):
    if not serializer.is_valid():
        raise ApiError(code_for(serializer.errors), data={"errors": serializer.errors})
    return dict(serializer.validated_data)


# Menus --------------------------------------------------------------------------------------


def _menu_create_code(errors):
    if "is_hide" in errors:
        return codes.MENU_BAD_IS_HIDE
    if "is_hide_children" in errors:
        return codes.MENU_BAD_IS_HIDE_CHILDREN
    return codes.INVALID_INPUT


def _menu_update_code(errors):
    """1221 for an `is_hide` sent empty (null or ""), 1222 for a flag that is not a boolean."""
    kinds = _errors_of("is_hide", errors)
    if "null" in kinds or "blank" in kinds:
        return codes.MENU_IS_HIDE_EMPTY
    if kinds or "is_hide_children" in errors:
        return codes.MENU_UPDATE_BAD_IS_HIDE
    return codes.INVALID_INPUT


@extend_schema_view(
    create=extend_schema(request=MenuWriteSerializer, responses={201: MenuSerializer}),
    update=extend_schema(request=MenuWriteSerializer, responses=MenuSerializer),
    partial_update=extend_schema(request=MenuWriteSerializer, responses=MenuSerializer),
)
class MenuViewSet(EnvelopeModelViewSet):
    """The SPA's menus: CRUD, the whole tree, and the caller's own tree (`mine`).

    PUT and PATCH both change only the fields they name. On update, `is_hide` sent as null or
    "" is "empty" (1221); a value that is not a boolean is 1222 (also for `is_hide_children`,
    which the seed's update block has no code of its own for; the errors name the field).
    """

    queryset = Menu.objects.all()
    serializer_class = MenuSerializer
    filterset_class = MenuFilterSet
    search_fields = ["name", "title", "path"]
    ordering_fields = ["sort", "id", "name", "title"]
    ordering = ["sort", "id"]
    query_failed_code = codes.MENU_QUERY_FAILED
    query_db_error_code = codes.MENU_QUERY_FAILED
    action_permissions = {"mine": [], "tree": ["rbac.view_menu"]}
    success_codes = {
        "list": codes.MENU_QUERY_OK.number,
        "retrieve": codes.MENU_QUERY_OK.number,
        "create": codes.MENU_CREATED.number,
        "update": codes.MENU_UPDATED.number,
        "partial_update": codes.MENU_UPDATED.number,
        "destroy": codes.MENU_DELETED.number,
    }
    not_found_codes = {
        "retrieve": codes.MENU_QUERY_FAILED.number,
        "update": codes.MENU_UPDATE_NOT_FOUND.number,
        "partial_update": codes.MENU_UPDATE_NOT_FOUND.number,
        "destroy": codes.MENU_DELETE_NOT_FOUND.number,
    }

    def create(self, request, *args, **kwargs):
        body = _body(request, codes.INVALID_INPUT)
        data = _validate(MenuWriteSerializer(data=body), _menu_create_code)
        menu = services.create_menu(request.user, data)
        return ApiResponse(
            codes.MENU_CREATED, MenuSerializer(menu).data, status=http_status.HTTP_201_CREATED
        )

    def update(self, request, *args, **kwargs):
        menu = self.get_object()
        body = _body(request, codes.INVALID_INPUT)
        if not set(body) & set(MenuWriteSerializer().fields):
            raise ApiError(codes.INVALID_INPUT, detail="the body names no field of a menu")
        data = _validate(MenuWriteSerializer(data=body, partial=True), _menu_update_code)
        menu = services.update_menu(request.user, menu, data)
        return ApiResponse(codes.MENU_UPDATED, MenuSerializer(menu).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.delete_menu(request.user, self.get_object())
        return ApiResponse(codes.MENU_DELETED)

    def _tree(self, menus):
        try:
            return ApiResponse(codes.MENU_QUERY_OK, services.build_tree(menus()))
        except DatabaseError:
            logger.exception("reading the menu tree failed")
            raise database_error(codes.MENU_QUERY_FAILED) from None

    @extend_schema(responses=MenuNodeSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def mine(self, request):
        """The caller's menu tree: what their roles grant, ordered by sort (1230)."""
        return self._tree(lambda: services.menus_for(request.user))

    @extend_schema(responses=MenuNodeSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def tree(self, request):
        """Every menu as a tree, ordered by sort (1230)."""
        return self._tree(lambda: list(Menu.objects.order_by("sort", "id")))


# Roles --------------------------------------------------------------------------------------


def _role_code(default):
    def pick(errors):
        if any(
            code in _EMPTY for f in RoleWriteSerializer.REQUIRED for code in _errors_of(f, errors)
        ):
            return codes.ROLE_EMPTY
        return default

    return pick


@extend_schema_view(
    create=extend_schema(request=RoleWriteSerializer, responses={201: RoleSerializer}),
    update=extend_schema(request=RoleWriteSerializer, responses=RoleSerializer),
    partial_update=extend_schema(request=RoleWriteSerializer, responses=RoleSerializer),
)
class RoleViewSet(EnvelopeModelViewSet):
    """Roles: a Django group plus description, menus and permissions (1300-1331).

    Permissions are `app_label.codename` names. Someone who is not a superuser can grant a role,
    or take away from it, only permissions they hold, and delete only a role whose permissions
    they hold (902, 403 otherwise). PUT and PATCH change only the fields they name; a given
    `permissions` or `menus` list replaces the role's current one.

    The built-in roles keep their names: a new name is 908 with 409 and `errors.name`, for a
    superuser too. Only a superuser changes the built-in administrator role's permissions or
    menus (902, 403); its description stays editable.
    """

    queryset = Role.objects.prefetch_related(
        Prefetch("permissions", queryset=Permission.objects.select_related("content_type")),
        Prefetch("menus", queryset=Menu.objects.only("id")),
    )
    serializer_class = RoleSerializer
    filterset_class = RoleFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "id", "created_at"]
    ordering = ["name"]
    query_db_error_code = codes.ROLE_QUERY_DB_ERROR
    success_codes = {
        "list": codes.ROLE_QUERY_OK.number,
        "retrieve": codes.ROLE_QUERY_OK.number,
        "create": codes.ROLE_CREATED.number,
        "update": codes.ROLE_UPDATED.number,
        "partial_update": codes.ROLE_UPDATED.number,
        "destroy": codes.ROLE_DELETED.number,
    }
    not_found_codes = {
        "update": codes.ROLE_UPDATE_NOT_FOUND.number,
        "partial_update": codes.ROLE_UPDATE_NOT_FOUND.number,
        "destroy": codes.ROLE_DELETE_NOT_FOUND.number,
    }

    def _answer(self, role, code, status=http_status.HTTP_200_OK):
        role = self.get_queryset().get(pk=role.pk)
        return ApiResponse(code, RoleSerializer(role).data, status=status)

    def create(self, request, *args, **kwargs):
        body = _body(request, codes.ROLE_EMPTY)
        data = _validate(RoleWriteSerializer(data=body), _role_code(codes.INVALID_INPUT))
        role = services.create_role(request.user, data)
        return self._answer(role, codes.ROLE_CREATED, http_status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        role = self.get_object()
        body = _body(request, codes.INVALID_INPUT)
        if not set(body) & set(RoleWriteSerializer().fields):
            raise ApiError(codes.INVALID_INPUT, detail="the body names no field of a role")
        serializer = RoleWriteSerializer(data=body, partial=True)
        data = _validate(serializer, _role_code(codes.INVALID_INPUT))
        role = services.update_role(request.user, role, data)
        return self._answer(role, codes.ROLE_UPDATED)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.delete_role(request.user, self.get_object())
        return ApiResponse(codes.ROLE_DELETED)


# User roles ---------------------------------------------------------------------------------


def _role_ids(request, body):
    """Accept `roles: [ids]` or `role: id` in the body, or `?roles=1,2` / `?role=1`."""
    if "roles" in body:
        return body["roles"]
    if "role" in body:
        return [body["role"]]
    raw = request.query_params.get("roles") or request.query_params.get("role")
    if raw:
        return [part.strip() for part in raw.split(",")]
    return None


def _roles(request, body, code):
    ids = _role_ids(request, body)
    serializer = RoleListSerializer(data={"roles": ids} if ids is not None else {})
    return _validate(serializer, lambda errors: code)["roles"]


@extend_schema_view(
    create=extend_schema(request=UserRoleAddSerializer, responses={201: UserRoleSerializer}),
    update=extend_schema(request=RoleListSerializer, responses=UserRoleSerializer),
    partial_update=extend_schema(request=RoleListSerializer, responses=UserRoleSerializer),
    destroy=extend_schema(
        request=RoleListSerializer,
        parameters=[OpenApiParameter("roles", str, description="comma-separated role ids")],
        responses=UserRoleSerializer,
    ),
)
class UserRoleViewSet(EnvelopeModelViewSet):
    """The roles each user holds, addressed by user id (1400-1431).

    `POST user-roles/ {"user", "roles"}` gives roles, `PUT user-roles/{user} {"roles"}` makes
    them the user's exact set, `DELETE user-roles/{user} {"roles"}` (or `?roles=1,2`) takes them
    away. Reading needs `rbac.view_role` and `accounts.view_user`; changing needs
    `rbac.assign_role` and `accounts.change_user`, and never one's own roles.
    """

    serializer_class = UserRoleSerializer
    filterset_class = UserRoleFilterSet
    search_fields = ["username", "real_name"]
    ordering_fields = ["id", "username"]
    ordering = ["id"]
    query_failed_code = codes.USER_ROLE_QUERY_FAILED
    query_db_error_code = codes.USER_ROLE_QUERY_FAILED
    _read = ["rbac.view_role", "accounts.view_user"]
    _write = ["rbac.assign_role", "accounts.change_user"]
    action_permissions = {
        "list": _read,
        "retrieve": _read,
        "create": _write,
        "update": _write,
        "partial_update": _write,
        "destroy": _write,
    }
    success_codes = {
        "list": codes.USER_ROLE_QUERY_OK.number,
        "retrieve": codes.USER_ROLE_QUERY_OK.number,
    }
    not_found_codes = {
        "retrieve": codes.USER_ROLE_QUERY_FAILED.number,
        "update": codes.USER_ROLE_UPDATE_BAD_PARAMS.number,
        "partial_update": codes.USER_ROLE_UPDATE_BAD_PARAMS.number,
        "destroy": codes.USER_ROLE_DELETE_BAD_PARAMS.number,
    }

    queryset = get_user_model()._default_manager.prefetch_related(
        Prefetch("groups", queryset=Role.objects.order_by("name"), to_attr="prefetched_roles")
    )

    def _answer(self, user, code, status=http_status.HTTP_200_OK):
        user = self.get_queryset().get(pk=user.pk)
        return ApiResponse(code, UserRoleSerializer(user).data, status=status)

    def create(self, request, *args, **kwargs):
        body = _body(request, codes.USER_ROLE_ADD_BAD_PARAMS)
        fields = {"user": body.get("user"), "roles": _role_ids(request, body)}
        serializer = UserRoleAddSerializer(data={k: v for k, v in fields.items() if v is not None})
        data = _validate(serializer, lambda errors: codes.USER_ROLE_ADD_BAD_PARAMS)
        services.add_roles(request.user, data["user"], data["roles"])
        return self._answer(data["user"], codes.USER_ROLE_ADDED, http_status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        user = self.get_object()
        body = _body(request, codes.USER_ROLE_UPDATE_BAD_PARAMS)
        roles = _roles(request, body, codes.USER_ROLE_UPDATE_BAD_PARAMS)
        services.set_roles(request.user, user, roles)
        return self._answer(user, codes.USER_ROLE_UPDATED)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        user = self.get_object()
        body = request.data if isinstance(request.data, Mapping) else {}
        roles = _roles(request, body, codes.USER_ROLE_DELETE_BAD_PARAMS)
        if not roles:
            raise ApiError(
                codes.USER_ROLE_DELETE_BAD_PARAMS,
                data={"errors": {"roles": ["name at least one role to remove"]}},
            )
        services.remove_roles(request.user, user, roles)
        return self._answer(user, codes.USER_ROLE_DELETED)
