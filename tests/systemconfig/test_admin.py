"""The admin shows the configured portal name and treats the configuration as one row."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import EventLog
from systemconfig.models import SystemConfig

pytestmark = pytest.mark.django_db

NAME_READ = '"systemconfig_systemconfig"."name"'


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_header_and_title_show_the_configured_name(admin_client_, api):
    page = admin_client_.get("/admin/").content.decode()
    assert "KStack Naguan" in page.split("<title>")[1].split("</title>")[0]

    api.post("/api/system-config/", {"name": "纳管门户"}, format="json")
    page = admin_client_.get("/admin/").content.decode()
    assert "纳管门户" in page.split("<title>")[1].split("</title>")[0]
    assert '<a href="/admin/">纳管门户</a>' in page

    api.patch("/api/system-config/", {"name": "Renamed Portal"}, format="json")
    page = admin_client_.get("/admin/").content.decode()
    assert "Renamed Portal" in page and "纳管门户" not in page


def test_admin_header_reads_the_name_once_then_from_the_cache(admin_client_):
    SystemConfig.objects.create(name="Cached")
    with CaptureQueriesContext(connection) as first:
        assert "Cached" in admin_client_.get("/admin/").content.decode()
    with CaptureQueriesContext(connection) as second:
        assert "Cached" in admin_client_.get("/admin/").content.decode()
    assert len([q for q in first.captured_queries if NAME_READ in q["sql"]]) == 1
    assert not [q for q in second.captured_queries if NAME_READ in q["sql"]]


def test_admin_refuses_a_second_configuration_and_records_changes(admin_client_):
    config = SystemConfig.objects.create(name="Only")
    assert admin_client_.get("/admin/systemconfig/systemconfig/add/").status_code == 403
    response = admin_client_.post(
        f"/admin/systemconfig/systemconfig/{config.pk}/change/",
        {
            "name": "Edited",
            "footer": "",
            "sync_interval_minutes": 30,
            "log_retention_days": 90,
        },
    )
    assert response.status_code == 302
    config.refresh_from_db()
    assert config.name == "Edited"
    event = EventLog.objects.get(object_type="systemconfig.SystemConfig")
    assert event.before["name"] == "Only" and event.after["name"] == "Edited"


def test_admin_logo_must_be_a_real_image(admin_client_):
    config = SystemConfig.objects.create(name="Only")
    response = admin_client_.post(
        f"/admin/systemconfig/systemconfig/{config.pk}/change/",
        {
            "name": "Only",
            "footer": "",
            "sync_interval_minutes": 30,
            "log_retention_days": 90,
            "logo": SimpleUploadedFile("logo.png", b"not an image"),
        },
    )
    assert response.status_code == 200  # the form again, with the error
    config.refresh_from_db()
    assert not config.logo


def test_admin_delete_of_configuration_writes_event(admin_client_):
    config = SystemConfig.objects.create(name="Gone")
    response = admin_client_.post(
        f"/admin/systemconfig/systemconfig/{config.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not SystemConfig.objects.exists()
    event = EventLog.objects.get(action="delete")
    assert event.object_repr == "Gone" and event.before["name"] == "Gone"
