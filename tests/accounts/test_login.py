import logging

import pytest

from kstack_naguan.api import codes
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def login(client, **body):
    return client.post("/api/auth/login", body, format="json")


def test_login_with_right_password_returns_tokens_and_user(anon_api):
    UserFactory(username="alice")
    response = login(anon_api, username="alice", password=DEFAULT_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.LOGIN_OK.number
    assert body["data"]["user"]["username"] == "alice"
    assert body["data"]["access"] and body["data"]["refresh"]
    me = anon_api.get("/api/vcenter/vms", HTTP_AUTHORIZATION=f"Bearer {body['data']['access']}")
    assert me.status_code != 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "alice"},
        {"password": "x"},
        {"username": "  ", "password": "x"},
        {"username": "alice", "password": ""},
        {"username": ["alice"], "password": "x"},
    ],
)
def test_login_with_empty_credentials_returns_1001(anon_api, body):
    response = login(anon_api, **body)
    assert response.status_code == 400
    assert response.json()["code"] == codes.LOGIN_EMPTY.number


def test_login_with_unknown_user_returns_1002(anon_api):
    response = login(anon_api, username="nobody", password="whatever")
    assert response.status_code == 401
    assert response.json()["code"] == codes.LOGIN_NO_USER.number


def test_login_with_wrong_password_returns_1003(anon_api):
    UserFactory(username="alice")
    response = login(anon_api, username="alice", password="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == codes.LOGIN_BAD_PASSWORD.number


def test_inactive_user_cannot_log_in(anon_api):
    UserFactory(username="alice", is_active=False)
    response = login(anon_api, username="alice", password=DEFAULT_PASSWORD)
    assert response.json()["code"] == codes.LOGIN_BAD_PASSWORD.number


def test_password_never_appears_in_response_or_log(anon_api, caplog):
    UserFactory(username="alice")
    with caplog.at_level(logging.DEBUG):
        ok = login(anon_api, username="alice", password=DEFAULT_PASSWORD)
        bad = login(anon_api, username="alice", password="Wrong-Secret-99")
    for response in (ok, bad):
        assert DEFAULT_PASSWORD not in response.content.decode()
        assert "Wrong-Secret-99" not in response.content.decode()
    assert DEFAULT_PASSWORD not in caplog.text
    assert "Wrong-Secret-99" not in caplog.text


def test_refresh_rotates_and_blacklists_old_token(anon_api):
    UserFactory(username="alice")
    tokens = login(anon_api, username="alice", password=DEFAULT_PASSWORD).json()["data"]
    first = anon_api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert first.json()["code"] == codes.TOKEN_REFRESHED.number
    again = anon_api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["code"] == codes.NOT_AUTHENTICATED.number


def test_logout_blacklists_refresh_token(anon_api):
    UserFactory(username="alice")
    tokens = login(anon_api, username="alice", password=DEFAULT_PASSWORD).json()["data"]
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    out = anon_api.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert out.status_code == 200
    assert out.json()["code"] == codes.LOGGED_OUT.number
    anon_api.credentials()
    refresh = anon_api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401


def test_logout_refuses_a_garbage_refresh_token(anon_api):
    response = anon_api.post("/api/auth/logout", {"refresh": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number


def test_logout_works_with_an_expired_access_token(anon_api):
    UserFactory(username="alice")
    tokens = login(anon_api, username="alice", password=DEFAULT_PASSWORD).json()["data"]
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
    out = anon_api.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert out.status_code == 200
    anon_api.credentials()
    again = anon_api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
