"""Cloud platforms through `/api/platforms/`: CRUD codes 1500-1531, the write-only password."""

import pytest
from django.db import connection

from audit.models import EventLog
from kstack_naguan import crypto
from kstack_naguan.api import codes
from platforms.models import CloudPlatform
from tests.conftest import api_client_for, failing_sql
from tests.factories import CloudPlatformFactory, PlatformTypeFactory, UserFactory
from vcenter import models as inventory
from vcenter import services as vcenter_services

pytestmark = pytest.mark.django_db

URL = "/api/platforms/"
SECRET = "Plat-Secret-一二三-42"


def _detail(pk):
    return f"{URL}{pk}"


def _payload(**overrides):
    data = {
        "name": "lab-vc",
        "platform_type": PlatformTypeFactory(name="vCenter").pk,
        "host": "vc.lab.example",
        "port": 443,
        "username": "administrator@vsphere.local",
        "password": SECRET,
        "verify_tls": True,
        "remarks": "机房 A",
    }
    data.update(overrides)
    return data


def _stored_ciphertext(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM platforms_cloudplatform WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_create_platform_returns_1500_without_the_password(api):
    response = api.post(URL, _payload(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.PLATFORM_CREATED.number
    assert "password" not in body["data"]
    assert body["data"]["has_password"] is True
    assert body["data"]["platform_type_name"] == "vCenter"
    assert SECRET not in response.content.decode()
    platform = CloudPlatform.objects.get(name="lab-vc")
    assert platform.password == SECRET
    assert platform.remarks == "机房 A"
    event = EventLog.objects.get(action="create", object_type="platforms.CloudPlatform")
    assert event.after["host"] == "vc.lab.example"
    assert event.after["has_password"] is True
    assert SECRET not in str(event.after)


def test_create_platform_stores_ciphertext_only(api):
    api.post(URL, _payload(), format="json")
    platform = CloudPlatform.objects.get(name="lab-vc")
    stored = _stored_ciphertext(platform.pk)
    assert SECRET not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert crypto.decrypt(stored) == SECRET


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": ""}, "password"),
        ({"password": None}, "password"),
        ({"platform_type": None}, "platform_type"),
        ({"platform_type": 999999}, "platform_type"),
        ({"platform_type": "abc"}, "platform_type"),
        ({"port": "https"}, "port"),
        ({"port": 0}, "port"),
        ({"port": 10**30}, "port"),
        ({"port": True}, "port"),
        ({"host": "https://vc.example/sdk"}, "host"),
        ({"host": "vc example"}, "host"),
        ({"host": ""}, "host"),
        ({"name": "n" * 65}, "name"),
        ({"protocol": "ftp"}, "protocol"),
        ({"password": "p" * 257}, "password"),
        ({"shoe_size": 44}, "shoe_size"),
    ],
)
def test_create_platform_with_bad_input_returns_1501(api, overrides, field):
    response = api.post(URL, _payload(**overrides), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PLATFORM_BAD_PARAMS.number
    assert field in body["data"]["errors"]
    assert not CloudPlatform.objects.exists()


def test_create_platform_from_non_object_body_returns_1501(api):
    for body in (["a"], "text", 42):
        response = api.post(URL, body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == codes.PLATFORM_BAD_PARAMS.number
    assert not CloudPlatform.objects.exists()


def test_create_platform_with_taken_name_returns_1502(api):
    CloudPlatformFactory(name="lab-vc")
    response = api.post(URL, _payload(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == codes.PLATFORM_NAME_EXISTS.number
    assert CloudPlatform.objects.filter(name="lab-vc").count() == 1


def test_create_platform_when_database_fails_returns_1503(api):
    """The INSERT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    with failing_sql(r'INSERT INTO "platforms_cloudplatform"'):
        response = api.post(URL, _payload(), format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_CREATE_DB_ERROR.number
    assert SECRET not in response.content.decode()
    assert not CloudPlatform.objects.exists()


def test_delete_platform_returns_1510_with_the_inventory_it_removed(api, platform):
    vcenter_services.start_sync(platform)
    counted = {
        model._meta.label: model.objects.filter(platform=platform).count()
        for model in (inventory.Datacenter, inventory.Host, inventory.VirtualMachine)
    }
    assert counted["vcenter.VirtualMachine"] > 0
    response = api.delete(_detail(platform.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.PLATFORM_DELETED.number
    deleted = body["data"]["deleted"]
    assert deleted["platforms.CloudPlatform"] == 1
    for label, count in counted.items():
        assert deleted[label] == count
    assert body["data"]["total"] == sum(deleted.values())
    assert not CloudPlatform.objects.filter(pk=platform.pk).exists()
    assert not inventory.VirtualMachine.objects.exists()
    assert not inventory.Datacenter.objects.exists()
    event = EventLog.objects.get(action="delete", object_type="platforms.CloudPlatform")
    assert event.object_id == str(platform.pk) and event.object_repr == "sim"
    assert event.after["deleted"]["vcenter.VirtualMachine"] == counted["vcenter.VirtualMachine"]


def test_delete_unknown_platform_returns_1511(api):
    response = api.delete(_detail(424242))
    assert response.status_code == 404
    assert response.json()["code"] == codes.PLATFORM_DELETE_NOT_FOUND.number


def test_delete_platform_when_database_fails_returns_1512(api):
    """The DELETE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    platform = CloudPlatformFactory()
    with failing_sql(r'DELETE FROM "platforms_cloudplatform"'):
        response = api.delete(_detail(platform.pk))
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_DELETE_DB_ERROR.number
    assert CloudPlatform.objects.filter(pk=platform.pk).exists()
    assert not EventLog.objects.filter(action="delete").exists()


def test_update_platform_returns_1520_and_keeps_password_when_absent(api):
    platform = CloudPlatformFactory(name="old", password=SECRET, verify_tls=False)
    body = {"name": "new", "username": "ops@vsphere.local", "verify_tls": True, "password": ""}
    response = api.patch(_detail(platform.pk), body, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.PLATFORM_UPDATED.number
    assert body["data"]["name"] == "new" and body["data"]["verify_tls"] is True
    assert "password" not in body["data"]
    platform.refresh_from_db()
    assert (platform.name, platform.username, platform.password) == (
        "new",
        "ops@vsphere.local",
        SECRET,
    )
    event = EventLog.objects.get(action="update")
    assert event.before["name"] == "old" and event.after["name"] == "new"
    assert event.message == "changed: name, username, verify_tls"


@pytest.mark.parametrize(
    "change",
    [
        {"host": "listener.example.test"},
        {"port": 38999},
        {"protocol": "http"},
        {"verify_tls": False},
    ],
    ids=["host", "port", "protocol", "tls-off"],
)
def test_update_platform_endpoint_without_the_password_returns_1524(api, change):
    """Pointing a platform elsewhere while keeping its password would let whoever may edit
    platforms read it off the next connection test: the password must come again."""
    platform = CloudPlatformFactory(
        host="vc.example.test", port=443, protocol="https", verify_tls=True, password=SECRET
    )
    response = api.patch(_detail(platform.pk), change, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PLATFORM_UPDATE_BAD_PARAMS.number
    assert list(body["data"]["errors"]) == ["password"]
    platform.refresh_from_db()
    assert (platform.host, platform.port, platform.protocol, platform.verify_tls) == (
        "vc.example.test",
        443,
        "https",
        True,
    )
    assert not EventLog.objects.filter(action="update").exists()

    response = api.patch(_detail(platform.pk), {**change, "password": "new-one"}, format="json")
    assert response.json()["code"] == codes.PLATFORM_UPDATED.number
    platform.refresh_from_db()
    assert platform.password == "new-one"


def test_update_platform_changes_password_and_says_so_without_showing_it(api):
    platform = CloudPlatformFactory(password="first-one")
    old_cipher = _stored_ciphertext(platform.pk)
    response = api.patch(_detail(platform.pk), {"password": SECRET}, format="json")
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    platform.refresh_from_db()
    assert platform.password == SECRET
    assert _stored_ciphertext(platform.pk) != old_cipher
    event = EventLog.objects.get(action="update")
    assert event.message == "changed: password"
    assert SECRET not in str(event.before) + str(event.after) + event.message


def test_put_platform_replaces_the_fields(api):
    platform = CloudPlatformFactory(name="full")
    payload = _payload(name="full", host="10.0.0.5", port=443, password="new-one")
    response = api.put(_detail(platform.pk), payload, format="json")
    assert response.status_code == 200
    platform.refresh_from_db()
    assert (platform.host, platform.password) == ("10.0.0.5", "new-one")


def test_update_unknown_platform_returns_1521(api):
    response = api.patch(_detail(424242), {"name": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.PLATFORM_UPDATE_NOT_FOUND.number


def test_update_platform_when_database_fails_returns_1522(api):
    """The UPDATE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    platform = CloudPlatformFactory(name="steady", password=SECRET)
    with failing_sql(r'UPDATE "platforms_cloudplatform"'):
        response = api.patch(_detail(platform.pk), {"name": "moved"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_UPDATE_DB_ERROR.number
    platform.refresh_from_db()
    assert platform.name == "steady"
    assert not EventLog.objects.filter(action="update").exists()


@pytest.mark.parametrize("value", [None, ""])
def test_update_platform_with_empty_type_returns_1523(api, value):
    platform = CloudPlatformFactory()
    response = api.patch(_detail(platform.pk), {"platform_type": value}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.PLATFORM_TYPE_EMPTY.number
    assert "platform_type" in response.json()["data"]["errors"]
    platform.refresh_from_db()
    assert platform.platform_type_id is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "non_field_errors"),
        ({"has_password": False}, "non_field_errors"),
        ({"port": 70000}, "port"),
        ({"port": "x"}, "port"),
        ({"platform_type": 999999}, "platform_type"),
        ({"verify_tls": "maybe"}, "verify_tls"),
        ({"host": "a/b"}, "host"),
        ({"favourite": "colour"}, "favourite"),
    ],
)
def test_update_platform_with_bad_fields_returns_1524(api, payload, field):
    platform = CloudPlatformFactory(name="unchanged", port=443)
    response = api.patch(_detail(platform.pk), payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PLATFORM_UPDATE_BAD_PARAMS.number
    assert field in body["data"]["errors"]
    platform.refresh_from_db()
    assert (platform.name, platform.port) == ("unchanged", 443)


def test_update_platform_to_taken_name_returns_1502(api):
    CloudPlatformFactory(name="taken")
    platform = CloudPlatformFactory(name="mine")
    response = api.patch(_detail(platform.pk), {"name": "taken"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == codes.PLATFORM_NAME_EXISTS.number


def test_list_platforms_returns_1530_with_filters(api, django_assert_max_num_queries):
    other_type = PlatformTypeFactory(name="Other")
    CloudPlatformFactory(name="alpha", host="a.example", password=SECRET)
    CloudPlatformFactory(name="beta", host="b.example", is_active=False)
    CloudPlatformFactory(name="gamma", platform_type=other_type)
    # user, count, page (types joined); the request log's INSERT in a savepoint
    with django_assert_max_num_queries(6):
        response = api.get(URL)
    body = response.json()
    assert body["code"] == codes.PLATFORM_QUERY_OK.number
    assert [p["name"] for p in body["data"]["results"]] == ["alpha", "beta", "gamma"]
    assert all("password" not in p for p in body["data"]["results"])
    assert SECRET not in response.content.decode()

    def names(**params):
        return [p["name"] for p in api.get(URL, params).json()["data"]["results"]]

    assert names(is_active="false") == ["beta"]
    assert names(platform_type=other_type.pk) == ["gamma"]
    assert names(platform_type_name="vCenter") == ["alpha", "beta"]
    assert names(host="b.exa") == ["beta"]
    assert names(search="alp") == ["alpha"]
    assert names(ordering="-name") == ["gamma", "beta", "alpha"]


def test_get_platform_returns_1530(api):
    platform = CloudPlatformFactory(name="one")
    body = api.get(_detail(platform.pk)).json()
    assert body["code"] == codes.PLATFORM_QUERY_OK.number
    assert body["data"]["name"] == "one"
    assert body["data"]["has_password"] is True


def test_get_unknown_platform_returns_1531(api):
    for pk in ("424242", "not-a-number", "9" * 25):
        response = api.get(_detail(pk))
        assert response.status_code == 404
        assert response.json()["code"] == codes.PLATFORM_QUERY_FAILED.number


@pytest.mark.parametrize("value", ["abc", "9" * 25, "1.5", "-3"])
def test_list_platforms_with_bad_filter_returns_1531(api, value):
    response = api.get(URL, {"platform_type": value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PLATFORM_QUERY_FAILED.number
    assert "platform_type" in body["data"]["errors"]


def test_list_platforms_when_database_fails_returns_1531(api):
    """The SELECT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    CloudPlatformFactory()
    with failing_sql(r'FROM "platforms_cloudplatform"'):
        response = api.get(URL)
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_QUERY_FAILED.number


def test_platforms_obey_model_permissions(db):
    platform = CloudPlatformFactory(name="guarded")
    viewer = UserFactory()
    viewer.user_permissions.add(*_perms("view_cloudplatform"))
    client = api_client_for(viewer)
    assert client.get(URL).json()["data"]["count"] == 1
    response = client.patch(_detail(platform.pk), {"name": "hacked"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == codes.PERMISSION_DENIED.number
    assert client.delete(_detail(platform.pk)).status_code == 403
    assert client.post(f"{_detail(platform.pk)}/test-connection").status_code == 403
    platform.refresh_from_db()
    assert platform.name == "guarded"
    assert api_client_for(None).get(URL).status_code == 401


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="platforms", codename__in=codenames)
