"""The admin obeys the API's rules: no self-promotion, built-in roles stay, menus as a tree."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from rbac.models import Menu, Role
from tests.factories import (
    DEFAULT_PASSWORD,
    MenuFactory,
    RoleFactory,
    UserFactory,
    builtin_role,
    user_with_builtin_role,
    user_with_permissions,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


def staff_with(*permissions, **kwargs):
    return user_with_permissions(*permissions, is_staff=True, **kwargs)


def change_form(user, **overrides):
    """What the user change form posts for `user`, with `overrides`."""
    body = {
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "real_name": user.real_name,
        "phone": user.phone,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    body.update(overrides)
    return body


def test_ordinary_user_cannot_enter_the_admin():
    client = admin_client(user_with_builtin_role("user"))
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_user_permissions_cannot_read_other_users():
    staff = staff_with("vcenter.view_virtualmachine")
    other = UserFactory(username="other")
    client = admin_client(staff)
    assert client.get("/admin/accounts/user/").status_code == 403
    assert client.get(f"/admin/accounts/user/{other.pk}/change/").status_code == 403


def test_user_manager_cannot_promote_self_or_grant_self_roles_in_admin():
    staff = staff_with("accounts.view_user", "accounts.change_user", username="manager")
    admin_role = builtin_role("administrator")
    client = admin_client(staff)
    body = change_form(
        staff, is_staff="on", is_superuser="on", groups=[admin_role.pk], real_name="Changed"
    )
    response = client.post(f"/admin/accounts/user/{staff.pk}/change/", body)
    assert response.status_code == 302, response.content.decode()[:2000]
    staff.refresh_from_db()
    assert staff.real_name == "Changed"  # the edit went through...
    assert not staff.is_superuser  # ...but not the privileges
    assert admin_role.pk not in staff.groups.values_list("pk", flat=True)


def test_user_manager_cannot_open_or_reset_a_superuser_in_admin(admin_user):
    client = admin_client(staff_with("accounts.view_user", "accounts.change_user"))
    url = f"/admin/accounts/user/{admin_user.pk}"
    page = client.get(f"{url}/change/")
    assert page.status_code == 200
    assert b'name="email"' not in page.content  # read-only view, no form
    response = client.post(
        f"{url}/password/", {"password1": "Fresh-Meadow-66", "password2": "Fresh-Meadow-66"}
    )
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.check_password(DEFAULT_PASSWORD)


def test_role_assigner_in_admin_is_offered_only_roles_they_could_grant():
    staff = staff_with(
        "accounts.view_user", "accounts.change_user", "rbac.assign_role", "vcenter.view_host"
    )
    weak = RoleFactory(name="weak", permissions=["vcenter.view_host"])
    strong = RoleFactory(name="strong", permissions=["accounts.delete_user"])
    bob = UserFactory(username="bob")
    client = admin_client(staff)

    page = client.get(f"/admin/accounts/user/{bob.pk}/change/").content.decode()
    offered = set(re.findall(r'<option value="(\d+)"', page))
    assert str(weak.pk) in offered
    assert str(strong.pk) not in offered

    # Granting an unoffered role is refused; granting an offered one works.
    refused = client.post(
        f"/admin/accounts/user/{bob.pk}/change/", change_form(bob, groups=[strong.pk])
    )
    assert refused.status_code == 200  # the form comes back with an error
    assert not bob.groups.exists()
    response = client.post(
        f"/admin/accounts/user/{bob.pk}/change/", change_form(bob, groups=[weak.pk])
    )
    assert response.status_code == 302
    assert set(bob.groups.values_list("name", flat=True)) == {"weak"}


def test_user_manager_cannot_change_reset_or_delete_a_user_holding_more_in_admin():
    staff = staff_with("accounts.view_user", "accounts.change_user", "accounts.delete_user")
    boss = UserFactory(username="boss")
    boss.groups.add(builtin_role("administrator"))
    client = admin_client(staff)
    url = f"/admin/accounts/user/{boss.pk}"

    page = client.get(f"{url}/change/")
    assert page.status_code == 200
    assert b'name="email"' not in page.content  # read-only view, no form
    changed = client.post(f"{url}/change/", change_form(boss, is_active=""))
    assert changed.status_code == 403
    reset = client.post(
        f"{url}/password/", {"password1": "Fresh-Meadow-66", "password2": "Fresh-Meadow-66"}
    )
    assert reset.status_code == 403
    assert client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    boss.refresh_from_db()
    assert boss.is_active
    assert boss.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("builtin", ["administrator", "user"])
def test_builtin_role_cannot_be_deleted_in_admin(admin_user, builtin):
    role = builtin_role(builtin)
    client = admin_client(admin_user)
    assert client.post(f"/admin/rbac/role/{role.pk}/delete/", {"post": "yes"}).status_code == 403
    other = RoleFactory()
    body = {"action": "delete_selected", "_selected_action": [role.pk, other.pk], "post": "yes"}
    client.post("/admin/rbac/role/", body)
    assert Role.objects.filter(pk=role.pk).exists()


def test_role_editor_in_admin_is_offered_only_permissions_they_hold():
    staff = staff_with("rbac.view_role", "rbac.change_role", "rbac.add_role", "vcenter.view_host")
    page = admin_client(staff).get("/admin/rbac/role/add/").content.decode()
    picker = page[page.index('name="permissions"') :]
    picker = picker[: picker.index("</select>")]
    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', picker)}
    held = Permission.objects.filter(group__user=staff).values_list("pk", flat=True)
    assert offered == set(held)
    assert Permission.objects.get(codename="view_host").pk in offered


def test_menu_admin_lists_menus_as_a_tree(admin_user):
    top = MenuFactory(title="ZZ-top", sort=-10)
    MenuFactory(title="ZZ-second", parent=top, sort=2)
    MenuFactory(title="ZZ-first", parent=top, sort=1)
    MenuFactory(title="ZZ-after", sort=-5)
    page = admin_client(admin_user).get("/admin/rbac/menu/").content.decode()
    table = page[page.index('id="result_list"') :]
    table = table[: table.index("</table>")]
    titles = re.findall(r'padding-left:([\d.]+)em">(ZZ-\w+)', table)
    assert titles == [
        ("0.0", "ZZ-top"),
        ("1.5", "ZZ-first"),
        ("1.5", "ZZ-second"),
        ("0.0", "ZZ-after"),
    ]
    assert Menu.objects.count() > 20  # the seeded tree is on the same page


@pytest.mark.parametrize(
    "url",
    [
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        "/admin/rbac/role/",
        "/admin/rbac/role/add/",
        "/admin/rbac/menu/",
        "/admin/rbac/menu/add/",
    ],
)
def test_admin_pages_open_for_superuser(admin_user, url):
    assert admin_client(admin_user).get(url).status_code == 200


def test_admin_role_change_page_shows_pickers(admin_user):
    role = builtin_role("administrator")
    page = admin_client(admin_user).get(f"/admin/rbac/role/{role.pk}/change/").content.decode()
    assert 'name="permissions"' in page and 'name="menus"' in page
    assert "selectfilter" in page.lower()


def role_form(role, **overrides):
    """What the role change form posts for `role`, with `overrides`."""
    body = {
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions.values_list("pk", flat=True)),
        "menus": list(role.menus.values_list("pk", flat=True)),
    }
    body.update(overrides)
    return body


def role_state(role):
    role.refresh_from_db()
    return (role.name, set(role.permissions.all()), set(role.menus.all()))


def test_role_manager_cannot_strip_or_rename_the_administrator_role_in_admin():
    staff = staff_with("rbac.view_role", "rbac.change_role", "rbac.assign_role")
    role = builtin_role("administrator")
    before = role_state(role)
    client = admin_client(staff)
    page = client.get(f"/admin/rbac/role/{role.pk}/change/").content.decode()
    assert 'name="permissions"' not in page and 'name="name"' not in page
    body = role_form(role, name="pwned", description="changed", permissions=[], menus=[])
    response = client.post(f"/admin/rbac/role/{role.pk}/change/", body)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert role_state(role) == before
    assert role.description == "changed"


@pytest.mark.parametrize("builtin", ["administrator", "user"])
def test_superuser_cannot_rename_a_builtin_role_in_admin(admin_user, builtin):
    role = builtin_role(builtin)
    client = admin_client(admin_user)
    response = client.post(f"/admin/rbac/role/{role.pk}/change/", role_form(role, name="pwned"))
    assert response.status_code == 302, response.content.decode()[:2000]
    role.refresh_from_db()
    assert role.name == builtin


def test_admin_refuses_a_role_named_like_another_in_another_case(admin_user):
    builtin_role("administrator")
    client = admin_client(admin_user)
    body = {"name": "Administrator", "description": "lookalike", "permissions": [], "menus": []}
    response = client.post("/admin/rbac/role/add/", body)
    assert response.status_code == 200  # the form comes back with the error
    assert "角色名已存在" in response.content.decode()
    assert not Role.objects.filter(name="Administrator").exists()


def test_role_manager_cannot_take_away_permissions_they_do_not_hold_in_admin():
    staff = staff_with("rbac.view_role", "rbac.change_role", "rbac.view_menu")
    role = RoleFactory(permissions=["vcenter.power_virtualmachine", "rbac.view_menu"])
    body = role_form(role, permissions=[])
    response = admin_client(staff).post(f"/admin/rbac/role/{role.pk}/change/", body)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert {p.codename for p in role.permissions.all()} == {"power_virtualmachine"}


def test_role_manager_cannot_delete_a_role_granting_more_than_they_hold_in_admin():
    staff = staff_with("rbac.view_role", "rbac.delete_role", "rbac.view_menu")
    strong = RoleFactory(permissions=["accounts.delete_user"])
    weak = RoleFactory(permissions=["rbac.view_menu"])
    client = admin_client(staff)
    response = client.post(f"/admin/rbac/role/{strong.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    body = {"action": "delete_selected", "_selected_action": [strong.pk, weak.pk], "post": "yes"}
    client.post("/admin/rbac/role/", body)
    assert Role.objects.filter(pk=strong.pk).exists()
    assert client.post(f"/admin/rbac/role/{weak.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Role.objects.filter(pk=weak.pk).exists()


def test_superuser_cannot_deactivate_or_demote_self_in_admin(admin_user):
    client = admin_client(admin_user)
    url = f"/admin/accounts/user/{admin_user.pk}/change/"
    page = client.get(url).content.decode()
    for field in ("is_active", "is_superuser", "is_staff"):
        assert f'name="{field}"' not in page
    body = change_form(admin_user, real_name="Root")
    del body["is_active"]  # every box unticked
    response = client.post(url, body)
    assert response.status_code == 302, response.content.decode()[:2000]
    admin_user.refresh_from_db()
    assert admin_user.real_name == "Root"
    assert (admin_user.is_active, admin_user.is_superuser, admin_user.is_staff) == (True,) * 3


def test_superuser_cannot_delete_self_in_admin(admin_user):
    other = UserFactory(username="other")
    client = admin_client(admin_user)
    url = f"/admin/accounts/user/{admin_user.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 403
    body = {
        "action": "delete_selected",
        "_selected_action": [admin_user.pk, other.pk],
        "post": "yes",
    }
    client.post("/admin/accounts/user/", body)
    assert User.objects.filter(pk=admin_user.pk).exists()
