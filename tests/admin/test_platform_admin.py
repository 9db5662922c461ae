"""The platform page's "test connection" button and the platform list's sync action: offered
and served only with the API's permissions, against the simulator."""

import pytest

from audit.models import EventLog, TaskLog
from kstack_naguan.api import codes
from tests.factories import CloudPlatformFactory
from vcenter.models import VirtualMachine

from .conftest import admin_client, staff_with

pytestmark = pytest.mark.django_db

VIEW = "platforms.view_cloudplatform"
CHANGE = "platforms.change_cloudplatform"


def connection_url(platform):
    return f"/admin/platforms/cloudplatform/{platform.pk}/test-connection/"


def messages_of(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_show_test_connection_button_only_with_change_permission(platform):
    page = f"/admin/platforms/cloudplatform/{platform.pk}/change/"
    shown = admin_client(staff_with(VIEW, CHANGE)).get(page).content.decode()
    assert 'class="test-connection"' in shown
    assert f'action="{connection_url(platform)}"' in shown
    hidden = admin_client(staff_with(VIEW)).get(page).content.decode()
    assert 'class="test-connection"' not in hidden


def test_test_connection_reports_vcenters_version(platform, vcsim):
    client = admin_client(staff_with(VIEW, CHANGE))
    response = client.post(connection_url(platform), follow=True)
    [(level, text)] = messages_of(response)
    assert level == "success"
    assert f"({codes.CONNECTION_OK.number})" in text
    assert response.redirect_chain[-1][0].endswith(f"/{platform.pk}/change/")
    assert EventLog.objects.filter(action="test_connection", object_id=str(platform.pk)).exists()


def test_test_connection_reports_a_refused_login_and_an_unreachable_vcenter(vcsim, db):
    client = admin_client(staff_with(VIEW, CHANGE))
    wrong = CloudPlatformFactory.for_simulator(vcsim, name="wrong")
    wrong.password = "not-the-password"
    wrong.save()
    [(level, text)] = messages_of(client.post(connection_url(wrong), follow=True))
    assert (level, f"({codes.CONNECTION_FAILED.number})" in text) == ("error", True)
    assert "not-the-password" not in text

    away = CloudPlatformFactory(name="away", host="127.0.0.1", port=9, protocol="http")
    [(level, text)] = messages_of(client.post(connection_url(away), follow=True))
    assert (level, f"({codes.VCENTER_UNREACHABLE.number})" in text) == ("error", True)


def test_refuse_test_connection_without_change_permission_or_by_get(platform):
    assert admin_client(staff_with(VIEW)).post(connection_url(platform)).status_code == 403
    assert admin_client(staff_with(VIEW, CHANGE)).get(connection_url(platform)).status_code == 405
    missing = admin_client(staff_with(VIEW, CHANGE))
    assert missing.post("/admin/platforms/cloudplatform/999999/test-connection/").status_code == 404
    assert not EventLog.objects.filter(action="test_connection").exists()


def test_sync_now_from_the_platform_list_fills_an_empty_inventory(fresh_platform):
    client = admin_client(staff_with(VIEW, "vcenter.sync_inventory", "audit.view_tasklog"))
    listing = client.get("/admin/platforms/cloudplatform/")
    assert "sync_now" in dict(listing.context["action_form"].fields["action"].choices)

    response = client.post(
        "/admin/platforms/cloudplatform/",
        {"action": "sync_now", "_selected_action": [fresh_platform.pk], "index": "0"},
        follow=True,
    )
    task_log = TaskLog.objects.filter(name="vcenter.sync").latest("id")
    [(level, text)] = messages_of(response)
    assert level == "success"
    assert f'href="/admin/audit/tasklog/{task_log.pk}/change/"' in text
    assert VirtualMachine.objects.filter(platform=fresh_platform).count() == 4


def test_refuse_forced_sync_now_without_sync_permission(fresh_platform):
    client = admin_client(staff_with(VIEW, CHANGE))
    action_form = client.get("/admin/platforms/cloudplatform/").context["action_form"]
    assert action_form is None or "sync_now" not in dict(action_form.fields["action"].choices)
    client.post(
        "/admin/platforms/cloudplatform/",
        {"action": "sync_now", "_selected_action": [fresh_platform.pk], "index": "0"},
    )
    assert not VirtualMachine.objects.filter(platform=fresh_platform).exists()
    assert not TaskLog.objects.filter(name="vcenter.sync", user__isnull=False).exists()
