"""Nobody locks the portal out: a superuser cannot deactivate themselves or drop their own
superuser or staff flag, and the last active superuser is never deactivated, demoted or deleted.
"""

import threading
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from accounts import services
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from tests.conftest import api_client_for
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.rbac.helpers import error_fields, expect

User = get_user_model()


def active_superusers():
    return sorted(User.objects.filter(is_superuser=True, is_active=True).values_list("username"))


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"is_active": False}, {"active": False}])
def test_deactivate_own_account_returns_1124(api, anon_api, admin_user, body):
    response = api.patch(f"/api/users/{admin_user.pk}", body, format="json")
    data = expect(response, 400, codes.USER_UPDATE_ERROR)
    assert error_fields(data) == {"is_active"}
    admin_user.refresh_from_db()
    assert admin_user.is_active
    login = {"username": "admin", "password": DEFAULT_PASSWORD}
    expect(anon_api.post("/api/auth/login", login, format="json"), 200, codes.LOGIN_OK)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["is_superuser", "is_staff"])
def test_remove_own_superuser_or_staff_flag_returns_1124(api, admin_user, field):
    response = api.patch(f"/api/users/{admin_user.pk}", {field: False}, format="json")
    assert error_fields(expect(response, 400, codes.USER_UPDATE_ERROR)) == {field}
    admin_user.refresh_from_db()
    assert getattr(admin_user, field) is True


@pytest.mark.django_db
def test_update_own_record_keeping_the_flags_succeeds(api, admin_user):
    body = {"is_active": True, "is_superuser": True, "is_staff": True, "real_name": "根"}
    data = expect(api.put(f"/api/users/{admin_user.pk}", body, format="json"), 200, 1120)
    assert (data["real_name"], data["is_active"], data["is_superuser"]) == ("根", True, True)


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"is_active": False}, {"is_superuser": False}])
def test_superuser_may_deactivate_or_demote_another_superuser(api, body):
    other = UserFactory(username="other-root", is_superuser=True, is_staff=True)
    expect(api.patch(f"/api/users/{other.pk}", body, format="json"), 200, codes.USER_UPDATED)
    assert active_superusers() == [("admin",)]


@pytest.mark.django_db
def test_superuser_may_delete_another_superuser(api):
    other = UserFactory(username="other-root", is_superuser=True, is_staff=True)
    expect(api.delete(f"/api/users/{other.pk}"), 200, codes.USER_DELETED)
    assert active_superusers() == [("admin",)]


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"is_active": False}, {"is_superuser": False}, None])
def test_last_active_superuser_cannot_be_deactivated_demoted_or_deleted(change):
    """The actor is a superuser whose row another request has just deactivated (the state half
    of a race leaves, which the API itself cannot reach: an inactive user's token is refused),
    so the service is called directly with that stale actor. `change` None is a deletion."""
    last = UserFactory(username="last-root", is_superuser=True, is_staff=True)
    stale = UserFactory(username="stale-root", is_superuser=True, is_staff=True)
    User.objects.filter(pk=stale.pk).update(is_active=False)

    with pytest.raises(ApiError) as refused:
        if change is None:
            services.delete_user(stale, last)
        else:
            services.update_user(stale, last, change)
    expected = codes.USER_DELETE_ERROR if change is None else codes.USER_UPDATE_ERROR
    assert (refused.value.code, refused.value.status) == (expected, 409)
    assert active_superusers() == [("last-root",)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_two_superusers_disabling_each_other_at_once_leave_one(method):
    """Both requests are held (a barrier) right before the last-superuser check, inside their
    transactions; the check locks the active superusers' rows, so the second waits for the
    first to commit, then sees it would leave none and is refused with 409. No mock fakes a
    failure: the barrier only makes the race happen every time."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers with a table lock; the race needs PostgreSQL")

    one = UserFactory(username="root-one", is_superuser=True, is_staff=True)
    two = UserFactory(username="root-two", is_superuser=True, is_staff=True)
    pairs = [(api_client_for(one), two), (api_client_for(two), one)]
    barrier = threading.Barrier(2, timeout=10)
    real_check = services.keep_an_active_superuser
    responses = [None, None]

    def check_after_barrier(*args):
        barrier.wait()
        return real_check(*args)

    def disable(index):
        client, target = pairs[index]
        try:
            if method == "delete":
                responses[index] = client.delete(f"/api/users/{target.pk}")
            else:
                body = {"is_active": False}
                responses[index] = client.patch(f"/api/users/{target.pk}", body, format="json")
        finally:
            connections.close_all()

    with mock.patch.object(services, "keep_an_active_superuser", check_after_barrier):
        threads = [threading.Thread(target=disable, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    answers = sorted((r.status_code, r.json()["code"]) for r in responses)
    error = codes.USER_DELETE_ERROR if method == "delete" else codes.USER_UPDATE_ERROR
    success = codes.USER_DELETED if method == "delete" else codes.USER_UPDATED
    assert answers == [(200, success.number), (409, error.number)]
    assert len(active_superusers()) == 1
