"""The users API: create, read, update, delete (1100-1132) and who may do what."""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from accounts.api.views import UserViewSet
from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import DEFAULT_PASSWORD, UserFactory, user_with_permissions
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db
User = get_user_model()

NEW_PASSWORD = "Brisk-Lantern-93"


def new_user(**overrides):
    body = {
        "username": "bob",
        "email": "bob@example.test",
        "password": NEW_PASSWORD,
        "real_name": "鲍勃",
        "phone": "+86 10 1234 5678",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


# Create ------------------------------------------------------------------------------------


def test_create_user_returns_1100_and_stores_a_hashed_password(api):
    data = expect(api.post("/api/users/", new_user(), format="json"), 201, codes.USER_CREATED)
    assert data["username"] == "bob"
    assert data["real_name"] == "鲍勃"
    assert "password" not in data
    user = User.objects.get(username="bob")
    assert user.check_password(NEW_PASSWORD)
    assert user.password != NEW_PASSWORD
    assert user.is_active and not user.is_staff and not user.is_superuser


def test_create_user_with_form_body_keeps_active_flag(api):
    response = api.post("/api/users/", new_user(), format="multipart")
    expect(response, 201, codes.USER_CREATED)
    assert User.objects.get(username="bob").is_active


@pytest.mark.parametrize("missing", ["username", "email", "password"])
@pytest.mark.parametrize("how", ["absent", "blank", "null"])
def test_create_user_without_required_field_returns_1101(api, missing, how):
    value = {"absent": ..., "blank": "  " if missing != "password" else "", "null": None}[how]
    response = api.post("/api/users/", new_user(**{missing: value}), format="json")
    data = expect(response, 400, codes.USER_MISSING_PARAMS)
    assert missing in error_fields(data)
    assert not User.objects.filter(username="bob").exists()


def test_create_user_with_taken_email_in_other_case_returns_1102(api):
    UserFactory(username="alice", email="Alice@Example.test")
    response = api.post("/api/users/", new_user(email="alice@example.TEST"), format="json")
    data = expect(response, 409, codes.USER_EMAIL_EXISTS)
    assert error_fields(data) == {"email"}
    assert not User.objects.filter(username="bob").exists()


def test_create_user_with_taken_username_returns_1103(api):
    UserFactory(username="bob", email="first-bob@example.test")
    response = api.post("/api/users/", new_user(), format="json")
    expect(response, 409, codes.USER_NAME_EXISTS)
    assert User.objects.filter(username="bob").count() == 1
    assert not User.objects.filter(email="bob@example.test").exists()


def test_create_user_when_database_fails_returns_1104(api):
    """The database failure is simulated with mock: User.save raises DatabaseError."""
    with mock.patch.object(User, "save", side_effect=DatabaseError("connection lost")):
        response = api.post("/api/users/", new_user(), format="json")
    data = expect(response, 500, codes.USER_CREATE_ERROR)
    assert data["request_id"] == response["X-Request-ID"]
    assert "connection lost" not in response.content.decode()
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"password": "bob@example.test"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "bad name!"}, "username"),
        ({"username": "x" * 10_000}, "username"),
        ({"phone": "9" * 10_000}, "phone"),
        ({"real_name": ["a", "list"]}, "real_name"),
        ({"is_staff": "maybe"}, "is_staff"),
    ],
)
def test_create_user_with_invalid_value_returns_1104_naming_the_field(api, override, field):
    response = api.post("/api/users/", new_user(**override), format="json")
    data = expect(response, 400, codes.USER_CREATE_ERROR)
    assert field in error_fields(data)
    assert User.objects.count() == 1  # only the admin


@pytest.mark.parametrize("body", [[], "text", 42])
def test_create_user_with_a_body_that_is_not_an_object_is_refused(api, body):
    response = api.post("/api/users/", body, format="json")
    expect(response, 400, codes.USER_CREATE_ERROR)


def test_create_user_with_unicode_username_succeeds(api):
    response = api.post("/api/users/", new_user(username="张三", email="z@例子.cn"), format="json")
    data = expect(response, 201, codes.USER_CREATED)
    assert User.objects.get(pk=data["id"]).username == "张三"


@pytest.mark.parametrize("value", ["yes", "on", 1, 0, "", None, [], {"a": 1}])
def test_create_user_with_non_boolean_active_returns_1121(api, value):
    response = api.post("/api/users/", new_user(is_active=value), format="json")
    data = expect(response, 400, codes.USER_BAD_ACTIVE)
    assert "is_active" in error_fields(data)
    assert not User.objects.filter(username="bob").exists()


# Delete ------------------------------------------------------------------------------------


def test_delete_user_returns_1110_and_removes_the_row(api):
    bob = UserFactory(username="bob")
    expect(api.delete(f"/api/users/{bob.pk}"), 200, codes.USER_DELETED)
    assert not User.objects.filter(pk=bob.pk).exists()


@pytest.mark.parametrize("user_id", ["999999", "abc", "1" * 40])
def test_delete_unknown_user_returns_1111(api, user_id):
    expect(api.delete(f"/api/users/{user_id}"), 404, codes.USER_DELETE_NOT_FOUND)
    assert User.objects.count() == 1


def test_delete_user_when_database_fails_returns_1112(api):
    """The database failure is simulated with mock: User.delete raises DatabaseError."""
    bob = UserFactory(username="bob")
    with mock.patch.object(User, "delete", side_effect=DatabaseError("disk full")):
        response = api.delete(f"/api/users/{bob.pk}")
    expect(response, 500, codes.USER_DELETE_ERROR)
    assert User.objects.filter(pk=bob.pk).exists()


def test_delete_own_account_returns_1112(api, admin_user):
    expect(api.delete(f"/api/users/{admin_user.pk}"), 400, codes.USER_DELETE_ERROR)
    assert User.objects.filter(pk=admin_user.pk).exists()


# Update ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_update_user_returns_1120_and_changes_only_named_fields(api, method):
    bob = UserFactory(username="bob", real_name="Bob", phone="1")
    response = getattr(api, method)(
        f"/api/users/{bob.pk}", {"real_name": "罗伯特", "is_active": False}, format="json"
    )
    data = expect(response, 200, codes.USER_UPDATED)
    assert data["real_name"] == "罗伯特"
    bob.refresh_from_db()
    assert (bob.real_name, bob.phone, bob.is_active) == ("罗伯特", "1", False)


@pytest.mark.parametrize("value", ["no", 2, None, ""])
def test_update_user_with_non_boolean_active_returns_1121(api, value):
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", {"is_active": value}, format="json")
    expect(response, 400, codes.USER_BAD_ACTIVE)
    bob.refresh_from_db()
    assert bob.is_active


@pytest.mark.parametrize("body", [{}, {"nickname": "b"}, [], ["real_name"]])
def test_update_user_naming_no_field_returns_1122(api, body):
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", body, format="json")
    expect(response, 400, codes.USER_NO_FIELDS)


@pytest.mark.parametrize("user_id", ["999999", "x"])
def test_update_unknown_user_returns_1123(api, user_id):
    response = api.patch(f"/api/users/{user_id}", {"real_name": "x"}, format="json")
    expect(response, 404, codes.USER_UPDATE_NOT_FOUND)


def test_update_user_when_database_fails_returns_1124(api):
    """The database failure is simulated with mock: User.save raises DatabaseError."""
    bob = UserFactory(username="bob", real_name="Bob")
    with mock.patch.object(User, "save", side_effect=DatabaseError("deadlock")):
        response = api.patch(f"/api/users/{bob.pk}", {"real_name": "Robert"}, format="json")
    expect(response, 500, codes.USER_UPDATE_ERROR)
    bob.refresh_from_db()
    assert bob.real_name == "Bob"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"username": ""}, "username"),
        ({"phone": "1" * 500}, "phone"),
        ({"password": NEW_PASSWORD}, "password"),
        ({"groups": [1]}, "groups"),
    ],
)
def test_update_user_with_invalid_value_returns_1124(api, body, field):
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", body, format="json")
    data = expect(response, 400, codes.USER_UPDATE_ERROR)
    assert field in error_fields(data)
    assert User.objects.get(pk=bob.pk).username == "bob"


def test_update_user_email_to_one_taken_in_other_case_returns_1102(api):
    UserFactory(username="alice", email="alice@example.test")
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", {"email": "ALICE@example.test"}, format="json")
    expect(response, 409, codes.USER_EMAIL_EXISTS)
    bob.refresh_from_db()
    assert bob.email == "bob@example.test"


@pytest.mark.parametrize("taken", ["alice", "ALICE", "\uff41lice"], ids=["same", "case", "nfkc"])
def test_update_user_username_to_a_taken_one_returns_1103(api, taken):
    UserFactory(username="alice")
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", {"username": taken}, format="json")
    expect(response, 409, codes.USER_NAME_EXISTS)
    bob.refresh_from_db()
    assert bob.username == "bob"


# Query -------------------------------------------------------------------------------------


def test_list_users_returns_1130_paginated(api, django_assert_max_num_queries):
    for n in range(5):
        UserFactory(username=f"u{n}")
    with django_assert_max_num_queries(8):
        data = expect(api.get("/api/users/?page_size=3"), 200, codes.USER_QUERY_OK)
    assert data["count"] == 6
    assert len(data["results"]) == 3
    assert all("password" not in row for row in data["results"])


def test_list_users_filters_and_searches(api):
    UserFactory(username="alice", real_name="爱丽丝", is_active=False)
    UserFactory(username="bob")
    data = expect(api.get("/api/users/?is_active=false"), 200, codes.USER_QUERY_OK)
    assert [row["username"] for row in data["results"]] == ["alice"]
    data = expect(api.get("/api/users/?search=丽"), 200, codes.USER_QUERY_OK)
    assert [row["username"] for row in data["results"]] == ["alice"]
    data = expect(api.get("/api/users/?ordering=-username"), 200, codes.USER_QUERY_OK)
    assert [row["username"] for row in data["results"]][:2] == ["bob", "alice"]


def test_list_users_filters_by_role(api):
    from tests.factories import RoleFactory

    role = RoleFactory()
    UserFactory(username="alice").groups.add(role)
    UserFactory(username="bob")
    data = expect(api.get(f"/api/users/?role={role.pk}"), 200, codes.USER_QUERY_OK)
    assert [row["username"] for row in data["results"]] == ["alice"]
    assert data["results"][0]["roles"] == [{"id": role.pk, "name": role.name}]


def test_get_user_returns_1130(api):
    bob = UserFactory(username="bob")
    data = expect(api.get(f"/api/users/{bob.pk}"), 200, codes.USER_QUERY_OK)
    assert data["username"] == "bob"


def test_get_unknown_user_returns_1131(api):
    expect(api.get("/api/users/999999"), 404, codes.USER_QUERY_FAILED)


@pytest.mark.parametrize("query", ["role=abc", "role=999999", "joined_after=yesterday"])
def test_list_users_with_bad_filter_returns_1131(api, query):
    data = expect(api.get(f"/api/users/?{query}"), 400, codes.USER_QUERY_FAILED)
    assert data["errors"]


def test_list_users_when_database_fails_returns_1132(api):
    """The database failure is simulated with mock: the page query raises DatabaseError."""
    with mock.patch.object(
        UserViewSet, "paginate_queryset", side_effect=DatabaseError("server closed")
    ):
        response = api.get("/api/users/")
    expect(response, 500, codes.USER_QUERY_DB_ERROR)


def test_get_user_when_database_fails_returns_1132(api):
    """The database failure is simulated with mock: the lookup raises DatabaseError."""
    bob = UserFactory(username="bob")
    with mock.patch.object(UserViewSet, "get_object", side_effect=DatabaseError("timeout")):
        response = api.get(f"/api/users/{bob.pk}")
    expect(response, 500, codes.USER_QUERY_DB_ERROR)


# Who may do what ---------------------------------------------------------------------------


def test_user_without_role_cannot_list_read_change_or_delete_others():
    me = UserFactory(username="me")
    other = UserFactory(username="other", real_name="Other")
    client = api_client_for(me)
    expect(client.get("/api/users/"), 403, codes.PERMISSION_DENIED)
    expect(client.get(f"/api/users/{other.pk}"), 403, codes.PERMISSION_DENIED)
    expect(
        client.patch(f"/api/users/{other.pk}", {"real_name": "x"}, format="json"),
        403,
        codes.PERMISSION_DENIED,
    )
    expect(client.delete(f"/api/users/{other.pk}"), 403, codes.PERMISSION_DENIED)
    expect(client.post("/api/users/", new_user(), format="json"), 403, codes.PERMISSION_DENIED)
    other.refresh_from_db()
    assert other.real_name == "Other"
    assert not User.objects.filter(username="bob").exists()


def test_ordinary_user_role_cannot_read_other_users():
    from tests.factories import user_with_builtin_role

    me = user_with_builtin_role("user", username="me")
    other = UserFactory(username="other")
    client = api_client_for(me)
    expect(client.get(f"/api/users/{other.pk}"), 403, codes.PERMISSION_DENIED)
    expect(client.get("/api/users/"), 403, codes.PERMISSION_DENIED)


def test_user_with_view_permission_reads_but_cannot_change():
    reader = user_with_permissions("accounts.view_user", username="reader")
    other = UserFactory(username="other")
    client = api_client_for(reader)
    expect(client.get(f"/api/users/{other.pk}"), 200, codes.USER_QUERY_OK)
    expect(
        client.patch(f"/api/users/{other.pk}", {"real_name": "x"}, format="json"),
        403,
        codes.PERMISSION_DENIED,
    )


@pytest.mark.parametrize("field", ["is_superuser", "is_staff"])
def test_user_manager_cannot_grant_privileged_flags_to_self_or_others(field):
    manager = user_with_permissions(
        "accounts.view_user", "accounts.change_user", "accounts.add_user", username="manager"
    )
    other = UserFactory(username="other")
    client = api_client_for(manager)
    for target in (manager, other):
        response = client.patch(f"/api/users/{target.pk}", {field: True}, format="json")
        expect(response, 403, codes.PERMISSION_DENIED)
        target.refresh_from_db()
        assert getattr(target, field) is False
    response = client.post("/api/users/", new_user(**{field: True}), format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    assert not User.objects.filter(username="bob").exists()


def test_user_manager_cannot_change_delete_or_reset_a_superuser(admin_user):
    manager = user_with_permissions(
        "accounts.view_user", "accounts.change_user", "accounts.delete_user", username="manager"
    )
    client = api_client_for(manager)
    url = f"/api/users/{admin_user.pk}"
    expect(client.patch(url, {"email": "mine@example.test"}, format="json"), 403, 902)
    expect(client.delete(url), 403, codes.PERMISSION_DENIED)
    response = client.post(f"{url}/password", {"password": NEW_PASSWORD}, format="json")
    expect(response, 403, codes.PERMISSION_DENIED)
    admin_user.refresh_from_db()
    assert admin_user.email == "admin@example.test"
    assert admin_user.check_password(DEFAULT_PASSWORD)


def test_superuser_may_grant_staff_status(api):
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", {"is_staff": True}, format="json")
    assert expect(response, 200, codes.USER_UPDATED)["is_staff"] is True


def test_active_flag_is_also_accepted_under_the_seeds_name(api):
    response = api.post("/api/users/", new_user(active="yes"), format="json")
    assert "is_active" in error_fields(expect(response, 400, codes.USER_BAD_ACTIVE))
    data = expect(api.post("/api/users/", new_user(active=False), format="json"), 201, 1100)
    assert data["is_active"] is False
    response = api.patch(f"/api/users/{data['id']}", {"active": True}, format="json")
    assert expect(response, 200, codes.USER_UPDATED)["is_active"] is True
    response = api.patch(f"/api/users/{data['id']}", {"active": "on"}, format="json")
    expect(response, 400, codes.USER_BAD_ACTIVE)
    assert User.objects.get(pk=data["id"]).is_active
