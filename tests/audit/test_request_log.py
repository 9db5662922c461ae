"""The request-log middleware: what a row holds, what it hides, and that it never gets in the way."""

import json
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from audit.middleware import REDACTED, redact, redact_query
from audit.models import RequestLog
from kstack_naguan.api import codes
from platforms.models import CloudPlatform
from tests.conftest import api_client_for, failing_sql
from tests.factories import DEFAULT_PASSWORD, CloudPlatformFactory, PlatformTypeFactory

pytestmark = pytest.mark.django_db


def test_request_log_row_holds_every_field(api, admin_user):
    response = api.get(
        "/api/platforms/",
        {"name": "lab", "page_size": "5"},
        HTTP_X_REQUEST_ID="req-12345678",
        HTTP_USER_AGENT="pytest-agent/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 200
    row = RequestLog.objects.get()
    assert row.created_at is not None
    assert (row.user_id, row.username) == (admin_user.pk, "admin")
    assert (row.method, row.path) == ("GET", "/api/platforms/")
    assert row.query == "name=lab&page_size=5"
    assert (row.status, row.code) == (200, codes.PLATFORM_QUERY_OK.number)
    assert row.duration_ms >= 0
    assert row.client_ip == "10.1.2.3"
    assert row.user_agent == "pytest-agent/1.0"
    assert row.request_id == "req-12345678" == response["X-Request-ID"]
    assert row.body == ""


def test_request_log_ignores_forwarded_for_unless_a_proxy_is_trusted(api, settings):
    forged = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    api.get("/api/platforms/", **forged)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    api.get("/api/platforms/", **forged)
    api.get("/api/platforms/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="not an address")
    rows = RequestLog.objects.order_by("pk").values_list("client_ip", flat=True)
    assert list(rows) == ["10.1.2.3", "198.51.100.7", None]


def test_request_log_records_a_body_holding_a_lone_surrogate(api):
    body = '{"name": "lab\\ud800", "remarks": "ok"}'
    response = api.post("/api/platform-types/", data=body, content_type="application/json")
    assert response.status_code == 400
    row = RequestLog.objects.get()
    assert json.loads(row.body) == {"name": "lab?", "remarks": "ok"}


def test_request_log_redacts_json_body_secrets_at_any_depth(api):
    payload = {
        "name": "lab",
        "password": "p1",
        "nested": {"api_key": "p2", "list": [{"refresh": "p3", "note": "kept"}]},
        "Token": "p4",
        "pw": "p5",
    }
    api.post("/api/platform-types/", payload, format="json")
    row = RequestLog.objects.get()
    body = json.loads(row.body)
    assert body["password"] == body["Token"] == body["pw"] == REDACTED
    assert body["nested"]["api_key"] == REDACTED
    assert body["nested"]["list"] == [{"refresh": REDACTED, "note": "kept"}]
    assert body["name"] == "lab"
    for secret in ("p1", "p2", "p3", "p4", "p5"):
        assert f'"{secret}"' not in row.body


def test_request_log_redacts_secrets_in_the_query_string(api):
    api.get("/api/platforms/?name=x&password=hunter2&p%61sswd=hunter3&access_token=t0k&page=1")
    row = RequestLog.objects.get()
    assert "hunter2" not in row.query and "hunter3" not in row.query and "t0k" not in row.query
    assert "name=x" in row.query and "page=1" in row.query
    assert row.query.count("%2A%2A%2A%2A%2A%2A%2A%2A") == 3


def test_request_log_redacts_form_encoded_login(anon_api, admin_user):
    response = anon_api.post(
        "/api/auth/login",
        f"username=admin&password={DEFAULT_PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    row = RequestLog.objects.get()
    assert row.body == "username=admin&password=%2A%2A%2A%2A%2A%2A%2A%2A"
    assert DEFAULT_PASSWORD not in row.body
    assert row.code == codes.LOGIN_OK.number


def test_request_log_keeps_unparseable_and_binary_bodies_out(api):
    api.post("/api/platform-types/", "{not json", content_type="application/json")
    api.post("/api/platform-types/", b"\xff\xfe", content_type="application/json")
    api.post("/api/system-config/logo", {"logo": b""}, format="multipart")
    bodies = list(RequestLog.objects.order_by("id").values_list("body", flat=True))
    assert bodies[0] == bodies[1] == "<malformed body not recorded>"
    assert bodies[2].startswith("<multipart/form-data")


def test_request_log_skips_schema_docs_and_non_api_paths(api):
    api.get("/api/docs/")
    api.get("/admin/login/")
    assert not RequestLog.objects.exists()


def test_request_log_records_unknown_routes_and_anonymous_callers(anon_api):
    anon_api.get("/api/no-such-route")
    anon_api.get("/api/platforms/")
    rows = list(RequestLog.objects.order_by("id"))
    assert [(r.path, r.status, r.username, r.user_id) for r in rows] == [
        ("/api/no-such-route", 404, "", None),
        ("/api/platforms/", 401, "", None),
    ]
    assert rows[1].code == codes.NOT_AUTHENTICATED.number


def test_request_log_costs_one_insert_and_no_read(api):
    CloudPlatformFactory()
    api.get("/api/platforms/")  # warm up: content types, permissions
    with CaptureQueriesContext(connection) as queries:
        api.get("/api/platforms/")
    log_statements = [q["sql"] for q in queries.captured_queries if "audit_requestlog" in q["sql"]]
    assert len(log_statements) == 1
    assert log_statements[0].startswith("INSERT INTO")


def _answer(response):
    return response.status_code, response.json()["code"], response.json()["data"]


def test_failing_log_write_leaves_the_answer_unchanged(api):
    """RequestLog.objects.create is patched to raise DatabaseError: a hand-built fault."""
    platform = CloudPlatformFactory(name="stable")
    expected = _answer(api.get(f"/api/platforms/{platform.pk}"))
    RequestLog.objects.all().delete()
    with mock.patch.object(RequestLog.objects, "create", side_effect=DatabaseError("disk full")):
        got = _answer(api.get(f"/api/platforms/{platform.pk}"))
        created = api.post(
            "/api/platforms/",
            {
                "name": "during-outage",
                "platform_type": PlatformTypeFactory(name="vCenter").pk,
                "host": "vc.example",
                "username": "u",
                "password": "p",
            },
            format="json",
        )
    assert got == expected
    assert created.status_code == 201
    assert created.json()["code"] == codes.PLATFORM_CREATED.number
    assert CloudPlatform.objects.filter(name="during-outage").exists()
    assert not RequestLog.objects.exists()


def test_failing_log_write_in_the_database_leaves_the_answer_unchanged(api):
    """The INSERT is refused by a hand-built database fault (tests.conftest.failing_sql)."""
    platform = CloudPlatformFactory(name="stable")
    expected = _answer(api.get(f"/api/platforms/{platform.pk}"))
    with failing_sql(r'INSERT INTO "audit_requestlog"'):
        got = _answer(api.get(f"/api/platforms/{platform.pk}"))
    assert got == expected
    # The test's transaction is still usable: the savepoint kept the failure contained.
    assert RequestLog.objects.count() == 1


def test_any_error_while_logging_leaves_the_answer_unchanged(api):
    """`_client_ip` is patched to raise: a hand-built fault in the middleware itself."""
    with mock.patch("audit.middleware._client_ip", side_effect=RuntimeError("boom")):
        response = api.get("/api/platforms/")
    assert response.status_code == 200
    assert response.json()["code"] == codes.PLATFORM_QUERY_OK.number


def test_redact_helpers_keep_harmless_values():
    assert redact({"a": [1, {"b": 2}], "secret": 3}) == {"a": [1, {"b": 2}], "secret": REDACTED}
    assert redact_query("") == ""
    assert redact_query("a=1&b=%E4%B8%AD") == "a=1&b=%E4%B8%AD"
    assert redact_query("key=v&x") == "key=%2A%2A%2A%2A%2A%2A%2A%2A&x="


@pytest.mark.django_db(transaction=True)
def test_request_log_outside_a_transaction_commits_without_waiting_for_disk(admin_user):
    """As in production (no ATOMIC_REQUESTS): on PostgreSQL the row's commit is asynchronous."""
    client = api_client_for(admin_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/platforms/", {"q": "1"})
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [sql for sql in statements if sql.startswith('INSERT INTO "audit_requestlog"')]
    assert len(inserts) == 1
    if connection.vendor == "postgresql":
        assert "SET LOCAL synchronous_commit TO OFF" in statements
    assert RequestLog.objects.get().query == "q=1"
    with mock.patch.object(RequestLog.objects, "create", side_effect=DatabaseError("gone")):
        again = client.get("/api/platforms/", {"q": "1"})
    assert _answer(again) == _answer(response)
    assert RequestLog.objects.count() == 1
