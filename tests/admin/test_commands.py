"""Operators' management commands: create_admin for scripts, and the progress display of the
long ones (vcenter_sync, prune_logs) that never changes what `--json` prints."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from audit.models import EventLog, RequestLog, TaskLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "Blue-Kettle-Orbit-77"


def run(*args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_create_admin_from_env_password_prints_json_and_opens_the_admin(monkeypatch):
    monkeypatch.setenv("NEW_ADMIN_PASSWORD", PASSWORD)
    out, _err = run(
        "create_admin",
        "--username=ops",
        "--email=ops@example.test",
        "--password-from-env=NEW_ADMIN_PASSWORD",
        "--json",
    )
    result = json.loads(out)
    assert result["username"] == "ops"
    assert result["created"] is True
    assert "password" not in result
    assert result["roles"] == ["administrator"]

    user = User.objects.get(username="ops")
    assert (user.is_superuser, user.is_staff, user.is_active) == (True, True, True)
    assert PASSWORD not in out
    client = Client()
    assert client.login(username="ops", password=PASSWORD)
    assert client.get("/admin/vcenter/virtualmachine/").status_code == 200
    event = EventLog.objects.get(action="create", object_id=str(user.pk))
    assert "create_admin" in event.message
    assert PASSWORD not in json.dumps(event.after)


def test_create_admin_without_env_generates_a_password_shown_once():
    out, _err = run("create_admin", "--username=ops2", "--email=ops2@example.test")
    assert "created administrator ops2" in out
    password = out.split("password (shown once): ")[1].strip()
    assert len(password) >= 20
    assert Client().login(username="ops2", password=password)


def test_create_admin_refuses_an_existing_user_unless_update(monkeypatch):
    existing = UserFactory(username="taken")
    with pytest.raises(CommandError, match="already exists"):
        run("create_admin", "--username=taken", "--email=x@example.test")

    monkeypatch.setenv("PW", PASSWORD)
    out, _err = run(
        "create_admin", "--username=taken", "--update", "--password-from-env=PW", "--json"
    )
    assert json.loads(out)["created"] is False
    existing.refresh_from_db()
    assert existing.is_superuser and existing.is_staff
    assert existing.check_password(PASSWORD)
    assert (
        EventLog.objects.get(action="update", object_id=str(existing.pk)).before["is_superuser"]
        is False
    )


def test_create_admin_update_keeps_the_password_when_none_is_given():
    existing = UserFactory(username="keeper")
    out, _err = run("create_admin", "--username=keeper", "--update", "--json")
    assert "password" not in json.loads(out)
    existing.refresh_from_db()
    assert existing.is_superuser
    assert existing.check_password("Correct-Horse-42")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--username=a"], {}, "--email is required"),
        (["--username=a", "--email=a@example.test", "--password-from-env=NOPE"], {}, "NOPE"),
        (
            ["--username=a", "--email=a@example.test", "--password-from-env=PW"],
            {"PW": "123"},
            "password",
        ),
        (["--username=a b!", "--email=a@example.test"], {}, "username"),
        (["--username=a", "--email=not-an-email"], {}, "email"),
        (["--username=" + "x" * 200, "--email=a@example.test"], {}, "username"),
    ],
)
def test_create_admin_refuses_bad_input(monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CommandError, match=message):
        run("create_admin", *args)
    assert not User.objects.filter(is_superuser=True).exists()


def test_create_admin_refuses_an_email_taken_in_another_case():
    UserFactory(username="first", email="Ops@Example.test")
    with pytest.raises(CommandError, match="^邮箱已存在$"):
        run("create_admin", "--username=second", "--email=ops@example.test")


def test_create_admin_finds_an_existing_user_in_any_letter_case():
    UserFactory(username="cliadmin", email="cli@example.test")
    with pytest.raises(CommandError, match="already exists; use --update"):
        run("create_admin", "--username=CLIADMIN", "--email=other@example.test")


def old_logs(count, days=200):
    when = timezone.now() - timedelta(days=days)
    for n in range(count):
        RequestLog.objects.create(
            method="GET", path="/api/x", status=200, duration_ms=1, request_id=str(n)
        )
        EventLog.objects.create(action="update", object_type="x")
        TaskLog.objects.create(name="t", status="success")
    RequestLog.objects.update(created_at=when)
    EventLog.objects.update(created_at=when)
    TaskLog.objects.update(created_at=when)


def test_prune_logs_draws_a_bar_per_kind_of_log_on_request():
    old_logs(3)
    out, err = run("prune_logs", "--days=30", "--progress")
    assert "3 requests, 3 events, 3 tasks" in out
    for kind in ("requests", "events", "tasks"):
        assert f"{kind}: 100%" in err
        assert "3/3" in err


def test_prune_logs_json_and_non_terminal_output_have_no_bar():
    old_logs(2)
    out, err = run("prune_logs", "--days=30", "--json", "--progress")
    assert json.loads(out)["deleted"] == {"requests": 2, "events": 2, "tasks": 2}
    assert err == ""
    old_logs(1)
    _out, err = run("prune_logs", "--days=30")  # stderr is not a terminal here
    assert err == ""


def test_vcenter_sync_draws_a_bar_over_the_platforms(fresh_platform):
    out, err = run("vcenter_sync", fresh_platform.name, "--progress")
    assert out.startswith(f"{fresh_platform.name}: success (2400)")
    assert f"sync {fresh_platform.name}: 100%" in err
    assert "1/1" in err

    out, err = run("vcenter_sync", fresh_platform.name, "--json", "--progress")
    assert json.loads(out)[0]["status"] == "success"
    assert err == ""
