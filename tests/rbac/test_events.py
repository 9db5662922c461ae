"""Changes to users, menus, roles and user roles leave an EventLog row naming who did what."""

import pytest

from audit.models import EventLog
from tests.factories import RoleFactory, UserFactory
from tests.rbac.helpers import expect

pytestmark = pytest.mark.django_db

PASSWORD = "Amber-Signal-42"


def events(action):
    return list(EventLog.objects.filter(action=action).order_by("id"))


def test_user_changes_are_logged_without_the_password(api, admin_user):
    body = {"username": "bob", "email": "bob@example.test", "password": PASSWORD}
    bob_id = expect(api.post("/api/users/", body, format="json"), 201, 1100)["id"]
    expect(api.patch(f"/api/users/{bob_id}", {"real_name": "Bob"}, format="json"), 200, 1120)
    expect(
        api.post(f"/api/users/{bob_id}/password", {"password": PASSWORD + "x"}, "json"), 200, 933
    )
    expect(api.delete(f"/api/users/{bob_id}"), 200, 1110)

    created, updated = events("user_created")[0], events("user_updated")[0]
    assert (created.user, created.object_id, created.after["username"]) == (
        admin_user,
        str(bob_id),
        "bob",
    )
    assert (updated.before["real_name"], updated.after["real_name"]) == ("", "Bob")
    assert events("password_reset")[0].object_repr == "bob"
    deleted = events("user_deleted")[0]
    assert (deleted.object_id, deleted.before["email"]) == (str(bob_id), "bob@example.test")
    for row in EventLog.objects.all():
        assert PASSWORD not in str(row.before) + str(row.after) + row.message


def test_failed_change_leaves_no_event(api):
    UserFactory(username="bob")
    body = {"username": "bob", "email": "other@example.test", "password": PASSWORD}
    expect(api.post("/api/users/", body, format="json"), 409, 1103)
    assert not EventLog.objects.exists()


def test_menu_and_role_changes_are_logged(api):
    menu_id = expect(
        api.post("/api/menus/", {"name": "M", "path": "/m", "title": "m"}, format="json"), 201, 1200
    )["id"]
    expect(api.patch(f"/api/menus/{menu_id}", {"is_hide": True}, format="json"), 200, 1220)
    body = {
        "name": "ops",
        "description": "d",
        "permissions": ["rbac.view_menu"],
        "menus": [menu_id],
    }
    role_id = expect(api.post("/api/roles/", body, format="json"), 201, 1300)["id"]
    expect(api.patch(f"/api/roles/{role_id}", {"permissions": []}, format="json"), 200, 1320)
    expect(api.delete(f"/api/roles/{role_id}"), 200, 1310)
    expect(api.delete(f"/api/menus/{menu_id}"), 200, 1210)

    assert events("menu_updated")[0].after["is_hide"] is True
    assert events("role_created")[0].after == {
        "name": "ops",
        "description": "d",
        "permissions": ["rbac.view_menu"],
        "menus": [menu_id],
    }
    assert events("role_updated")[0].after["permissions"] == []
    assert events("role_deleted")[0].object_repr == "ops"
    assert events("menu_deleted")[0].object_id == str(menu_id)
    assert events("menu_created")


def test_user_role_changes_are_logged(api):
    bob = UserFactory(username="bob")
    first, second = RoleFactory(name="first"), RoleFactory(name="second")
    expect(api.post("/api/user-roles/", {"user": bob.pk, "roles": [first.pk]}, "json"), 201, 1400)
    expect(api.put(f"/api/user-roles/{bob.pk}", {"roles": [second.pk]}, "json"), 200, 1420)
    expect(api.delete(f"/api/user-roles/{bob.pk}?roles={second.pk}"), 200, 1410)
    added, replaced, removed = (
        events("roles_added")[0],
        events("roles_set")[0],
        events("roles_removed")[0],
    )
    assert (added.before, added.after) == ({"roles": []}, {"roles": ["first"]})
    assert (replaced.before, replaced.after) == ({"roles": ["first"]}, {"roles": ["second"]})
    assert (removed.object_repr, removed.after) == ("bob", {"roles": []})
