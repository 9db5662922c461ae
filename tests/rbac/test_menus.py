"""The menus API (1200-1231) and `menus/mine`, the caller's own tree."""

from unittest import mock

import pytest
from django.db import DatabaseError

from kstack_naguan.api import codes
from rbac.api.views import MenuViewSet
from rbac.models import Menu
from tests.conftest import api_client_for
from tests.factories import (
    MenuFactory,
    RoleFactory,
    UserFactory,
    user_with_builtin_role,
    user_with_permissions,
)
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db


def new_menu(**overrides):
    body = {"name": "Reports", "path": "/reports", "title": "报表", "component": "reports/index"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


# Create ------------------------------------------------------------------------------------


def test_create_menu_returns_1200(api):
    parent = MenuFactory()
    body = new_menu(parent=parent.pk, sort=5, is_hide=True, is_hide_children="false")
    data = expect(api.post("/api/menus/", body, format="json"), 201, codes.MENU_CREATED)
    menu = Menu.objects.get(pk=data["id"])
    assert (menu.parent, menu.sort, menu.is_hide, menu.is_hide_children) == (parent, 5, True, False)
    assert data["title"] == "报表"


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "", [], "真"])
def test_create_menu_with_non_boolean_is_hide_returns_1201(api, value):
    response = api.post("/api/menus/", new_menu(is_hide=value), format="json")
    data = expect(response, 400, codes.MENU_BAD_IS_HIDE)
    assert "is_hide" in error_fields(data)
    assert not Menu.objects.filter(name="Reports").exists()


@pytest.mark.parametrize("value", ["no", 2, None, {}])
def test_create_menu_with_non_boolean_is_hide_children_returns_1202(api, value):
    response = api.post("/api/menus/", new_menu(is_hide_children=value), format="json")
    data = expect(response, 400, codes.MENU_BAD_IS_HIDE_CHILDREN)
    assert "is_hide_children" in error_fields(data)
    assert not Menu.objects.filter(name="Reports").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"name": ...}, "name"),
        ({"title": ""}, "title"),
        ({"path": "p" * 201}, "path"),
        ({"parent": 999999}, "parent"),
        ({"parent": "top"}, "parent"),
        ({"sort": 10**20}, "sort"),
        ({"name": "Dashboard"}, "name"),  # seeded by the migration
        # A menu is a route of the app, never a link out of it or a file outside its tree.
        ({"path": "javascript:alert(1)"}, "path"),
        ({"path": "//evil.example/login"}, "path"),
        ({"path": "https://evil.example"}, "path"),
        ({"component": "../../../etc/passwd"}, "component"),
    ],
)
def test_create_menu_with_other_bad_input_names_the_field(api, override, field):
    response = api.post("/api/menus/", new_menu(**override), format="json")
    data = expect(response, 400, codes.INVALID_INPUT)
    assert field in error_fields(data)


# Delete ------------------------------------------------------------------------------------


def test_delete_leaf_menu_returns_1210(api):
    menu = MenuFactory()
    expect(api.delete(f"/api/menus/{menu.pk}"), 200, codes.MENU_DELETED)
    assert not Menu.objects.filter(pk=menu.pk).exists()


def test_delete_menu_with_children_returns_1211(api):
    parent = MenuFactory()
    child = MenuFactory(parent=parent)
    expect(api.delete(f"/api/menus/{parent.pk}"), 409, codes.MENU_HAS_CHILDREN)
    assert Menu.objects.filter(pk__in=[parent.pk, child.pk]).count() == 2


@pytest.mark.parametrize("menu_id", ["999999", "abc"])
def test_delete_unknown_menu_returns_1212(api, menu_id):
    count = Menu.objects.count()
    expect(api.delete(f"/api/menus/{menu_id}"), 404, codes.MENU_DELETE_NOT_FOUND)
    assert Menu.objects.count() == count


def test_delete_menu_when_database_fails_returns_1213(api):
    """The database failure is simulated with mock: Menu.delete raises DatabaseError."""
    menu = MenuFactory()
    with mock.patch.object(Menu, "delete", side_effect=DatabaseError("disk I/O error")):
        response = api.delete(f"/api/menus/{menu.pk}")
    expect(response, 500, codes.MENU_DELETE_ERROR)
    assert Menu.objects.filter(pk=menu.pk).exists()


# Update ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_update_menu_returns_1220(api, method):
    menu = MenuFactory(title="Old", is_hide=False)
    body = {"title": "新标题", "is_hide": True, "sort": -3}
    response = getattr(api, method)(f"/api/menus/{menu.pk}", body, format="json")
    data = expect(response, 200, codes.MENU_UPDATED)
    assert data["is_hide"] is True
    menu.refresh_from_db()
    assert (menu.title, menu.is_hide, menu.sort) == ("新标题", True, -3)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_update_menu_with_empty_is_hide_returns_1221(api, value):
    menu = MenuFactory(is_hide=True)
    response = api.patch(f"/api/menus/{menu.pk}", {"is_hide": value}, format="json")
    data = expect(response, 400, codes.MENU_IS_HIDE_EMPTY)
    assert "is_hide" in error_fields(data)
    menu.refresh_from_db()
    assert menu.is_hide is True


@pytest.mark.parametrize(
    "body",
    [{"is_hide": "yes"}, {"is_hide": 1}, {"is_hide": []}, {"is_hide_children": "nope"}],
)
def test_update_menu_with_non_boolean_flag_returns_1222(api, body):
    menu = MenuFactory()
    response = api.patch(f"/api/menus/{menu.pk}", body, format="json")
    data = expect(response, 400, codes.MENU_UPDATE_BAD_IS_HIDE)
    assert error_fields(data) == set(body)
    menu.refresh_from_db()
    assert (menu.is_hide, menu.is_hide_children) == (False, False)


def test_update_menu_without_is_hide_keeps_it(api):
    menu = MenuFactory(is_hide=True)
    expect(api.patch(f"/api/menus/{menu.pk}", {"title": "x"}, format="json"), 200, 1220)
    menu.refresh_from_db()
    assert menu.is_hide is True


@pytest.mark.parametrize("menu_id", ["999999", "abc"])
def test_update_unknown_menu_returns_1223(api, menu_id):
    response = api.patch(f"/api/menus/{menu_id}", {"title": "x"}, format="json")
    expect(response, 404, codes.MENU_UPDATE_NOT_FOUND)


def test_update_menu_when_database_fails_returns_1224(api):
    """The database failure is simulated with mock: Menu.save raises DatabaseError."""
    menu = MenuFactory(title="Old")
    with mock.patch.object(Menu, "save", side_effect=DatabaseError("could not serialize")):
        response = api.patch(f"/api/menus/{menu.pk}", {"title": "New"}, format="json")
    expect(response, 500, codes.MENU_UPDATE_DB_ERROR)
    menu.refresh_from_db()
    assert menu.title == "Old"


def test_update_menu_under_its_own_child_is_refused(api):
    parent = MenuFactory()
    child = MenuFactory(parent=parent)
    for new_parent in (parent, child):
        response = api.patch(f"/api/menus/{parent.pk}", {"parent": new_parent.pk}, "json")
        assert "parent" in error_fields(expect(response, 400, codes.INVALID_INPUT))
    parent.refresh_from_db()
    assert parent.parent is None


@pytest.mark.parametrize("body", [{}, {"colour": "red"}, ["title"]])
def test_update_menu_naming_no_field_is_refused(api, body):
    menu = MenuFactory()
    expect(api.patch(f"/api/menus/{menu.pk}", body, format="json"), 400, codes.INVALID_INPUT)


# Query -------------------------------------------------------------------------------------


def test_list_menus_returns_1230_ordered_by_sort(api, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        data = expect(api.get("/api/menus/?page_size=200"), 200, codes.MENU_QUERY_OK)
    sorts = [(row["sort"], row["id"]) for row in data["results"]]
    assert sorts == sorted(sorts)
    assert data["count"] == Menu.objects.count() > 10


def test_list_menus_filters_roots(api):
    data = expect(api.get("/api/menus/?root=true&page_size=200"), 200, codes.MENU_QUERY_OK)
    assert {row["name"] for row in data["results"]} >= {"Dashboard", "VCenter", "System"}
    assert all(row["parent"] is None for row in data["results"])


def test_get_menu_returns_1230(api):
    menu = MenuFactory(title="单个")
    assert expect(api.get(f"/api/menus/{menu.pk}"), 200, codes.MENU_QUERY_OK)["title"] == "单个"


def test_get_unknown_menu_returns_1231(api):
    expect(api.get("/api/menus/999999"), 404, codes.MENU_QUERY_FAILED)


def test_list_menus_with_bad_filter_returns_1231(api):
    expect(api.get("/api/menus/?parent=999999"), 400, codes.MENU_QUERY_FAILED)


def test_list_menus_when_database_fails_returns_1231(api):
    """The database failure is simulated with mock: the page query raises DatabaseError."""
    with mock.patch.object(MenuViewSet, "paginate_queryset", side_effect=DatabaseError("gone")):
        response = api.get("/api/menus/")
    expect(response, 500, codes.MENU_QUERY_FAILED)


def test_menu_tree_nests_children_in_sort_order(api):
    data = expect(api.get("/api/menus/tree"), 200, codes.MENU_QUERY_OK)
    vcenter = next(node for node in data if node["name"] == "VCenter")
    sorts = [child["sort"] for child in vcenter["children"]]
    assert sorts == sorted(sorts) and len(sorts) >= 5
    assert [node["sort"] for node in data] == sorted(node["sort"] for node in data)


# Mine --------------------------------------------------------------------------------------


def names(tree):
    for node in tree:
        yield node["name"]
        yield from names(node["children"])


def test_my_menus_hold_only_what_my_roles_grant_with_their_parents():
    top = MenuFactory(name="Top", sort=2)
    granted = MenuFactory(name="Granted", parent=top, sort=9)
    also = MenuFactory(name="Also", parent=top, sort=1)
    MenuFactory(name="Sibling", parent=top, sort=5)
    first = MenuFactory(name="First", sort=1)
    MenuFactory(name="Elsewhere")
    user = UserFactory()
    user.groups.add(RoleFactory(menus=[granted, first]), RoleFactory(menus=[also]))

    data = expect(api_client_for(user).get("/api/menus/mine"), 200, codes.MENU_QUERY_OK)
    assert [node["name"] for node in data] == ["First", "Top"]
    assert [child["name"] for child in data[1]["children"]] == ["Also", "Granted"]
    assert set(names(data)) == {"First", "Top", "Also", "Granted"}


def test_my_menus_are_empty_without_a_role():
    user = UserFactory()
    assert expect(api_client_for(user).get("/api/menus/mine"), 200, codes.MENU_QUERY_OK) == []


def test_ordinary_user_role_sees_its_seeded_menus_only():
    user = user_with_builtin_role("user")
    data = expect(api_client_for(user).get("/api/menus/mine"), 200, codes.MENU_QUERY_OK)
    seen = set(names(data))
    assert {"Dashboard", "VCenter", "VirtualMachineList", "Profile"} <= seen
    assert not seen & {"System", "UserList", "RoleList", "Logs", "Platforms"}


def test_superuser_sees_every_menu(api):
    data = expect(api.get("/api/menus/mine"), 200, codes.MENU_QUERY_OK)
    assert set(names(data)) == set(Menu.objects.values_list("name", flat=True))


def test_my_menus_when_database_fails_returns_1231():
    """The database failure is simulated with mock: reading the menus raises DatabaseError."""
    user = UserFactory()
    with mock.patch("rbac.services.menus_for", side_effect=DatabaseError("gone")):
        response = api_client_for(user).get("/api/menus/mine")
    expect(response, 500, codes.MENU_QUERY_FAILED)


def test_menu_management_needs_rbac_permissions():
    reader = user_with_permissions("rbac.view_menu")
    client = api_client_for(reader)
    expect(client.get("/api/menus/"), 200, codes.MENU_QUERY_OK)
    expect(client.post("/api/menus/", new_menu(), format="json"), 403, codes.PERMISSION_DENIED)
    menu = MenuFactory()
    expect(client.delete(f"/api/menus/{menu.pk}"), 403, codes.PERMISSION_DENIED)
    assert Menu.objects.filter(pk=menu.pk).exists()
    expect(api_client_for(UserFactory()).get("/api/menus/tree"), 403, 902)
