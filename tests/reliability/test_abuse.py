"""Abuse: password guessing is throttled, and bodies, uploads and pages have caps.

Login failures are counted per username and per client address (accounts/api/throttles.py);
the throttled answer is the generic 906 with HTTP 429 and Retry-After. Every test uses its own
usernames and a documentation address (RFC 5737) as REMOTE_ADDR, so no count it leaves in a
shared cache can throttle another test.
"""

import json
import uuid

import pytest
import schemathesis

from audit.models import RequestLog
from kstack_naguan.api import codes

from ..conftest import api_client_for
from ..factories import DEFAULT_PASSWORD, UserFactory
from .conftest import record_figure

pytestmark = pytest.mark.django_db

LOGIN = "/api/auth/login"


@pytest.fixture
def strict_login(settings):
    """Three failures per username, five per address, per fifteen minutes."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "login": "1000/min",
            "login_user_failures": "3/15m",
            "login_address_failures": "5/15m",
        },
    }


def _address():
    return f"203.0.113.{uuid.uuid4().int % 250 + 1}"


def _login(client, username, password, address, **headers):
    return client.post(
        LOGIN,
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
        **headers,
    )


def _assert_throttled(response):
    body = response.json()
    assert response.status_code == 429, body
    assert body["code"] == codes.THROTTLED.number
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    return retry_after


def test_login_throttled_per_username_after_repeated_failures(anon_api, strict_login):
    user = UserFactory(username=f"victim-{uuid.uuid4().hex[:8]}")

    # Three wrong passwords, each from another address: the username's history fills up.
    for _ in range(3):
        response = _login(anon_api, user.username, "wrong-password", _address())
        assert response.json()["code"] == codes.LOGIN_BAD_PASSWORD.number

    # Now even the right password, from a fresh address, and in other letter case, is refused.
    retry_after = _assert_throttled(_login(anon_api, user.username, DEFAULT_PASSWORD, _address()))
    _assert_throttled(_login(anon_api, user.username.upper(), DEFAULT_PASSWORD, _address()))

    # Another account is not affected.
    other = UserFactory(username=f"bystander-{uuid.uuid4().hex[:8]}")
    response = _login(anon_api, other.username, DEFAULT_PASSWORD, _address())
    assert response.json()["code"] == codes.LOGIN_OK.number
    record_figure("login_throttle_user", failures_allowed=3, retry_after_s=retry_after)


def test_login_success_clears_the_username_failures(anon_api, strict_login):
    user = UserFactory(username=f"typo-{uuid.uuid4().hex[:8]}")
    for _round in range(2):
        for _ in range(2):
            _login(anon_api, user.username, "wrong-password", _address())
        response = _login(anon_api, user.username, DEFAULT_PASSWORD, _address())
        assert response.json()["code"] == codes.LOGIN_OK.number


def test_old_password_guesses_at_a_password_change_are_throttled_per_user(settings):
    """A stolen access token must not become unlimited guesses at the old password."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "password_change_failures": "3/15m",
        },
    }
    user = UserFactory(username=f"stolen-{uuid.uuid4().hex[:8]}")
    client = api_client_for(user)
    new = "Brand-New-Pass-4711"

    def change(old):
        return client.post(
            "/api/users/me/password", {"old_password": old, "new_password": new}, format="json"
        )

    for attempt in range(3):
        assert change(f"guess-{attempt}").json()["code"] == codes.USER_UPDATE_ERROR.number
    retry_after = _assert_throttled(change(DEFAULT_PASSWORD))  # even the right one, now
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)

    other = UserFactory(username=f"bystander-{uuid.uuid4().hex[:8]}")
    response = api_client_for(other).post(
        "/api/users/me/password",
        {"old_password": DEFAULT_PASSWORD, "new_password": new},
        format="json",
    )
    assert response.json()["code"] == codes.PASSWORD_CHANGED.number
    record_figure("password_change_throttle", failures_allowed=3, retry_after_s=retry_after)


def test_login_throttled_per_address_after_repeated_failures(anon_api, strict_login):
    address = _address()
    user = UserFactory(username=f"real-{uuid.uuid4().hex[:8]}")

    # Five guesses at five unknown usernames from one address.
    for n in range(5):
        response = _login(anon_api, f"guess-{n}-{uuid.uuid4().hex[:6]}", "x", address)
        assert response.json()["code"] == codes.LOGIN_NO_USER.number

    # The address is refused, even for a real account and with a forged X-Forwarded-For.
    _assert_throttled(_login(anon_api, user.username, DEFAULT_PASSWORD, address))
    forged = _login(
        anon_api, user.username, DEFAULT_PASSWORD, address, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    _assert_throttled(forged)

    # Another address still logs in.
    response = _login(anon_api, user.username, DEFAULT_PASSWORD, _address())
    assert response.json()["code"] == codes.LOGIN_OK.number


def test_login_throttle_defaults_are_set_for_production():
    from kstack_naguan import settings as production

    rates = production.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["login_user_failures"] == "5/15m"
    assert rates["login_address_failures"] == "20/15m"
    assert production.REST_FRAMEWORK["NUM_PROXIES"] == 0


@pytest.mark.parametrize(
    ("method", "path", "signed_in"),
    [
        ("post", LOGIN, False),
        ("post", "/api/users/", True),
        ("post", "/api/roles/", True),
        ("post", "/api/platforms/", True),
        ("post", "/api/menus/", True),
        ("post", "/api/vcenter/vms/", True),
    ],
)
def test_oversized_json_body_is_refused_with_910(api, anon_api, method, path, signed_in):
    client = api if signed_in else anon_api
    body = json.dumps({"username": "x", "name": "y", "pad": "x" * (3 * 1024 * 1024)})
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 413, response.content[:200]
    assert response.json()["code"] == codes.REQUEST_TOO_LARGE.number


def test_page_size_is_capped_at_200_on_every_list(admin_user, api, wsgi_app):
    RequestLog.objects.bulk_create(
        RequestLog(method="GET", path="/api/x", status=200, duration_ms=1, request_id="r")
        for _ in range(250)
    )
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    lists = [
        op.path
        for op in (result.ok() for result in schema.get_all_operations())
        if op.method == "get"
        and "{" not in op.path
        and any(p.name == "page_size" for p in op.query)
    ]
    assert len(lists) >= 10

    for path in lists:
        response = api.get(path, {"page_size": 100000})
        data = response.json()["data"]
        assert response.status_code == 200, (path, data)
        assert data["page_size"] == 200, path
        assert len(data["results"]) <= 200, path
    full = api.get("/api/logs/requests/", {"page_size": 100000}).json()["data"]
    assert full["count"] > 250 and len(full["results"]) == 200
    record_figure("page_size_cap", lists_checked=len(lists), largest_page=len(full["results"]))


LISTS = {
    "/api/vcenter/vms": codes.VM_QUERY_FAILED,
    "/api/users/": codes.USER_QUERY_FAILED,
    "/api/logs/requests/": codes.REQUEST_LOG_QUERY_FAILED,
    "/api/vcenter/datastores": codes.DATASTORE_BAD_PARAMS,
    "/api/platforms/": codes.PLATFORM_QUERY_FAILED,
    "/api/roles/": None,
}


@pytest.mark.parametrize("path", list(LISTS))
@pytest.mark.parametrize("param", ["search", "name"])
def test_overlong_search_or_filter_value_is_a_bad_filter_not_a_500(admin_user, api, path, param):
    """SQLite refuses LIKE patterns past 50,000 bytes (a 500 before); no term is that long."""
    response = api.get(path, {param: "a" * 60_000})
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    expected = LISTS[path] or codes.INVALID_INPUT
    assert body["code"] == expected.number
    assert body["data"]["errors"][param] == ["At most 1000 characters."]
    assert api.get(path, {param: "a" * 1000}).status_code == 200


def test_overlong_login_name_is_an_unknown_user_not_a_500(anon_api):
    response = anon_api.post(
        "/api/auth/login", {"username": "a" * 50_001, "password": "x"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == codes.LOGIN_NO_USER.number


@pytest.mark.parametrize(
    ("path", "param", "code"),
    [
        ("/api/users/", "role", codes.USER_QUERY_FAILED),
        ("/api/user-roles/", "role", codes.USER_ROLE_QUERY_FAILED),
        ("/api/roles/", "user", codes.INVALID_INPUT),
        ("/api/vcenter/datastores", "platform", codes.DATASTORE_BAD_PARAMS),
    ],
)
@pytest.mark.parametrize("value", ["9223372036854775808", "99999999999999999999999", "-1", "1.5"])
def test_related_id_filter_out_of_range_is_a_bad_filter_not_a_500(api, path, param, code, value):
    """SQLite overflows on an integer past 64 bits (an OverflowError, a 500 before)."""
    response = api.get(path, {param: value})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == code.number
