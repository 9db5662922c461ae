"""Platform types through `/api/platform-types/`: codes 1500-1531 as the types answer them."""

import pytest

from audit.models import EventLog
from kstack_naguan.api import codes
from platforms.models import PlatformType
from tests.conftest import api_client_for, failing_sql
from tests.factories import CloudPlatformFactory, PlatformTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/platform-types/"


def _detail(pk):
    return f"{URL}{pk}"


def test_create_platform_type_returns_1500_and_writes_event(api):
    response = api.post(URL, {"name": "OpenStack", "description": "lab"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == codes.PLATFORM_CREATED.number
    assert body["data"]["name"] == "OpenStack"
    assert body["data"]["platform_count"] == 0
    created = PlatformType.objects.get(name="OpenStack")
    event = EventLog.objects.get(action="create", object_type="platforms.PlatformType")
    assert event.object_id == str(created.pk)
    assert event.after == {"name": "OpenStack", "description": "lab"}
    assert event.username == "admin"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "x" * 65},
        {"name": ["list"]},
        {"name": "ok", "colour": "red"},
        ["not", "an", "object"],
    ],
)
def test_create_platform_type_with_bad_input_returns_1501(api, payload):
    before = PlatformType.objects.count()
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == codes.PLATFORM_BAD_PARAMS.number
    assert body["data"]["errors"]
    assert PlatformType.objects.count() == before


def test_create_platform_type_with_taken_name_returns_1502(api):
    PlatformTypeFactory(name="vCenter")
    response = api.post(URL, {"name": "vCenter"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == codes.PLATFORM_NAME_EXISTS.number
    assert "name" in response.json()["data"]["errors"]
    assert PlatformType.objects.filter(name="vCenter").count() == 1


def test_create_platform_type_when_database_fails_returns_1503(api):
    """The INSERT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    with failing_sql(r'INSERT INTO "platforms_platformtype"'):
        response = api.post(URL, {"name": "Nutanix"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_CREATE_DB_ERROR.number
    assert not PlatformType.objects.filter(name="Nutanix").exists()
    assert not EventLog.objects.filter(object_type="platforms.PlatformType").exists()


def test_delete_platform_type_returns_1510(api):
    platform_type = PlatformTypeFactory(name="Unused")
    response = api.delete(_detail(platform_type.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.PLATFORM_DELETED.number
    assert body["data"] == {"id": platform_type.pk, "name": "Unused"}
    assert not PlatformType.objects.filter(pk=platform_type.pk).exists()
    event = EventLog.objects.get(action="delete", object_type="platforms.PlatformType")
    assert event.object_id == str(platform_type.pk)
    assert event.before["name"] == "Unused"


def test_delete_unknown_platform_type_returns_1511(api):
    response = api.delete(_detail(999999))
    assert response.status_code == 404
    assert response.json()["code"] == codes.PLATFORM_DELETE_NOT_FOUND.number


def test_delete_platform_type_in_use_is_refused_with_912(api):
    platform = CloudPlatformFactory(name="prod-vc")
    response = api.delete(_detail(platform.platform_type_id))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.IN_USE.number
    assert body["data"]["platforms"] == ["prod-vc"]
    assert "prod-vc" not in body["data"]["detail"] and "used by" in body["data"]["detail"]
    assert PlatformType.objects.filter(pk=platform.platform_type_id).exists()


def test_delete_platform_type_when_database_fails_returns_1512(api):
    """The DELETE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    platform_type = PlatformTypeFactory(name="Doomed")
    with failing_sql(r'DELETE FROM "platforms_platformtype"'):
        response = api.delete(_detail(platform_type.pk))
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_DELETE_DB_ERROR.number
    assert PlatformType.objects.filter(pk=platform_type.pk).exists()


def test_update_platform_type_returns_1520(api):
    platform_type = PlatformTypeFactory(name="Old")
    CloudPlatformFactory(platform_type=platform_type)
    response = api.patch(_detail(platform_type.pk), {"name": "新名字"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == codes.PLATFORM_UPDATED.number
    assert body["data"]["name"] == "新名字"
    assert body["data"]["platform_count"] == 1
    platform_type.refresh_from_db()
    assert platform_type.name == "新名字"
    event = EventLog.objects.get(action="update", object_type="platforms.PlatformType")
    assert event.before["name"] == "Old" and event.after["name"] == "新名字"


def test_update_unknown_platform_type_returns_1521(api):
    response = api.patch(_detail(999999), {"name": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == codes.PLATFORM_UPDATE_NOT_FOUND.number


def test_update_platform_type_when_database_fails_returns_1522(api):
    """The UPDATE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    platform_type = PlatformTypeFactory(name="Stable")
    with failing_sql(r'UPDATE "platforms_platformtype"'):
        response = api.patch(_detail(platform_type.pk), {"name": "Changed"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_UPDATE_DB_ERROR.number
    platform_type.refresh_from_db()
    assert platform_type.name == "Stable"


@pytest.mark.parametrize("name", ["", "   ", None])
def test_update_platform_type_with_empty_name_returns_1523(api, name):
    platform_type = PlatformTypeFactory(name="Named")
    response = api.patch(_detail(platform_type.pk), {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.PLATFORM_TYPE_EMPTY.number
    platform_type.refresh_from_db()
    assert platform_type.name == "Named"


@pytest.mark.parametrize(
    "payload", [{}, {"colour": "red"}, {"description": "x" * 256}, ["list"], {"id": 5}]
)
def test_update_platform_type_with_bad_fields_returns_1524(api, payload):
    platform_type = PlatformTypeFactory(name="Kept", description="same")
    response = api.patch(_detail(platform_type.pk), payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.PLATFORM_UPDATE_BAD_PARAMS.number
    platform_type.refresh_from_db()
    assert (platform_type.name, platform_type.description) == ("Kept", "same")


def test_update_platform_type_to_taken_name_returns_1502(api):
    PlatformTypeFactory(name="Taken")
    platform_type = PlatformTypeFactory(name="Mine")
    response = api.put(_detail(platform_type.pk), {"name": "Taken"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == codes.PLATFORM_NAME_EXISTS.number
    platform_type.refresh_from_db()
    assert platform_type.name == "Mine"


def test_list_and_get_platform_types_return_1530(api, django_assert_max_num_queries):
    PlatformTypeFactory(name="vCenter")
    for name in ("a", "b", "c"):
        CloudPlatformFactory(name=name)
    # user, count, page; the request log's INSERT (in a savepoint inside the test's transaction)
    with django_assert_max_num_queries(6):
        response = api.get(URL, {"search": "vcent"})
    body = response.json()
    assert body["code"] == codes.PLATFORM_QUERY_OK.number
    assert [(t["name"], t["platform_count"]) for t in body["data"]["results"]] == [("vCenter", 3)]
    pk = body["data"]["results"][0]["id"]
    detail = api.get(_detail(pk)).json()
    assert detail["code"] == codes.PLATFORM_QUERY_OK.number
    assert detail["data"]["platform_count"] == 3


def test_get_unknown_platform_type_returns_1531(api):
    response = api.get(_detail(999999))
    assert response.status_code == 404
    assert response.json()["code"] == codes.PLATFORM_QUERY_FAILED.number


def test_list_platform_types_when_database_fails_returns_1531(api):
    """The SELECT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    with failing_sql(r'FROM "platforms_platformtype"'):
        response = api.get(URL)
    assert response.status_code == 500
    assert response.json()["code"] == codes.PLATFORM_QUERY_FAILED.number


def test_platform_types_need_model_permissions(db):
    PlatformTypeFactory(name="vCenter")
    anonymous = api_client_for(None).get(URL)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == codes.NOT_AUTHENTICATED.number
    nobody = api_client_for(UserFactory())
    assert nobody.get(URL).status_code == 403
    assert nobody.post(URL, {"name": "x"}, format="json").status_code == 403
    assert not PlatformType.objects.filter(name="x").exists()
