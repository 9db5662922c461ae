import pytest

from audit.models import TaskLog

pytestmark = pytest.mark.django_db


def test_task_log_message_follows_the_reader_not_the_writer(client, admin_user):
    """A TaskLog written in one language reads in the reader's, in the admin and the API."""
    TaskLog.objects.create(
        name="vcenter.sync", status="success", code=2400, message="Sync succeeded"
    )
    client.force_login(admin_user)
    chinese = client.get("/admin/audit/tasklog/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/admin/audit/tasklog/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "同步成功" in chinese
    assert "Sync succeeded" in english
