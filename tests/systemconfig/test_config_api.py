"""`/api/system-config/`: get, create and update the one configuration row (1600-1631)."""

import pytest

from audit.models import EventLog
from kstack_naguan.api import codes
from systemconfig.models import SystemConfig
from tests.conftest import api_client_for, failing_sql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/system-config/"


@pytest.fixture
def config(db):
    return SystemConfig.objects.create(name="Naguan Lab", footer="© Lab", log_retention_days=30)


def test_get_config_returns_1630(api, config):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.CONFIG_QUERY_OK.number
    assert body["data"]["name"] == "Naguan Lab"
    assert body["data"]["footer"] == "© Lab"
    assert body["data"]["log_retention_days"] == 30
    assert body["data"]["logo"] is None
    assert api.get("/api/system-config").json()["code"] == codes.CONFIG_QUERY_OK.number


def test_get_config_before_one_exists_returns_1631(api):
    response = api.get(URL)
    assert response.status_code == 404
    assert response.json()["code"] == codes.CONFIG_NOT_FOUND.number


def test_create_config_returns_1600_and_writes_event(api):
    payload = {"name": "纳管平台", "footer": "© 2025", "debug": True, "sync_interval_minutes": 15}
    response = api.post(URL, payload, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.CONFIG_CREATED.number
    assert body["data"]["name"] == "纳管平台"
    config = SystemConfig.objects.get()
    assert (config.debug, config.sync_interval_minutes, config.log_retention_days) == (True, 15, 90)
    event = EventLog.objects.get(object_type="systemconfig.SystemConfig")
    assert event.action == "create" and event.after["name"] == "纳管平台"


def test_create_second_config_is_refused(api, config):
    response = api.post(URL, {"name": "Another"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.ALREADY_EXISTS.number
    assert "already exists" in body["data"]["detail"]
    assert SystemConfig.objects.count() == 1


@pytest.mark.parametrize("debug", ["yes", 1, 0, None, "", [True], {"on": True}, "2"])
def test_create_config_with_non_boolean_debug_returns_1601(api, debug):
    response = api.post(URL, {"name": "X", "debug": debug}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.CONFIG_BAD_DEBUG.number
    assert "debug" in body["data"]["errors"]
    assert not SystemConfig.objects.exists()


def test_create_config_accepts_debug_as_words_in_a_form(api):
    response = api.post(URL, {"name": "Form", "debug": "True"})
    assert response.status_code == 201
    assert SystemConfig.objects.get().debug is True


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 65}, "name"),
        ({"sync_interval_minutes": -1}, "sync_interval_minutes"),
        ({"log_retention_days": 10**9}, "log_retention_days"),
        ({"log_retention_days": "soon"}, "log_retention_days"),
        ({"theme": "dark"}, "theme"),
    ],
)
def test_create_config_with_other_bad_fields_returns_908(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.INVALID_INPUT.number
    assert field in body["data"]["errors"]
    assert not SystemConfig.objects.exists()


def test_create_config_when_database_fails_returns_1602(api):
    """The INSERT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    with failing_sql(r'INSERT INTO "systemconfig_systemconfig"'):
        response = api.post(URL, {"name": "Doomed"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.CONFIG_CREATE_DB_ERROR.number
    assert not SystemConfig.objects.exists()


def test_update_config_returns_1610_and_writes_event(api, config):
    response = api.patch(URL, {"name": "Renamed", "debug": False, "log_retention_days": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.CONFIG_UPDATED.number
    assert body["data"]["name"] == "Renamed"
    config.refresh_from_db()
    assert (config.name, config.log_retention_days) == ("Renamed", 7)
    event = EventLog.objects.get(action="update")
    assert event.before["name"] == "Naguan Lab" and event.after["name"] == "Renamed"
    assert event.message == "changed: log_retention_days, name"


def test_put_config_replaces_the_fields(api, config):
    payload = {"name": "Put", "footer": "", "debug": True}
    response = api.put(URL, payload, format="json")
    assert response.status_code == 200
    config.refresh_from_db()
    assert (config.name, config.footer, config.debug) == ("Put", "", True)


def test_update_config_before_one_exists_returns_1611(api):
    response = api.patch(URL, {"name": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.CONFIG_UPDATE_NOT_FOUND.number
    assert not SystemConfig.objects.exists()


def test_update_config_with_non_boolean_debug_returns_1601(api, config):
    response = api.patch(URL, {"debug": "maybe"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.CONFIG_BAD_DEBUG.number
    config.refresh_from_db()
    assert config.debug is False


@pytest.mark.parametrize("payload", [{}, {"id": 9}, {"colour": "red"}, ["name"]])
def test_update_config_with_nothing_to_change_returns_908(api, config, payload):
    response = api.patch(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number


def test_update_config_when_database_fails_returns_1612(api, config):
    """The UPDATE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    with failing_sql(r'UPDATE "systemconfig_systemconfig"'):
        response = api.patch(URL, {"name": "Lost"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.CONFIG_UPDATE_DB_ERROR.number
    config.refresh_from_db()
    assert config.name == "Naguan Lab"
    assert not EventLog.objects.filter(action="update").exists()


def test_config_obeys_model_permissions(config):
    viewer = UserFactory()
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_systemconfig"))
    client = api_client_for(viewer)
    assert client.get(URL).status_code == 200
    refused = client.patch(URL, {"name": "Mine"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == codes.PERMISSION_DENIED.number
    assert api_client_for(UserFactory()).get(URL).status_code == 403
    assert api_client_for(None).get(URL).status_code == 401
    config.refresh_from_db()
    assert config.name == "Naguan Lab"
