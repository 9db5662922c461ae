"""Log retention: the `audit.prune_logs` task, `manage.py prune_logs` and the nightly schedule."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from celery.signals import beat_init
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit import schedule
from audit.models import EventLog, RequestLog, TaskLog
from audit.tasks import prune_logs
from systemconfig.models import SystemConfig

pytestmark = pytest.mark.django_db


def _aged(model, days, **fields):
    row = model.objects.create(**fields)
    model.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


@pytest.fixture
def logs():
    request = {"method": "GET", "path": "/api/x", "status": 200, "duration_ms": 1}
    return {
        "old_request": _aged(RequestLog, 40, **request),
        "new_request": _aged(RequestLog, 5, **request),
        "old_event": _aged(EventLog, 40, action="update", object_type="x"),
        "new_event": _aged(EventLog, 5, action="update", object_type="x"),
        "old_task": _aged(TaskLog, 40, name="vcenter.sync", status="success"),
        "old_running_task": _aged(TaskLog, 40, name="vcenter.sync", status="running"),
        "new_task": _aged(TaskLog, 5, name="vcenter.sync", status="failure"),
    }


def _left(logs):
    return {name for name, row in logs.items() if type(row).objects.filter(pk=row.pk).exists()}


def test_prune_task_uses_the_configured_retention(logs):
    SystemConfig.objects.create(log_retention_days=30)
    result = prune_logs.delay().get()
    assert result["days"] == 30
    assert result["deleted"] == {"requests": 1, "events": 1, "tasks": 1}
    assert _left(logs) == {"new_request", "new_event", "new_task", "old_running_task"}
    trace = EventLog.objects.get(action="prune")
    assert trace.after["deleted"] == result["deleted"]


def test_prune_task_defaults_to_90_days_without_configuration(logs):
    result = prune_logs.delay().get()
    assert result["days"] == 90
    assert result["deleted"] == {"requests": 0, "events": 0, "tasks": 0}
    assert _left(logs) == set(logs)


def test_prune_with_zero_retention_keeps_everything(logs):
    SystemConfig.objects.create(log_retention_days=0)
    result = prune_logs.delay().get()
    assert result["cutoff"] is None
    assert _left(logs) == set(logs)


def test_prune_logs_command_with_days_and_json(logs):
    out = StringIO()
    call_command("prune_logs", "--days", "3", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["days"] == 3
    assert result["deleted"] == {"requests": 2, "events": 2, "tasks": 2}
    assert _left(logs) == {"old_running_task"}


def test_prune_logs_command_prints_a_summary(logs):
    out = StringIO()
    call_command("prune_logs", "--days", "30", stdout=out)
    assert "1 requests, 1 events, 1 tasks" in out.getvalue()


def test_prune_logs_command_refuses_days_below_one():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_logs", "--days", "0")


def test_prune_deletes_in_batches(monkeypatch):
    from audit import services

    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    for _ in range(5):
        _aged(RequestLog, 100, method="GET", path="/", status=200, duration_ms=1)
    assert services.prune_logs(30)["deleted"]["requests"] == 5
    assert not RequestLog.objects.exists()


def test_beat_start_schedules_the_nightly_prune_once():
    beat_init.send(sender=None)
    task = PeriodicTask.objects.get(name=schedule.NAME)
    assert task.task == "audit.prune_logs" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")

    # An operator's change in the admin survives the next start of beat.
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=False)
    beat_init.send(sender=None)
    assert PeriodicTask.objects.filter(name=schedule.NAME).count() == 1
    assert PeriodicTask.objects.get(name=schedule.NAME).enabled is False
