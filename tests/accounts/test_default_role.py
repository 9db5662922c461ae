"""A user created without naming roles starts with the built-in ordinary-user role, so a new
account can read the portal instead of meeting 403 everywhere; a create that names roles gives
exactly those, under the user-roles API's rules."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import RoleFactory, UserFactory, builtin_role, user_with_permissions
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db
User = get_user_model()


def new_user(**extra):
    return {
        "username": "newcomer",
        "email": "newcomer@example.test",
        "password": "Brisk-Lantern-93",
        **extra,
    }


def role_names(username):
    return sorted(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_create_user_naming_no_roles_gives_the_ordinary_user_role(api):
    ordinary = builtin_role("user")
    data = expect(api.post("/api/users/", new_user(), format="json"), 201, codes.USER_CREATED)
    assert data["roles"] == [{"id": ordinary.pk, "name": ordinary.name}]
    event = EventLog.objects.get(action="user_created")
    assert event.after["roles"] == [ordinary.name]

    # The new account reads what an ordinary user reads, and no more.
    client = api_client_for(User.objects.get(username="newcomer"))
    expect(client.get("/api/vcenter/vms/"), 200, codes.VM_QUERY_OK)
    expect(client.get("/api/users/"), 403, codes.PERMISSION_DENIED)


def test_create_user_naming_roles_gives_exactly_those(api):
    builtin_role("user")
    operator = RoleFactory(name="operator", permissions=["vcenter.view_virtualmachine"])
    body = new_user(roles=[operator.pk])
    data = expect(api.post("/api/users/", body, format="json"), 201, codes.USER_CREATED)
    assert data["roles"] == [{"id": operator.pk, "name": "operator"}]
    assert role_names("newcomer") == ["operator"]


def test_create_user_naming_an_empty_role_list_gives_none(api):
    builtin_role("user")
    data = expect(api.post("/api/users/", new_user(roles=[]), format="json"), 201, 1100)
    assert data["roles"] == []


@pytest.mark.parametrize("roles", [[999999], "1,2", ["x"], [None], 7])
def test_create_user_naming_bad_roles_returns_1104(api, roles):
    response = api.post("/api/users/", new_user(roles=roles), format="json")
    assert "roles" in error_fields(expect(response, 400, codes.USER_CREATE_ERROR))
    assert not User.objects.filter(username="newcomer").exists()


def test_user_manager_without_assign_role_gets_the_default_but_cannot_name_roles():
    ordinary = builtin_role("user")
    held = [f"{p.content_type.app_label}.{p.codename}" for p in ordinary.permissions.all()]
    manager = user_with_permissions("accounts.add_user", "rbac.view_role", *held)
    client = api_client_for(manager)
    weak = RoleFactory(permissions=["rbac.view_role"])
    response = client.post("/api/users/", new_user(roles=[weak.pk]), format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    assert not User.objects.filter(username="newcomer").exists()
    expect(client.post("/api/users/", new_user(), format="json"), 201, codes.USER_CREATED)
    assert role_names("newcomer") == ["user"]


def test_user_manager_not_holding_the_default_role_creates_users_without_it():
    """Handing out the ordinary-user role would give the new account (whose password the
    manager set) reads the manager does not have: nobody hands out more than they hold."""
    builtin_role("user")
    manager = user_with_permissions("accounts.add_user", "accounts.view_user")
    client = api_client_for(manager)
    data = expect(client.post("/api/users/", new_user(), format="json"), 201, codes.USER_CREATED)
    assert data["roles"] == []
    assert role_names("newcomer") == []
    newcomer = api_client_for(User.objects.get(username="newcomer"))
    expect(newcomer.get("/api/vcenter/vms/"), 403, codes.PERMISSION_DENIED)


def test_user_manager_cannot_give_a_new_user_a_role_granting_more_than_they_hold():
    manager = user_with_permissions("accounts.add_user", "rbac.assign_role", "rbac.view_role")
    client = api_client_for(manager)
    strong = RoleFactory(permissions=["accounts.delete_user"])
    weak = RoleFactory(permissions=["rbac.view_role"])
    response = client.post("/api/users/", new_user(roles=[strong.pk]), format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    assert not User.objects.filter(username="newcomer").exists()
    response = client.post("/api/users/", new_user(roles=[weak.pk]), format="json")
    assert [r["id"] for r in expect(response, 201, codes.USER_CREATED)["roles"]] == [weak.pk]


def test_user_added_in_admin_gets_the_ordinary_user_role(admin_user):
    builtin_role("user")
    client = Client()
    client.force_login(admin_user)
    body = {
        "username": "newcomer",
        "email": "newcomer@example.test",
        "password1": "Brisk-Lantern-93",
        "password2": "Brisk-Lantern-93",
    }
    response = client.post("/admin/accounts/user/add/", body)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert role_names("newcomer") == ["user"]


def test_user_added_in_admin_with_a_case_variant_email_is_told_so_plainly(admin_user):
    UserFactory(username="first", email="x1@example.test")
    client = Client()
    client.force_login(admin_user)
    body = {
        "username": "second",
        "email": "X1@EXAMPLE.TEST",
        "password1": "Brisk-Lantern-93",
        "password2": "Brisk-Lantern-93",
    }
    page = client.post("/admin/accounts/user/add/", body).content.decode()
    assert "邮箱已存在" in page
    assert "accounts_user_email_ci_unique" not in page
    assert not User.objects.filter(username="second").exists()


@pytest.mark.parametrize("field", ["groups", "user_permissions"])
def test_create_user_naming_groups_or_permissions_is_refused_not_ignored(api, field):
    builtin_role("administrator")
    response = api.post("/api/users/", new_user(**{field: [1]}), format="json")
    assert field in error_fields(expect(response, 400, codes.USER_CREATE_ERROR))
    assert not User.objects.filter(username="newcomer").exists()
