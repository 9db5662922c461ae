"""Someone who may change users may not change, reset, deactivate or delete a user who holds a
permission they do not: that would be a way to sign in with rights they were never given."""

import pytest
from django.contrib.auth import get_user_model

from audit.models import EventLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for
from tests.factories import (
    DEFAULT_PASSWORD,
    RoleFactory,
    UserFactory,
    builtin_role,
    user_with_permissions,
)
from tests.rbac.helpers import expect

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def helpdesk():
    return api_client_for(
        user_with_permissions(
            "accounts.view_user", "accounts.change_user", "accounts.delete_user", "rbac.view_role"
        )
    )


@pytest.fixture
def boss():
    user = UserFactory(username="boss", email="boss@example.test")
    user.groups.add(builtin_role("administrator"))
    return user


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("post", "/password", {"password": "Taken-Over-98765"}),
        ("patch", "", {"is_active": False}),
        ("patch", "", {"email": "mine@example.test"}),
        ("put", "", {"real_name": "Renamed"}),
        ("delete", "", None),
    ],
    ids=["reset-password", "deactivate", "email", "put", "delete"],
)
def test_user_manager_cannot_touch_a_user_holding_more(helpdesk, boss, method, suffix, body):
    events = EventLog.objects.count()
    response = getattr(helpdesk, method)(f"/api/users/{boss.pk}{suffix}", body, format="json")
    data = expect(response, 403, codes.PERMISSION_DENIED)
    assert "holds permissions you do not" in data["detail"]
    boss.refresh_from_db()
    assert boss.check_password(DEFAULT_PASSWORD)
    assert (boss.is_active, boss.email, boss.real_name) == (True, "boss@example.test", "")
    assert EventLog.objects.count() == events
    expect(helpdesk.get(f"/api/users/{boss.pk}"), 200, codes.USER_QUERY_OK)  # reading is fine


def test_user_manager_may_change_a_user_holding_no_more_than_they_do(helpdesk):
    peer = UserFactory(username="peer")
    peer.groups.add(RoleFactory(permissions=["accounts.view_user"]))
    response = helpdesk.patch(f"/api/users/{peer.pk}", {"real_name": "Peer"}, format="json")
    assert expect(response, 200, codes.USER_UPDATED)["real_name"] == "Peer"
    response = helpdesk.post(
        f"/api/users/{peer.pk}/password", {"password": "Fresh-Meadow-66"}, format="json"
    )
    expect(response, 200, codes.PASSWORD_CHANGED)
    peer.refresh_from_db()
    assert peer.check_password("Fresh-Meadow-66")
