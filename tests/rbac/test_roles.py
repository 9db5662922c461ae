"""The roles API (1300-1331): Django groups with a description, menus and permissions."""

from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError

from kstack_naguan.api import codes
from rbac.api.views import RoleViewSet
from rbac.models import Role
from tests.conftest import api_client_for
from tests.factories import (
    MenuFactory,
    RoleFactory,
    UserFactory,
    builtin_role,
    user_with_permissions,
)
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db


def perms_of(role):
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all())


# Create ------------------------------------------------------------------------------------


def test_create_role_with_menus_and_permissions_returns_1300(api):
    menu = MenuFactory()
    body = {
        "name": "operator",
        "description": "运维",
        "permissions": ["vcenter.power_virtualmachine", "vcenter.view_virtualmachine"],
        "menus": [menu.pk],
    }
    data = expect(api.post("/api/roles/", body, format="json"), 201, codes.ROLE_CREATED)
    assert data["permissions"] == sorted(body["permissions"])
    assert data["menus"] == [menu.pk]
    assert data["is_builtin"] is False
    role = Role.objects.get(name="operator")
    assert perms_of(role) == sorted(body["permissions"])
    assert Group.objects.filter(pk=role.pk, name="operator").exists()


@pytest.mark.parametrize(
    "override",
    [{"name": ""}, {"name": "   "}, {"description": ""}, {"name": None}, {"description": ...}],
)
def test_create_role_with_empty_name_or_description_returns_1301(api, override):
    body = {"name": "operator", "description": "运维", **override}
    body = {k: v for k, v in body.items() if v is not ...}
    expect(api.post("/api/roles/", body, format="json"), 400, codes.ROLE_EMPTY)
    assert not Role.objects.filter(name="operator").exists()


def test_create_role_with_taken_name_returns_1302(api):
    RoleFactory(name="operator")
    body = {"name": "operator", "description": "again"}
    expect(api.post("/api/roles/", body, format="json"), 409, codes.ROLE_NAME_EXISTS)
    assert Role.objects.filter(name="operator").count() == 1


@pytest.mark.parametrize("name", ["administrator", "Administrator", "ADMINISTRATOR"])
def test_create_role_named_like_a_builtin_returns_1302(api, name):
    builtin_role("administrator")
    body = {"name": name, "description": "fake"}
    expect(api.post("/api/roles/", body, format="json"), 409, codes.ROLE_NAME_EXISTS)
    assert Role.objects.filter(name__iexact="administrator").count() == 1


def test_rename_role_to_a_case_variant_of_another_returns_1322(api):
    RoleFactory(name="operator")
    other = RoleFactory(name="auditor")
    response = api.patch(f"/api/roles/{other.pk}", {"name": "Operator"}, format="json")
    expect(response, 409, codes.ROLE_UPDATE_NAME_EXISTS)
    other.refresh_from_db()
    assert other.name == "auditor"
    response = api.patch(f"/api/roles/{other.pk}", {"name": "Auditor"}, format="json")
    expect(response, 200, codes.ROLE_UPDATED)  # its own name in another case is fine


def test_create_role_when_database_fails_returns_1303(api):
    """The database failure is simulated with mock: Role.save raises DatabaseError."""
    body = {"name": "operator", "description": "运维"}
    with mock.patch.object(Role, "save", side_effect=DatabaseError("connection reset")):
        response = api.post("/api/roles/", body, format="json")
    expect(response, 500, codes.ROLE_CREATE_DB_ERROR)
    assert not Group.objects.filter(name="operator").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"permissions": ["vcenter.fly_virtualmachine"]}, "permissions"),
        ({"permissions": ["no-dot"]}, "permissions"),
        ({"permissions": "vcenter.view_virtualmachine"}, "permissions"),
        ({"menus": [999999]}, "menus"),
        ({"menus": [10**30]}, "menus"),
        ({"menus": "1,2"}, "menus"),
        ({"menus": list(range(1, 5000))}, "menus"),
        ({"permissions": ["a.b"] * 5000}, "permissions"),
        ({"name": "n" * 151}, "name"),
    ],
)
def test_create_role_with_bad_permission_or_menu_names_the_field(api, override, field):
    body = {"name": "operator", "description": "运维", **override}
    data = expect(api.post("/api/roles/", body, format="json"), 400, codes.INVALID_INPUT)
    assert field in error_fields(data)
    assert not Role.objects.filter(name="operator").exists()


# Delete ------------------------------------------------------------------------------------


def test_delete_role_returns_1310_and_takes_it_from_its_users(api):
    role = RoleFactory()
    user = UserFactory()
    user.groups.add(role)
    expect(api.delete(f"/api/roles/{role.pk}"), 200, codes.ROLE_DELETED)
    assert not Role.objects.filter(pk=role.pk).exists()
    assert not Group.objects.filter(pk=role.pk).exists()
    assert not user.groups.exists()


@pytest.mark.parametrize("role_id", ["999999", "x"])
def test_delete_unknown_role_returns_1311(api, role_id):
    expect(api.delete(f"/api/roles/{role_id}"), 404, codes.ROLE_DELETE_NOT_FOUND)


@pytest.mark.parametrize("builtin", ["administrator", "user"])
def test_delete_builtin_role_returns_1312(api, builtin):
    role = builtin_role(builtin)
    expect(api.delete(f"/api/roles/{role.pk}"), 409, codes.ROLE_BUILTIN)
    assert Role.objects.filter(pk=role.pk).exists()


def test_renamed_builtin_role_still_cannot_be_deleted(api):
    """A database from before renames were refused may hold a built-in role under another
    name: it is still the built-in role."""
    role = builtin_role("user")
    Role.objects.filter(pk=role.pk).update(name="访客")
    expect(api.delete(f"/api/roles/{role.pk}"), 409, codes.ROLE_BUILTIN)


# Update ------------------------------------------------------------------------------------


def test_update_role_returns_1320_and_replaces_permissions_and_menus(api):
    old_menu, new_menu = MenuFactory(), MenuFactory()
    role = RoleFactory(permissions=["rbac.view_menu"], menus=[old_menu])
    body = {"description": "新描述", "permissions": ["audit.view_tasklog"], "menus": [new_menu.pk]}
    data = expect(api.put(f"/api/roles/{role.pk}", body, format="json"), 200, codes.ROLE_UPDATED)
    assert data["permissions"] == ["audit.view_tasklog"]
    role.refresh_from_db()
    assert role.description == "新描述"
    assert perms_of(role) == ["audit.view_tasklog"]
    assert list(role.menus.all()) == [new_menu]


def test_update_role_without_lists_keeps_them(api):
    role = RoleFactory(permissions=["rbac.view_menu"])
    expect(api.patch(f"/api/roles/{role.pk}", {"name": "renamed"}, "json"), 200, 1320)
    role.refresh_from_db()
    assert role.name == "renamed"
    assert perms_of(role) == ["rbac.view_menu"]


@pytest.mark.parametrize("role_id", ["999999", "x"])
def test_update_unknown_role_returns_1321(api, role_id):
    response = api.patch(f"/api/roles/{role_id}", {"description": "x"}, format="json")
    expect(response, 404, codes.ROLE_UPDATE_NOT_FOUND)


def test_update_role_to_taken_name_returns_1322(api):
    RoleFactory(name="taken")
    role = RoleFactory(name="mine")
    response = api.patch(f"/api/roles/{role.pk}", {"name": "taken"}, format="json")
    expect(response, 409, codes.ROLE_UPDATE_NAME_EXISTS)
    role.refresh_from_db()
    assert role.name == "mine"


def test_update_role_when_database_fails_returns_1323(api):
    """The database failure is simulated with mock: Role.save raises DatabaseError."""
    role = RoleFactory(description="before")
    with mock.patch.object(Role, "save", side_effect=DatabaseError("read-only transaction")):
        response = api.patch(f"/api/roles/{role.pk}", {"description": "after"}, format="json")
    expect(response, 500, codes.ROLE_UPDATE_DB_ERROR)
    role.refresh_from_db()
    assert role.description == "before"


@pytest.mark.parametrize("body", [{"name": ""}, {"description": "  "}])
def test_update_role_to_empty_name_or_description_returns_1301(api, body):
    role = RoleFactory(name="keep")
    expect(api.patch(f"/api/roles/{role.pk}", body, format="json"), 400, codes.ROLE_EMPTY)
    role.refresh_from_db()
    assert role.name == "keep"


# Query -------------------------------------------------------------------------------------


def test_list_roles_returns_1330_with_builtins(api, django_assert_max_num_queries):
    for _ in range(5):
        RoleFactory(permissions=["rbac.view_menu", "vcenter.view_host"], menus=[MenuFactory()])
    with django_assert_max_num_queries(8):
        data = expect(api.get("/api/roles/"), 200, codes.ROLE_QUERY_OK)
    assert data["count"] == 7
    builtins = {row["builtin"]: row for row in data["results"] if row["is_builtin"]}
    assert set(builtins) == {"administrator", "user"}
    assert "vcenter.power_virtualmachine" in builtins["administrator"]["permissions"]
    assert "vcenter.power_virtualmachine" not in builtins["user"]["permissions"]


def test_list_roles_filters_builtin_and_user(api):
    role = RoleFactory()
    user = UserFactory()
    user.groups.add(role)
    data = expect(api.get("/api/roles/?is_builtin=false"), 200, codes.ROLE_QUERY_OK)
    assert [row["id"] for row in data["results"]] == [role.pk]
    data = expect(api.get(f"/api/roles/?user={user.pk}"), 200, codes.ROLE_QUERY_OK)
    assert [row["id"] for row in data["results"]] == [role.pk]


def test_get_role_returns_1330(api):
    role = RoleFactory(name="one")
    assert expect(api.get(f"/api/roles/{role.pk}"), 200, codes.ROLE_QUERY_OK)["name"] == "one"


def test_list_roles_when_database_fails_returns_1331(api):
    """The database failure is simulated with mock: the page query raises DatabaseError."""
    with mock.patch.object(RoleViewSet, "paginate_queryset", side_effect=DatabaseError("gone")):
        response = api.get("/api/roles/")
    expect(response, 500, codes.ROLE_QUERY_DB_ERROR)


def test_get_role_when_database_fails_returns_1331(api):
    """The database failure is simulated with mock: the lookup raises DatabaseError."""
    role = RoleFactory()
    with mock.patch.object(RoleViewSet, "get_object", side_effect=DatabaseError("gone")):
        response = api.get(f"/api/roles/{role.pk}")
    expect(response, 500, codes.ROLE_QUERY_DB_ERROR)


# Nobody raises their own rights --------------------------------------------------------------


def test_role_manager_cannot_grant_permissions_they_do_not_hold():
    manager = user_with_permissions("rbac.add_role", "rbac.change_role", "rbac.view_role")
    client = api_client_for(manager)
    body = {"name": "escalate", "description": "x", "permissions": ["accounts.change_user"]}
    expect(client.post("/api/roles/", body, format="json"), 403, codes.PERMISSION_DENIED)
    assert not Role.objects.filter(name="escalate").exists()

    own_role = manager.groups.get().role
    response = client.patch(
        f"/api/roles/{own_role.pk}",
        {"permissions": [*perms_of(own_role), "rbac.assign_role"]},
        format="json",
    )
    expect(response, 403, codes.PERMISSION_DENIED)
    assert "rbac.assign_role" not in perms_of(own_role)


def test_role_manager_may_grant_permissions_they_hold():
    manager = user_with_permissions("rbac.add_role", "rbac.view_role", "vcenter.view_host")
    body = {"name": "viewer", "description": "x", "permissions": ["vcenter.view_host"]}
    response = api_client_for(manager).post("/api/roles/", body, format="json")
    expect(response, 201, codes.ROLE_CREATED)


def test_roles_need_rbac_permissions():
    client = api_client_for(UserFactory())
    expect(client.get("/api/roles/"), 403, codes.PERMISSION_DENIED)
    body = {"name": "x", "description": "y"}
    expect(client.post("/api/roles/", body, format="json"), 403, codes.PERMISSION_DENIED)


def test_create_role_with_unicode_name_and_many_known_permissions(
    api, django_assert_max_num_queries
):
    from django.contrib.auth.models import Permission

    names = [f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.all()[:200]]
    body = {"name": "运维人员 🚀", "description": "描述", "permissions": names * 2}
    with django_assert_max_num_queries(25):
        data = expect(api.post("/api/roles/", body, format="json"), 201, codes.ROLE_CREATED)
    assert data["name"] == "运维人员 🚀"
    assert data["permissions"] == sorted(set(names))


# Built-in roles and taking permissions away -------------------------------------------------

ROLE_MANAGER = ("rbac.view_role", "rbac.change_role", "rbac.assign_role", "accounts.view_user")


@pytest.fixture
def manager_api():
    """A role manager who is not a superuser, holding only what the role pages need."""
    return api_client_for(user_with_permissions(*ROLE_MANAGER, username="role-manager"))


def test_role_manager_cannot_strip_the_administrator_role(manager_api):
    role = builtin_role("administrator")
    before = perms_of(role)
    response = manager_api.patch(f"/api/roles/{role.pk}", {"permissions": []}, format="json")
    data = expect(response, 403, codes.PERMISSION_DENIED)
    assert "administrator" in data["detail"]
    assert perms_of(role) == before
    assert "vcenter.power_virtualmachine" in before


def test_role_manager_cannot_change_the_administrator_roles_menus(manager_api):
    role = builtin_role("administrator")
    before = sorted(role.menus.values_list("pk", flat=True))
    response = manager_api.patch(f"/api/roles/{role.pk}", {"menus": []}, format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    assert sorted(role.menus.values_list("pk", flat=True)) == before


def test_role_manager_may_edit_the_administrator_roles_description(manager_api):
    role = builtin_role("administrator")
    before = perms_of(role)
    body = {"description": "管理员", "name": role.name}
    expect(manager_api.patch(f"/api/roles/{role.pk}", body, format="json"), 200, 1320)
    role.refresh_from_db()
    assert (role.description, perms_of(role)) == ("管理员", before)


def test_superuser_may_change_the_administrator_roles_permissions(api):
    role = builtin_role("administrator")
    kept = [p for p in perms_of(role) if p != "audit.delete_tasklog"]
    response = api.patch(f"/api/roles/{role.pk}", {"permissions": kept}, format="json")
    assert expect(response, 200, codes.ROLE_UPDATED)["permissions"] == kept


@pytest.mark.parametrize("builtin", ["administrator", "user"])
@pytest.mark.parametrize("as_superuser", [True, False])
def test_rename_builtin_role_returns_908_for_anyone(api, manager_api, builtin, as_superuser):
    role = builtin_role(builtin)
    client = api if as_superuser else manager_api
    response = client.patch(f"/api/roles/{role.pk}", {"name": "pwned"}, format="json")
    data = expect(response, 409, codes.INVALID_INPUT)
    assert "name" in error_fields(data)
    role.refresh_from_db()
    assert role.name == builtin
    assert not Group.objects.filter(name="pwned").exists()


def test_role_manager_cannot_take_away_permissions_they_do_not_hold(manager_api):
    role = RoleFactory(permissions=["vcenter.power_virtualmachine", "rbac.view_role"])
    response = manager_api.patch(
        f"/api/roles/{role.pk}", {"permissions": ["rbac.view_role"]}, format="json"
    )
    data = expect(response, 403, codes.PERMISSION_DENIED)
    assert data["detail"].endswith(
        "take away permissions you do not hold: vcenter.power_virtualmachine"
    )
    assert perms_of(role) == ["rbac.view_role", "vcenter.power_virtualmachine"]


def test_role_manager_may_take_away_permissions_they_hold(manager_api):
    role = RoleFactory(permissions=["vcenter.power_virtualmachine", "rbac.view_role"])
    response = manager_api.patch(
        f"/api/roles/{role.pk}",
        {"permissions": ["vcenter.power_virtualmachine"]},
        format="json",
    )
    expect(response, 200, codes.ROLE_UPDATED)
    assert perms_of(role) == ["vcenter.power_virtualmachine"]


def test_role_manager_cannot_delete_a_role_granting_what_they_do_not_hold():
    manager = user_with_permissions(*ROLE_MANAGER, "rbac.delete_role")
    client = api_client_for(manager)
    strong = RoleFactory(permissions=["accounts.delete_user"])
    weak = RoleFactory(permissions=["rbac.view_role"])
    expect(client.delete(f"/api/roles/{strong.pk}"), 403, codes.PERMISSION_DENIED)
    assert Role.objects.filter(pk=strong.pk).exists()
    expect(client.delete(f"/api/roles/{weak.pk}"), 200, codes.ROLE_DELETED)
