"""The user-roles API (1400-1431): give, take, set and list the roles of a user."""

from unittest import mock

import pytest
from django.db import DatabaseError

from kstack_naguan.api import codes
from rbac.api.views import UserRoleViewSet
from tests.conftest import api_client_for
from tests.factories import RoleFactory, UserFactory, builtin_role, user_with_permissions
from tests.rbac.helpers import expect

pytestmark = pytest.mark.django_db


def role_ids(user):
    return sorted(user.groups.values_list("pk", flat=True))


@pytest.fixture
def bob():
    return UserFactory(username="bob")


# Add ---------------------------------------------------------------------------------------


def test_add_roles_returns_1400(api, bob):
    first, second = RoleFactory(name="a-role"), RoleFactory(name="b-role")
    body = {"user": bob.pk, "roles": [first.pk, second.pk]}
    data = expect(api.post("/api/user-roles/", body, format="json"), 201, codes.USER_ROLE_ADDED)
    assert data["user"] == bob.pk
    assert [role["name"] for role in data["roles"]] == ["a-role", "b-role"]
    assert role_ids(bob) == sorted([first.pk, second.pk])


def test_add_single_role_keeps_the_ones_held(api, bob):
    held, new = RoleFactory(), RoleFactory()
    bob.groups.add(held)
    body = {"user": bob.pk, "role": new.pk}
    expect(api.post("/api/user-roles/", body, format="json"), 201, codes.USER_ROLE_ADDED)
    assert role_ids(bob) == sorted([held.pk, new.pk])


@pytest.mark.parametrize(
    "body",
    [
        {"user": 999999, "roles": ["ROLE"]},
        {"user": "USER", "roles": [999999]},
        {"user": "bob", "roles": ["ROLE"]},
        {"roles": ["ROLE"]},
        {"user": "USER"},
        {"user": "USER", "roles": "ROLE"},
        {"user": "USER", "roles": [None]},
        {"user": "USER", "roles": [{"id": 1}]},
        {"user": "USER", "roles": []},
        {"user": "USER", "roles": [10**30]},
        {"user": 10**30, "roles": ["ROLE"]},
        {"user": "USER", "roles": list(range(10**6, 10**6 + 2000))},
        ["USER", "ROLE"],
    ],
)
def test_add_roles_with_unknown_or_malformed_input_returns_1401(api, bob, body):
    role = RoleFactory()

    def fill(value):
        return (
            {"USER": bob.pk, "ROLE": role.pk}.get(value, value) if isinstance(value, str) else value
        )

    if isinstance(body, dict):
        body = {
            k: [fill(v) for v in val] if isinstance(val, list) else fill(val)
            for k, val in body.items()
        }
    else:
        body = [fill(v) for v in body]
    response = api.post("/api/user-roles/", body, format="json")
    expect(response, 400, codes.USER_ROLE_ADD_BAD_PARAMS)
    assert role_ids(bob) == []


# Remove ------------------------------------------------------------------------------------


def test_remove_role_returns_1410(api, bob):
    keep, drop = RoleFactory(), RoleFactory()
    bob.groups.add(keep, drop)
    response = api.delete(f"/api/user-roles/{bob.pk}", {"roles": [drop.pk]}, format="json")
    data = expect(response, 200, codes.USER_ROLE_DELETED)
    assert [role["id"] for role in data["roles"]] == [keep.pk]
    assert role_ids(bob) == [keep.pk]


def test_remove_role_by_query_parameter(api, bob):
    drop = RoleFactory()
    bob.groups.add(drop)
    expect(api.delete(f"/api/user-roles/{bob.pk}?roles={drop.pk}"), 200, codes.USER_ROLE_DELETED)
    assert role_ids(bob) == []


@pytest.mark.parametrize(
    ("user", "query", "body"),
    [
        ("999999", "", {"roles": ["ROLE"]}),
        ("abc", "", {"roles": ["ROLE"]}),
        ("USER", "", {}),
        ("USER", "", {"roles": [999999]}),
        ("USER", "?roles=x,y", None),
        ("USER", "", {"roles": []}),
    ],
)
def test_remove_roles_with_unknown_or_malformed_input_returns_1411(api, bob, user, query, body):
    role = RoleFactory()
    bob.groups.add(role)
    user = bob.pk if user == "USER" else user
    if body and body.get("roles"):
        body = {"roles": [role.pk if r == "ROLE" else r for r in body["roles"]]}
    response = api.delete(f"/api/user-roles/{user}{query}", body, format="json")
    status = 404 if user in ("999999", "abc") else 400
    expect(response, status, codes.USER_ROLE_DELETE_BAD_PARAMS)
    assert role_ids(bob) == [role.pk]


# Change ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_set_roles_returns_1420_and_replaces_the_set(api, bob, method):
    old, kept, new = RoleFactory(), RoleFactory(), RoleFactory()
    bob.groups.add(old, kept)
    body = {"roles": [kept.pk, new.pk]}
    response = getattr(api, method)(f"/api/user-roles/{bob.pk}", body, format="json")
    expect(response, 200, codes.USER_ROLE_UPDATED)
    assert role_ids(bob) == sorted([kept.pk, new.pk])


def test_set_roles_to_empty_list_removes_all(api, bob):
    bob.groups.add(RoleFactory())
    response = api.put(f"/api/user-roles/{bob.pk}", {"roles": []}, format="json")
    expect(response, 200, codes.USER_ROLE_UPDATED)
    assert role_ids(bob) == []


@pytest.mark.parametrize(
    ("user", "body"),
    [
        ("999999", {"roles": []}),
        ("x", {"roles": []}),
        ("USER", {}),
        ("USER", {"roles": [999999]}),
        ("USER", {"roles": "all"}),
        ("USER", ["nope"]),
    ],
)
def test_set_roles_with_unknown_or_malformed_input_returns_1421(api, bob, user, body):
    role = RoleFactory()
    bob.groups.add(role)
    target = bob.pk if user == "USER" else user
    response = api.put(f"/api/user-roles/{target}", body, format="json")
    expect(response, 404 if user != "USER" else 400, codes.USER_ROLE_UPDATE_BAD_PARAMS)
    assert role_ids(bob) == [role.pk]


# Query -------------------------------------------------------------------------------------


def test_list_user_roles_returns_1430(api, bob, django_assert_max_num_queries):
    role = RoleFactory(name="ops")
    bob.groups.add(role)
    for n in range(5):
        UserFactory(username=f"extra{n}").groups.add(role)
    with django_assert_max_num_queries(7):
        data = expect(api.get("/api/user-roles/"), 200, codes.USER_ROLE_QUERY_OK)
    assert data["count"] == 7
    data = expect(api.get(f"/api/user-roles/?user={bob.pk}"), 200, codes.USER_ROLE_QUERY_OK)
    assert data["results"] == [
        {
            "user": bob.pk,
            "username": "bob",
            "real_name": "",
            "roles": [{"id": role.pk, "name": "ops"}],
        }
    ]
    data = expect(api.get(f"/api/user-roles/?role={role.pk}"), 200, codes.USER_ROLE_QUERY_OK)
    assert data["count"] == 6


def test_get_user_roles_returns_1430(api, bob):
    role = RoleFactory()
    bob.groups.add(role)
    data = expect(api.get(f"/api/user-roles/{bob.pk}"), 200, codes.USER_ROLE_QUERY_OK)
    assert data["roles"] == [{"id": role.pk, "name": role.name}]


def test_get_roles_of_unknown_user_returns_1431(api):
    expect(api.get("/api/user-roles/999999"), 404, codes.USER_ROLE_QUERY_FAILED)


@pytest.mark.parametrize("query", ["role=999999", "role=abc", "user=abc"])
def test_list_user_roles_with_bad_filter_returns_1431(api, query):
    expect(api.get(f"/api/user-roles/?{query}"), 400, codes.USER_ROLE_QUERY_FAILED)


def test_list_user_roles_when_database_fails_returns_1431(api):
    """The database failure is simulated with mock: the page query raises DatabaseError."""
    with mock.patch.object(UserRoleViewSet, "paginate_queryset", side_effect=DatabaseError("gone")):
        response = api.get("/api/user-roles/")
    expect(response, 500, codes.USER_ROLE_QUERY_FAILED)


# Nobody raises their own rights --------------------------------------------------------------


def test_user_without_role_cannot_grant_self_a_role():
    me = UserFactory(username="me")
    admin_role = builtin_role("administrator")
    client = api_client_for(me)
    body = {"user": me.pk, "roles": [admin_role.pk]}
    expect(client.post("/api/user-roles/", body, format="json"), 403, codes.PERMISSION_DENIED)
    expect(
        client.put(f"/api/user-roles/{me.pk}", {"roles": [admin_role.pk]}, format="json"),
        403,
        codes.PERMISSION_DENIED,
    )
    expect(client.get(f"/api/user-roles/{me.pk}"), 403, codes.PERMISSION_DENIED)
    assert role_ids(me) == []


def test_role_assigner_cannot_change_own_roles():
    assigner = user_with_permissions("rbac.assign_role", "accounts.change_user")
    modest = RoleFactory()
    client = api_client_for(assigner)
    body = {"user": assigner.pk, "roles": [modest.pk]}
    expect(client.post("/api/user-roles/", body, format="json"), 403, codes.PERMISSION_DENIED)
    assert modest.pk not in role_ids(assigner)


def test_role_assigner_cannot_grant_a_role_stronger_than_themselves(bob):
    assigner = user_with_permissions(
        "rbac.assign_role", "accounts.change_user", "vcenter.view_virtualmachine"
    )
    client = api_client_for(assigner)
    admin_role = builtin_role("administrator")
    body = {"user": bob.pk, "roles": [admin_role.pk]}
    expect(client.post("/api/user-roles/", body, format="json"), 403, codes.PERMISSION_DENIED)
    assert role_ids(bob) == []

    viewer = RoleFactory(permissions=["vcenter.view_virtualmachine"])
    body = {"user": bob.pk, "roles": [viewer.pk]}
    expect(client.post("/api/user-roles/", body, format="json"), 201, codes.USER_ROLE_ADDED)
    assert role_ids(bob) == [viewer.pk]


def test_role_assigner_cannot_touch_a_superuser(admin_user):
    assigner = user_with_permissions("rbac.assign_role", "accounts.change_user")
    client = api_client_for(assigner)
    body = {"user": admin_user.pk, "roles": [RoleFactory().pk]}
    expect(client.post("/api/user-roles/", body, format="json"), 403, codes.PERMISSION_DENIED)
    assert role_ids(admin_user) == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("post", "", "add"),
        ("delete", "/{pk}", "remove"),
        ("put", "/{pk}", "set"),
    ],
    ids=["add", "remove", "set"],
)
def test_role_assigner_cannot_change_the_roles_of_a_user_holding_more(method, suffix, body):
    """The user-roles API keeps the users API's rule: nobody changes a user who holds a
    permission they lack, not even by giving them a role they could give anyone else."""
    viewer = RoleFactory(permissions=["vcenter.view_virtualmachine"])
    assigner = user_with_permissions(
        "rbac.assign_role", "accounts.change_user", "vcenter.view_virtualmachine"
    )
    boss = UserFactory(username="boss")
    admin_role = builtin_role("administrator")
    boss.groups.add(admin_role, viewer)
    client = api_client_for(assigner)
    payload = {"add": {"user": boss.pk, "roles": [viewer.pk]}, "remove": {"roles": [viewer.pk]}}
    payload["set"] = {"roles": [viewer.pk]}

    url = f"/api/user-roles{suffix.format(pk=boss.pk)}"
    if method == "post":
        url += "/"
    response = getattr(client, method)(url, payload[body], format="json")
    data = expect(response, 403, codes.PERMISSION_DENIED)
    assert "holds permissions you do not" in data["detail"]
    assert role_ids(boss) == sorted([admin_role.pk, viewer.pk])
