"""A holder of the built-in ordinary-user role cannot grant themselves a role, change another
user, or read another user's data, through the API or the admin."""

import pytest
from django.test import Client

from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import UserFactory, builtin_role, user_with_builtin_role
from tests.rbac.helpers import expect

pytestmark = pytest.mark.django_db


@pytest.fixture
def ordinary():
    return user_with_builtin_role("user", username="ordinary")


@pytest.fixture
def other():
    return UserFactory(username="other", real_name="Other", phone="555")


def role_names(user):
    return set(user.groups.values_list("name", flat=True))


def test_ordinary_user_cannot_grant_self_a_role_through_the_api(ordinary):
    admin_role = builtin_role("administrator")
    client = api_client_for(ordinary)
    for response in (
        client.post("/api/user-roles/", {"user": ordinary.pk, "roles": [admin_role.pk]}, "json"),
        client.put(f"/api/user-roles/{ordinary.pk}", {"roles": [admin_role.pk]}, "json"),
        client.patch("/api/users/me", {"groups": [admin_role.pk]}, "json"),
        client.patch(f"/api/roles/{admin_role.pk}", {"name": "mine"}, "json"),
    ):
        expect(response, 403, codes.PERMISSION_DENIED)
    assert role_names(ordinary) == {"user"}


def test_ordinary_user_cannot_change_another_user_through_the_api(ordinary, other):
    client = api_client_for(ordinary)
    for response in (
        client.patch(f"/api/users/{other.pk}", {"real_name": "Hacked"}, "json"),
        client.post(f"/api/users/{other.pk}/password", {"password": "Taken-Over-77"}, "json"),
        client.delete(f"/api/users/{other.pk}"),
        client.delete(f"/api/user-roles/{other.pk}?roles=1"),
    ):
        expect(response, 403, codes.PERMISSION_DENIED)
    other.refresh_from_db()
    assert other.real_name == "Other"
    assert not other.check_password("Taken-Over-77")


def test_ordinary_user_cannot_read_another_users_data_through_the_api(ordinary, other):
    client = api_client_for(ordinary)
    for url in (
        f"/api/users/{other.pk}",
        "/api/users/",
        f"/api/users/?search={other.username}",
        f"/api/user-roles/{other.pk}",
        "/api/user-roles/",
    ):
        response = client.get(url)
        expect(response, 403, codes.PERMISSION_DENIED)
        assert "555" not in response.content.decode()
    # Their own record they may read.
    assert expect(client.get("/api/users/me"), 200, codes.USER_QUERY_OK)["username"] == "ordinary"


@pytest.mark.parametrize("staff", [False, True])
def test_ordinary_user_gets_nothing_from_the_admin(ordinary, other, staff):
    ordinary.is_staff = staff
    ordinary.save()
    client = Client()
    client.force_login(ordinary)
    admin_role = builtin_role("administrator")
    urls = [
        f"/admin/accounts/user/{other.pk}/change/",
        f"/admin/accounts/user/{ordinary.pk}/change/",
        "/admin/accounts/user/",
        f"/admin/rbac/role/{admin_role.pk}/change/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == (403 if staff else 302), url
    response = client.post(
        f"/admin/accounts/user/{ordinary.pk}/change/",
        {"username": "ordinary", "email": ordinary.email, "groups": [admin_role.pk]},
    )
    assert response.status_code in (302, 403)
    assert role_names(ordinary) == {"user"}
    other.refresh_from_db()
    assert other.real_name == "Other"
