"""Usernames are unique whatever their case, as e-mail addresses are, and signing in finds the
account whatever case the username is typed in (API and admin alike)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from kstack_naguan.api import codes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.rbac.helpers import error_fields, expect

pytestmark = pytest.mark.django_db
User = get_user_model()


def new_user(**overrides):
    return {
        "username": "ALICE",
        "email": "other-alice@example.test",
        "password": "Brisk-Lantern-93",
        **overrides,
    }


@pytest.mark.parametrize("username", ["ALICE", "Alice", " aLiCe "])
def test_create_user_with_a_case_variant_of_a_taken_username_returns_1103(api, username):
    UserFactory(username="alice")
    response = api.post("/api/users/", new_user(username=username), format="json")
    assert "username" in error_fields(expect(response, 409, codes.USER_NAME_EXISTS))
    assert list(User.objects.filter(username__iexact="alice").values_list("username")) == [
        ("alice",)
    ]


def test_update_username_to_a_case_variant_of_a_taken_one_returns_1103(api):
    UserFactory(username="alice")
    bob = UserFactory(username="bob")
    response = api.patch(f"/api/users/{bob.pk}", {"username": "ALICE"}, format="json")
    expect(response, 409, codes.USER_NAME_EXISTS)
    bob.refresh_from_db()
    assert bob.username == "bob"


def test_user_may_change_the_case_of_their_own_username(api):
    alice = UserFactory(username="alice")
    response = api.patch(f"/api/users/{alice.pk}", {"username": "Alice"}, format="json")
    assert expect(response, 200, codes.USER_UPDATED)["username"] == "Alice"


def test_database_refuses_a_case_variant_username():
    UserFactory(username="alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="ALICE", email="other@example.test")


@pytest.mark.parametrize("typed", ["alice", "ALICE", "Alice"])
def test_login_finds_the_account_whatever_the_case(anon_api, typed):
    UserFactory(username="alice")
    body = {"username": typed, "password": DEFAULT_PASSWORD}
    response = anon_api.post("/api/auth/login", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["code"] == codes.LOGIN_OK.number
    assert response.json()["data"]["user"]["username"] == "alice"
    wrong = anon_api.post("/api/auth/login", {**body, "password": "nope"}, format="json")
    assert wrong.json()["code"] == codes.LOGIN_BAD_PASSWORD.number


def test_admin_login_finds_the_account_whatever_the_case():
    UserFactory(username="alice", is_staff=True)
    assert Client().login(username="ALICE", password=DEFAULT_PASSWORD)


def test_admin_refuses_a_case_variant_username(admin_user):
    UserFactory(username="alice")
    client = Client()
    client.force_login(admin_user)
    body = {
        "username": "ALICE",
        "email": "other@example.test",
        "password1": "Brisk-Lantern-93",
        "password2": "Brisk-Lantern-93",
    }
    response = client.post("/admin/accounts/user/add/", body)
    assert response.status_code == 200  # the form comes back with the error
    assert not User.objects.filter(username="ALICE").exists()
