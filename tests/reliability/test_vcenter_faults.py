"""vCenter failing under the portal: stopped mid-sync, restarted, session expired, too slow.

Every fault is real: the simulator process is stopped or restarted, its sessions expire, or it
answers slowly (`delay_ms`, `-method-delay`). tests/vcenter/test_sync.py covers a vCenter that
is down before a sync starts and a sync after a restart; here the faults strike during the work
and the client's own recovery is checked.
"""

import signal
import threading
import time
from contextlib import contextmanager
from unittest import mock

import pytest
from pyVim.connect import Disconnect

from audit.models import TaskLog
from audit.services import track
from kstack_naguan.api import codes
from kstack_naguan.testing.vcsim import Simulator
from vcenter import services
from vcenter.client import client_for_platform, tasks
from vcenter.models import Datastore, Host, VirtualMachine

from ..conftest import VCSIM_PASSWORD, VCSIM_USER, vsphere_content
from ..factories import CloudPlatformFactory
from .conftest import record_figure

pytestmark = [pytest.mark.vcsim, pytest.mark.django_db]


@contextmanager
def hang_guard(seconds):
    """Fail the test with an exception if the block runs longer than `seconds` (SIGALRM)."""

    def alarm(signum, frame):
        raise AssertionError(f"still blocked after {seconds}s: the client has no working timeout")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _simulator(**kwargs):
    return Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, **kwargs)


def _inventory_snapshot():
    return (
        sorted(VirtualMachine.objects.values_list("moid", "name", "power_state")),
        sorted(Host.objects.values_list("moid", "name")),
        sorted(Datastore.objects.values_list("moid", "name")),
    )


def _whoami(client):
    # A round trip that needs a valid session (`about` is read once at login and cached).
    return client.call(lambda content: content.sessionManager.currentSession.userName)


def _login_count(caplog):
    return sum("vCenter session opened" in record.getMessage() for record in caplog.records)


def test_sync_fails_with_2401_and_keeps_inventory_when_vcenter_stops_mid_sync():
    # Every property read takes a second, so the second sync is surely reading when it stops.
    with _simulator(extra_args=("-method-delay", "RetrievePropertiesEx:1000")) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="stopping")
        first = services.start_sync(platform)
        first.refresh_from_db()
        assert first.status == "success", first.error
        before = _inventory_snapshot()

        # A change in vCenter that a finished sync would mirror: one VM less.
        si, content = vsphere_content(sim)
        content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0").Destroy_Task()
        Disconnect(si)

        # Stop the simulator half a second into the sync's first property read.
        stopper = threading.Timer(0.5, sim.stop)
        stopper.start()
        started = time.monotonic()
        task_log = services.start_sync(platform)
        seconds = time.monotonic() - started
        stopper.join()

    task_log.refresh_from_db()
    assert (task_log.status, task_log.code) == ("failure", codes.SYNC_FAILED.number)
    assert "unreachable" in task_log.error
    assert VCSIM_PASSWORD not in task_log.error
    assert _inventory_snapshot() == before
    record_figure(
        "vcenter_stopped_mid_sync",
        faults=1,
        outcome=task_log.status,
        code=task_log.code,
        inventory_rows_kept=sum(len(rows) for rows in before),
        seconds_to_fail=round(seconds, 1),
    )


def test_client_logs_in_again_after_restart_and_after_session_expiry(caplog):
    caplog.set_level("INFO", logger="vcenter.client.connection")
    with _simulator(session_timeout=1) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="flaky")
        client = client_for_platform(platform)
        assert _whoami(client) == VCSIM_USER
        assert _login_count(caplog) == 1

        # The simulator restarts: the connection and the session are gone.
        sim.restart()
        assert _whoami(client) == VCSIM_USER
        assert _login_count(caplog) == 2

        # The session expires while idle: vCenter answers NotAuthenticated.
        time.sleep(2.5)
        assert _whoami(client) == VCSIM_USER
        assert _login_count(caplog) == 3
        assert any("logging in again" in r.getMessage() for r in caplog.records)

        # And a whole sync still succeeds on the recovered session.
        task_log = services.start_sync(platform)
        task_log.refresh_from_db()
        assert task_log.status == "success", task_log.error
    record_figure("vcenter_sessions_lost", faults=2, logins=_login_count(caplog), recovered=2)


def test_slow_vcenter_fails_the_sync_on_the_client_timeout(settings):
    settings.KSTACK_VCENTER_TIMEOUT = 1
    with _simulator(delay_ms=3000) as sim:
        platform = CloudPlatformFactory.for_simulator(sim, name="slow")

        # A hang would show as the alarm going off, not as a test that never ends.
        started = time.monotonic()
        with hang_guard(60):
            task_log = services.start_sync(platform)
        seconds = time.monotonic() - started

    task_log.refresh_from_db()
    assert (task_log.status, task_log.code) == ("failure", codes.SYNC_FAILED.number)
    assert "did not answer in 1s" in task_log.error
    assert not VirtualMachine.objects.exists()
    record_figure(
        "vcenter_slow_sync",
        delay_ms=3000,
        timeout_s=1,
        outcome=task_log.status,
        seconds_to_fail=round(seconds, 1),
    )


def _synced_powered_on_vm(sim, name):
    """Register `sim` as the platform `name`, sync it, and return one of its running VMs."""
    platform = CloudPlatformFactory.for_simulator(sim, name=name)
    services.start_sync(platform)
    return VirtualMachine.objects.filter(platform=platform, power_state="poweredOn").first()


def test_slow_vcenter_answers_a_power_request_with_502_on_the_client_timeout(settings, api):
    settings.KSTACK_VCENTER_TIMEOUT = 1

    # Only the power-off call is slow: the session, the sync and the reads stay fast.
    with _simulator(extra_args=("-method-delay", "PowerOffVM_Task:3000")) as sim:
        vm = _synced_powered_on_vm(sim, "slow-power")
        started = time.monotonic()
        response = api.post(f"/api/vcenter/vms/{vm.pk}/power", {"action": "off"}, format="json")
        seconds = time.monotonic() - started

    body = response.json()
    assert response.status_code == 502, body
    assert body["code"] == codes.VM_POWER_OFF_FAILED.number
    assert "did not answer" in str(body["data"])
    record_figure("vcenter_slow_power", timeout_s=1, status=502, seconds=round(seconds, 1))


def test_a_vcenter_task_that_never_ends_is_given_up_within_the_request_budget(settings, api):
    """A power-off whose vCenter task stays 'running' (hand-built: vcsim finishes every task
    inside the call, so the task's state read is patched) answers once the request budget
    (`KSTACK_VCENTER_REQUEST_TIMEOUT`) is spent, well inside the web server's timeout, while a
    Celery task keeps the long budget."""
    settings.KSTACK_VCENTER_REQUEST_TIMEOUT = 1
    settings.KSTACK_VCENTER_TASK_TIMEOUT = 600
    with _simulator() as sim:
        vm = _synced_powered_on_vm(sim, "stuck-task")
        running = {"info.state": "running", "info.progress": 10}
        with mock.patch("vcenter.client.tasks.retrieve_one", return_value=running):
            started = time.monotonic()
            response = api.post(f"/api/vcenter/vms/{vm.pk}/power", {"action": "off"}, format="json")
            seconds = time.monotonic() - started

    body = response.json()
    assert response.status_code == 502, body
    assert body["code"] == codes.VM_POWER_OFF_FAILED.number
    assert "did not finish in time" in str(body["data"])
    assert seconds < 10
    assert tasks.default_timeout() == 1
    with track(TaskLog.objects.create(name="probe").pk, failure_code=codes.SYNC_FAILED) as run:
        assert run is not None and tasks.default_timeout() == 600
    record_figure("vcenter_stuck_task", request_budget_s=1, status=502, seconds=round(seconds, 1))
