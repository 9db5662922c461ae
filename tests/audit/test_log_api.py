"""`/api/logs/requests/`, `/api/logs/events/`, `/api/logs/tasks/`: read and delete (1710-1931)."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from audit.models import EventLog, RequestLog, TaskLog
from kstack_naguan.api import codes
from tests.conftest import api_client_for, failing_sql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@dataclass
class Log:
    url: str
    model: type
    table: str
    query_ok: codes.Code
    query_failed: codes.Code
    not_found: codes.Code
    deleted: codes.Code
    delete_error: codes.Code

    def make(self, **fields):
        return _MAKERS[self.model](**fields)


def _request_log(**fields):
    values = {"method": "GET", "path": "/api/x", "status": 200, "duration_ms": 3, "request_id": "r"}
    return RequestLog.objects.create(**{**values, **fields})


def _event_log(**fields):
    values = {"action": "update", "object_type": "platforms.CloudPlatform", "object_id": "1"}
    return EventLog.objects.create(**{**values, **fields})


def _task_log(**fields):
    return TaskLog.objects.create(**{"name": "vcenter.sync", "status": "success", **fields})


_MAKERS = {RequestLog: _request_log, EventLog: _event_log, TaskLog: _task_log}

LOGS = {
    "requests": Log(
        "/api/logs/requests/",
        RequestLog,
        "audit_requestlog",
        codes.REQUEST_LOG_QUERY_OK,
        codes.REQUEST_LOG_QUERY_FAILED,
        codes.REQUEST_LOG_NOT_FOUND,
        codes.REQUEST_LOG_DELETED,
        codes.REQUEST_LOG_DELETE_ERROR,
    ),
    "events": Log(
        "/api/logs/events/",
        EventLog,
        "audit_eventlog",
        codes.EVENT_LOG_QUERY_OK,
        codes.EVENT_LOG_QUERY_FAILED,
        codes.EVENT_LOG_NOT_FOUND,
        codes.EVENT_LOG_DELETED,
        codes.EVENT_LOG_DELETE_ERROR,
    ),
    "tasks": Log(
        "/api/logs/tasks/",
        TaskLog,
        "audit_tasklog",
        codes.TASK_LOG_QUERY_OK,
        codes.TASK_LOG_QUERY_FAILED,
        codes.TASK_LOG_NOT_FOUND,
        codes.TASK_LOG_DELETED,
        codes.TASK_LOG_DELETE_ERROR,
    ),
}


@pytest.fixture(params=sorted(LOGS))
def log(request):
    return LOGS[request.param]


def _ids(response):
    return [row["id"] for row in response.json()["data"]["results"]]


# Reads: x30, x31


def test_list_logs_returns_x30_newest_first(api, log, django_assert_max_num_queries):
    rows = [log.make() for _ in range(3)]
    # user, count, page; the request log's INSERT in a savepoint inside the test's transaction
    with django_assert_max_num_queries(6):
        response = api.get(log.url, {"page_size": 50})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == log.query_ok.number
    listed = [row for row in _ids(response) if row in {r.pk for r in rows}]
    assert listed == [r.pk for r in reversed(rows)]


def test_get_log_returns_x30(api, log):
    row = log.make()
    response = api.get(f"{log.url}{row.pk}")
    assert response.status_code == 200
    assert response.json()["code"] == log.query_ok.number
    assert response.json()["data"]["id"] == row.pk


def test_get_unknown_log_returns_x11(api, log):
    for pk in ("987654", "abc", "9" * 25):
        response = api.get(f"{log.url}{pk}")
        assert response.status_code == 404
        assert response.json()["code"] == log.not_found.number


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "yesterday"},
        {"created_before": "2024-13-45"},
        {"user": "me"},
        {"user": "9" * 25},
        {"user": "1.5"},
    ],
)
def test_list_logs_with_bad_filter_returns_x31(api, log, params):
    response = api.get(log.url, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == log.query_failed.number
    assert set(params) <= set(body["data"]["errors"])


def test_list_logs_when_database_fails_returns_x31(api, log):
    """The SELECT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    log.make()
    with failing_sql(f'FROM "{log.table}"'):
        response = api.get(log.url)
    assert response.status_code == 500
    assert response.json()["code"] == log.query_failed.number


def test_get_log_when_database_fails_returns_x31(api, log):
    """The SELECT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    row = log.make()
    with failing_sql(f'FROM "{log.table}"'):
        response = api.get(f"{log.url}{row.pk}")
    assert response.status_code == 500
    assert response.json()["code"] == log.query_failed.number


def test_list_logs_filters_by_time_range_and_user(api, log, admin_user):
    old, new = log.make(), log.make(user=admin_user)
    log.model.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    after = _ids(api.get(log.url, {"created_after": since, "page_size": 200}))
    assert new.pk in after and old.pk not in after
    before = _ids(api.get(log.url, {"created_before": since}))
    assert before == [old.pk]
    by_user = _ids(api.get(log.url, {"user": admin_user.pk, "page_size": 200}))
    assert new.pk in by_user and old.pk not in by_user


def test_list_request_logs_filters_by_status_method_and_path(api):
    ok = _request_log(method="GET", path="/api/platforms/", status=200)
    bad = _request_log(method="POST", path="/api/platforms/", status=409, code=1502)
    _request_log(method="DELETE", path="/api/users/3", status=404)

    def ids(**params):
        return set(_ids(api.get("/api/logs/requests/", {**params, "page_size": 200})))

    assert ids(status=409) == {bad.pk}
    assert ids(method="post") == {bad.pk}
    assert ids(path="platforms", status_max=299) >= {ok.pk}
    assert bad.pk not in ids(path="platforms", status_max=299)
    assert ids(status_min=400, code=1502) == {bad.pk}


def test_list_event_logs_filters_by_object_and_action(api):
    mine = _event_log(action="delete", object_type="platforms.CloudPlatform", object_id="7")
    _event_log(action="delete", object_type="platforms.CloudPlatform", object_id="8")
    _event_log(action="create", object_type="platforms.CloudPlatform", object_id="7")
    params = {"object_type": "platforms.cloudplatform", "object_id": "7", "action": "delete"}
    assert _ids(api.get("/api/logs/events/", params)) == [mine.pk]


def test_list_task_logs_filters_by_status_and_name(api):
    running = _task_log(status="running", name="vcenter.clone")
    _task_log(status="success", name="vcenter.clone")
    _task_log(status="running", name="vcenter.sync")
    params = {"status": "running", "name": "vcenter.clone"}
    assert _ids(api.get("/api/logs/tasks/", params)) == [running.pk]
    bad = api.get("/api/logs/tasks/", {"status": "sleeping"})
    assert bad.status_code == 400
    assert bad.json()["code"] == codes.TASK_LOG_QUERY_FAILED.number


# Deletes: x10, x11, x12


def test_delete_log_returns_x10_and_records_who(api, log):
    row, other = log.make(), log.make()
    response = api.delete(f"{log.url}{row.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == log.deleted.number
    assert body["data"] == {"deleted": 1, "ids": [row.pk]}
    assert not log.model.objects.filter(pk=row.pk).exists()
    assert log.model.objects.filter(pk=other.pk).exists()
    trace = EventLog.objects.filter(action="delete", object_type=log.model._meta.label).get()
    assert trace.username == "admin" and trace.after["ids"] == [row.pk]


def test_delete_unknown_log_returns_x11(api, log):
    response = api.delete(f"{log.url}987654")
    assert response.status_code == 404
    assert response.json()["code"] == log.not_found.number


def test_delete_log_when_database_fails_returns_x12(api, log):
    """The DELETE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    row = log.make()
    with failing_sql(f'DELETE FROM "{log.table}"'):
        response = api.delete(f"{log.url}{row.pk}")
    assert response.status_code == 500
    assert response.json()["code"] == log.delete_error.number
    assert log.model.objects.filter(pk=row.pk).exists()


def test_bulk_delete_logs_returns_x10(api, log):
    rows = [log.make() for _ in range(3)]
    ids = [rows[0].pk, rows[2].pk, rows[0].pk]
    response = api.post(f"{log.url}bulk-delete", {"ids": ids}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == log.deleted.number
    assert body["data"] == {"deleted": 2, "ids": sorted({rows[0].pk, rows[2].pk})}
    remaining = set(log.model.objects.values_list("pk", flat=True))
    assert rows[1].pk in remaining and not {rows[0].pk, rows[2].pk} & remaining


def test_bulk_delete_logs_with_unknown_id_returns_x11_and_deletes_nothing(api, log):
    row = log.make()
    response = api.post(f"{log.url}bulk-delete", {"ids": [row.pk, 987654]}, format="json")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == log.not_found.number
    assert body["data"]["missing"] == [987654]
    assert log.model.objects.filter(pk=row.pk).exists()


def test_bulk_delete_logs_when_database_fails_returns_x12(api, log):
    """The DELETE is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    rows = [log.make(), log.make()]
    with failing_sql(f'DELETE FROM "{log.table}"'):
        response = api.post(f"{log.url}bulk-delete", {"ids": [r.pk for r in rows]}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == log.delete_error.number
    assert log.model.objects.filter(pk__in=[r.pk for r in rows]).count() == 2


@pytest.mark.parametrize(
    "payload",
    [{}, {"ids": []}, {"ids": "1,2"}, {"ids": [0]}, {"ids": ["x"]}, {"ids": [2**70]}, [1, 2]],
)
def test_bulk_delete_logs_with_bad_body_returns_908(api, log, payload):
    row = log.make()
    response = api.post(f"{log.url}bulk-delete", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == codes.INVALID_INPUT.number
    assert log.model.objects.filter(pk=row.pk).exists()


def test_bulk_delete_logs_caps_the_number_of_ids(api, log):
    response = api.post(f"{log.url}bulk-delete", {"ids": list(range(1, 1002))}, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()["data"]["errors"]


@pytest.mark.parametrize("status", ["pending", "running"])
def test_delete_unfinished_task_log_is_refused_with_911(api, status):
    unfinished, done = _task_log(status=status), _task_log(status="failure")
    response = api.delete(f"/api/logs/tasks/{unfinished.pk}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == codes.CONFLICT.number
    assert body["data"]["unfinished"] == [unfinished.pk]
    bulk = api.post("/api/logs/tasks/bulk-delete", {"ids": [done.pk, unfinished.pk]}, format="json")
    assert bulk.status_code == 409
    assert TaskLog.objects.filter(pk__in=[unfinished.pk, done.pk]).count() == 2


# Permissions


def test_logs_need_view_and_delete_permissions(log):
    row = log.make()
    opts = log.model._meta
    viewer = UserFactory()
    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="audit", codename=f"view_{opts.model_name}")
    )
    client = api_client_for(viewer)
    assert client.get(f"{log.url}{row.pk}").status_code == 200
    refused = client.delete(f"{log.url}{row.pk}")
    assert refused.status_code == 403
    assert refused.json()["code"] == codes.PERMISSION_DENIED.number
    bulk = client.post(f"{log.url}bulk-delete", {"ids": [row.pk]}, format="json")
    assert bulk.status_code == 403
    assert log.model.objects.filter(pk=row.pk).exists()
    assert api_client_for(UserFactory()).get(log.url).status_code == 403
    assert api_client_for(None).get(log.url).status_code == 401
