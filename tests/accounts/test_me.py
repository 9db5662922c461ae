"""A user's own record (`users/me`) and passwords: self-service change and administrator reset."""

import pytest
from django.contrib.auth import get_user_model

from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_permissions
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db
User = get_user_model()

NEW_PASSWORD = "Quiet-Harbour-71"


@pytest.fixture
def alice():
    return UserFactory(username="alice", real_name="Alice")


@pytest.fixture
def alice_api(alice):
    return api_client_for(alice)


def login(client, username, password):
    return client.post(
        "/api/auth/login", {"username": username, "password": password}, format="json"
    )


def test_user_without_role_reads_own_profile(alice_api, alice):
    data = expect(alice_api.get("/api/users/me"), 200, codes.USER_QUERY_OK)
    assert data["id"] == alice.pk
    assert data["username"] == "alice"
    assert data["roles"] == []


def test_user_updates_own_profile_returns_1120(alice_api, alice):
    body = {"real_name": "爱丽丝", "phone": "123", "email": "new@example.test"}
    data = expect(alice_api.patch("/api/users/me", body, format="json"), 200, codes.USER_UPDATED)
    assert data["real_name"] == "爱丽丝"
    alice.refresh_from_db()
    assert (alice.real_name, alice.phone, alice.email) == ("爱丽丝", "123", "new@example.test")


@pytest.mark.parametrize("body", [{}, {"nickname": "x"}, {"username": "root"}])
def test_own_profile_update_naming_no_field_returns_1122(alice_api, alice, body):
    expect(alice_api.patch("/api/users/me", body, format="json"), 400, codes.USER_NO_FIELDS)
    alice.refresh_from_db()
    assert alice.username == "alice"


@pytest.mark.parametrize(
    "body",
    [
        {"is_superuser": True},
        {"is_staff": True},
        {"is_active": True},
        {"groups": [1]},
        {"roles": [1]},
        {"user_permissions": [1]},
    ],
)
def test_user_cannot_raise_own_rights_through_profile(alice_api, alice, body):
    expect(alice_api.put("/api/users/me", body, format="json"), 403, codes.PERMISSION_DENIED)
    alice.refresh_from_db()
    assert not alice.is_superuser and not alice.is_staff
    assert not alice.groups.exists() and not alice.user_permissions.exists()


def test_user_with_change_permission_cannot_make_self_superuser_via_users_route():
    manager = user_with_permissions("accounts.change_user", "accounts.view_user")
    client = api_client_for(manager)
    response = client.patch(f"/api/users/{manager.pk}", {"is_superuser": True}, format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    manager.refresh_from_db()
    assert not manager.is_superuser


def test_own_email_taken_by_another_user_returns_1102(alice_api):
    UserFactory(username="bob", email="bob@example.test")
    response = alice_api.patch("/api/users/me", {"email": "BOB@example.test"}, format="json")
    expect(response, 409, codes.USER_EMAIL_EXISTS)


def test_change_own_password_with_old_one_ends_old_sessions(anon_api, alice):
    tokens = login(anon_api, "alice", DEFAULT_PASSWORD).json()["data"]
    client = api_client_for(alice)
    body = {"old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    data = expect(client.post("/api/users/me/password", body, format="json"), 200, 933)
    assert data["access"] and data["refresh"]

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    expect(login(anon_api, "alice", NEW_PASSWORD), 200, codes.LOGIN_OK)
    expect(login(anon_api, "alice", DEFAULT_PASSWORD), 401, codes.LOGIN_BAD_PASSWORD)
    # The refresh token issued before the change no longer works; the new one does.
    old = anon_api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    expect(old, 401, codes.NOT_AUTHENTICATED)
    new = anon_api.post("/api/auth/refresh", {"refresh": data["refresh"]}, format="json")
    expect(new, 200, codes.TOKEN_REFRESHED)
    # So does the access token: the one used for the change is refused, the new one works.
    expect(client.get("/api/users/me"), 401, codes.NOT_AUTHENTICATED)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['access']}")
    expect(client.get("/api/users/me"), 200, codes.USER_QUERY_OK)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "wrong", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": "12345678"}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": "alice"}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": DEFAULT_PASSWORD}, "new_password"),
        ({"old_password": DEFAULT_PASSWORD, "new_password": ["x"]}, "new_password"),
    ],
)
def test_change_own_password_refused_returns_1124(alice_api, alice, body, field):
    response = alice_api.post("/api/users/me/password", body, format="json")
    data = expect(response, 400, codes.USER_UPDATE_ERROR)
    assert field in error_fields(data)
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)


def test_administrator_resets_a_password(api, alice, alice_api, anon_api):
    expect(alice_api.get("/api/users/me"), 200, codes.USER_QUERY_OK)
    response = api.post(f"/api/users/{alice.pk}/password", {"password": NEW_PASSWORD}, "json")
    expect(response, 200, codes.PASSWORD_CHANGED)
    expect(login(anon_api, "alice", NEW_PASSWORD), 200, codes.LOGIN_OK)
    # Whoever held alice's access token is signed out at once, not when it expires.
    expect(alice_api.get("/api/users/me"), 401, codes.NOT_AUTHENTICATED)


def test_password_reset_follows_the_validators(api, alice):
    response = api.post(f"/api/users/{alice.pk}/password", {"password": "abc"}, format="json")
    data = expect(response, 400, codes.USER_UPDATE_ERROR)
    assert "password" in error_fields(data)
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)


def test_password_reset_of_unknown_user_returns_1123(api):
    response = api.post("/api/users/999999/password", {"password": NEW_PASSWORD}, format="json")
    expect(response, 404, codes.USER_UPDATE_NOT_FOUND)


def test_password_reset_needs_change_permission(alice_api):
    bob = UserFactory(username="bob")
    response = alice_api.post(f"/api/users/{bob.pk}/password", {"password": NEW_PASSWORD}, "json")
    expect(response, 403, codes.PERMISSION_DENIED)
    bob.refresh_from_db()
    assert bob.check_password(DEFAULT_PASSWORD)


def test_administrator_cannot_reset_own_password_without_the_old_one(api, admin_user):
    response = api.post(f"/api/users/{admin_user.pk}/password", {"password": NEW_PASSWORD}, "json")
    expect(response, 400, codes.USER_UPDATE_ERROR)
    admin_user.refresh_from_db()
    assert admin_user.check_password(DEFAULT_PASSWORD)


def test_anonymous_cannot_read_me(anon_api):
    expect(anon_api.get("/api/users/me"), 401, codes.NOT_AUTHENTICATED)


def test_deactivating_a_user_signs_them_out_at_once(api, alice, alice_api):
    expect(alice_api.get("/api/users/me"), 200, codes.USER_QUERY_OK)
    expect(api.patch(f"/api/users/{alice.pk}", {"is_active": False}, format="json"), 200, 1120)
    expect(alice_api.get("/api/users/me"), 401, codes.NOT_AUTHENTICATED)
