"""Task, event and request logs in the admin: the task's state at a glance, live refresh of
running tasks through the TaskLog API, links to the logged object, and logged deletes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import EventLog, RequestLog, TaskLog
from kstack_naguan.api import codes

from .conftest import admin_client, staff_with

pytestmark = pytest.mark.django_db


def task_log(**fields):
    started = timezone.now() - timedelta(seconds=12)
    values = {
        "name": "vcenter.clone",
        "status": "failure",
        "progress": 40,
        "code": codes.VM_CLONE_FAILED.number,
        "message": "Clone operation failed",
        "error": "InvalidState: the <VM> is busy",
        "started_at": started,
        "finished_at": started + timedelta(seconds=2.5),
        "result": {"moid": "vm-42"},
    }
    values.update(fields)
    return TaskLog.objects.create(**values)


def test_show_task_log_state_progress_outcome_duration_and_error(administrator):
    row = task_log()
    html = admin_client(administrator).get(f"/admin/audit/tasklog/{row.pk}/change/")
    html = html.content.decode()
    assert 'class="tasklog-status tasklog-status-failure"' in html
    assert '<progress max="100" value="40"' in html
    assert f'data-tasklog-field="code">{codes.VM_CLONE_FAILED.number}</span>' in html
    assert 'data-tasklog-field="msg">Clone operation failed</span>' in html
    assert 'data-tasklog-field="duration">2.5 s</span>' in html
    assert "InvalidState: the &lt;VM&gt; is busy</pre>" in html
    assert "&quot;moid&quot;: &quot;vm-42&quot;" in html
    assert 'id="tasklog-status-labels"' in html


def test_list_task_logs_with_state_progress_and_filters(administrator):
    running = task_log(status="running", code=None, message="", error="", finished_at=None)
    done = task_log(status="success", progress=100, code=codes.VM_CLONED.number)
    client = admin_client(administrator)
    html = client.get("/admin/audit/tasklog/").content.decode()
    assert (
        f'data-tasklog-id="{running.pk}" data-tasklog-field="status" data-status="running"' in html
    )
    assert '<progress max="100" value="100"' in html
    assert "audit/admin/tasklog.js" in html

    filtered = client.get("/admin/audit/tasklog/?status__exact=success")
    assert [row.pk for row in filtered.context["cl"].result_list] == [done.pk]
    for query in ("?q=vcenter", "?name=vcenter.clone", "?o=3", "?created_at__year=2026"):
        assert client.get(f"/admin/audit/tasklog/{query}").status_code == 200


def test_running_task_page_polls_the_task_log_api_with_the_admin_session(administrator):
    row = task_log(status="running", progress=10, code=None, message="", finished_at=None)
    client = admin_client(administrator)
    html = client.get(f"/admin/audit/tasklog/{row.pk}/change/").content.decode()
    assert f'data-tasklog-url="/api/logs/tasks/{row.pk}"' in html
    assert 'data-status="running"' in html
    assert "audit/admin/tasklog.js" in html

    # What the script reads: the API answers the admin's session cookie.
    TaskLog.objects.filter(pk=row.pk).update(status="success", progress=100, code=2050)
    body = client.get(f"/api/logs/tasks/{row.pk}", HTTP_ACCEPT="application/json").json()
    assert body["code"] == codes.TASK_LOG_QUERY_OK.number
    assert (body["data"]["status"], body["data"]["progress"]) == ("success", 100)
    assert body["data"]["code"] == 2050


def test_serve_the_polling_script(administrator, client):
    from django.contrib.staticfiles import finders

    script = finders.find("audit/admin/tasklog.js")
    assert script is not None
    text = open(script, encoding="utf-8").read()
    assert 'credentials: "same-origin"' in text
    assert "/api/" not in text  # the URL comes from the page, not hard-coded


def test_link_task_and_event_logs_to_their_object(vm, administrator):
    client = admin_client(administrator)
    sync_log = TaskLog.objects.filter(name="vcenter.sync").first()
    html = client.get("/admin/audit/tasklog/").content.decode()
    assert f'href="/admin/platforms/cloudplatform/{sync_log.object_id}/change/"' in html

    EventLog.objects.create(
        action="power_off",
        object_type="vcenter.VirtualMachine",
        object_id=str(vm.pk),
        object_repr=vm.name,
    )
    EventLog.objects.create(action="delete", object_type="vcenter.VirtualMachine", object_id="0")
    html = client.get("/admin/audit/eventlog/").content.decode()
    assert f'href="/admin/vcenter/virtualmachine/{vm.pk}/change/"' in html

    history = client.get(
        f"/admin/audit/eventlog/?object_type=vcenter.VirtualMachine&object_id={vm.pk}"
    )
    assert [row.action for row in history.context["cl"].result_list] == ["power_off"]


def test_delete_finished_task_log_leaves_an_event(administrator):
    row = task_log()
    client = admin_client(administrator)
    response = client.post(f"/admin/audit/tasklog/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TaskLog.objects.filter(pk=row.pk).exists()
    event = EventLog.objects.get(action="delete", object_type="audit.TaskLog")
    assert event.object_id == str(row.pk)
    assert event.username == administrator.username


def test_refuse_to_delete_unfinished_task_logs(administrator):
    running = task_log(status="running", finished_at=None)
    done = task_log()
    client = admin_client(administrator)
    page = client.get(f"/admin/audit/tasklog/{running.pk}/change/").content.decode()
    assert "deletelink" not in page
    assert (
        client.post(f"/admin/audit/tasklog/{running.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )

    # A bulk delete that includes an unfinished task is refused whole.
    selection = {"action": "delete_selected", "_selected_action": [running.pk, done.pk]}
    confirm = client.post("/admin/audit/tasklog/", selection)
    assert confirm.context["perms_lacking"]
    assert client.post("/admin/audit/tasklog/", {**selection, "post": "yes"}).status_code == 403
    assert TaskLog.objects.filter(pk__in=[running.pk, done.pk]).count() == 2
    assert not EventLog.objects.filter(action="delete").exists()


def test_bulk_delete_of_request_logs_is_logged(administrator):
    rows = [
        RequestLog.objects.create(
            method="GET", path="/api/x", status=200, duration_ms=1, request_id=str(n)
        )
        for n in range(3)
    ]
    client = admin_client(administrator)
    client.post(
        "/admin/audit/requestlog/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"},
    )
    assert not RequestLog.objects.filter(pk__in=[r.pk for r in rows]).exists()
    event = EventLog.objects.get(action="delete", object_type="audit.RequestLog")
    assert event.after["deleted"] == 3


def test_refuse_log_pages_to_staff_without_log_permissions(db):
    row = task_log()
    client = admin_client(staff_with("vcenter.view_virtualmachine"))
    assert client.get("/admin/audit/tasklog/").status_code == 403
    assert client.get(f"/admin/audit/tasklog/{row.pk}/change/").status_code == 403
    assert client.post(f"/admin/audit/tasklog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TaskLog.objects.filter(pk=row.pk).exists()
