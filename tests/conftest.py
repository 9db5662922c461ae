"""Fixtures shared by the whole suite: the simulator, platforms, users and API clients, and a
real Celery worker for the tests that need one."""

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from pyVim.connect import Disconnect, SmartConnect
from rest_framework.test import APIClient

from accounts.services import issue_tokens
from kstack_naguan.testing.vcsim import Simulator
from vcenter.client import connection as vc_connection

from .factories import CloudPlatformFactory, UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent
VCSIM_USER = "kstack@vsphere.local"
VCSIM_PASSWORD = "Sim-Pass-123"


def pytest_sessionstart(session):
    """Compile the translation catalogues if they are missing or older than their sources."""
    for po in REPO_ROOT.glob("locale/*/LC_MESSAGES/django.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True)


@pytest.fixture(scope="session")
def vcsim():
    """One simulator for the session, for tests that only read from it."""
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD) as sim:
        yield sim


@pytest.fixture
def vcsim_fresh():
    """A simulator of the test's own, for tests that change vCenter (about 0.1 s to start)."""
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: cached rows must not outlive a rolled-back test."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _close_vcenter_sessions():
    """Pooled vCenter sessions must not outlive a test's simulator."""
    yield
    vc_connection.close_all()


def vsphere_content(sim):
    """Open a pyVmomi session on `sim` for a test to inspect vCenter directly."""
    si = SmartConnect(
        host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, protocol=sim.protocol
    )
    return si, si.RetrieveContent()


@pytest.fixture
def vsphere(vcsim_fresh):
    """pyVmomi content of the fresh simulator, to check vCenter's state after an operation."""
    si, content = vsphere_content(vcsim_fresh)
    yield content
    Disconnect(si)


@pytest.fixture
def platform(db, vcsim):
    """A platform registered for the session simulator."""
    return CloudPlatformFactory.for_simulator(vcsim, name="sim")


@pytest.fixture
def fresh_platform(db, vcsim_fresh):
    """A platform registered for the test's own simulator."""
    return CloudPlatformFactory.for_simulator(vcsim_fresh, name="sim-fresh")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


def api_client_for(user=None):
    """An API client signed in as `user` with a JWT bearer token (anonymous if None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
    return client


@pytest.fixture
def api(admin_user):
    """An API client signed in as a superuser."""
    return api_client_for(admin_user)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker process on Redis, consuming from the test database.

    Needs PostgreSQL (a worker cannot see an SQLite in-memory test database) and a broker in
    CELERY_BROKER_URL; otherwise the test is skipped with the reason.
    """
    broker = os.environ.get("CELERY_BROKER_URL")
    if not broker:
        pytest.skip("needs CELERY_BROKER_URL (Redis) for a real worker")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a worker process cannot share an SQLite test database")

    from kstack_naguan.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
    }
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    log_path = Path(os.environ.get("KSTACK_TEST_ARTIFACTS", "/tmp")) / f"celery-{queue}.log"
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kstack_naguan",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    old = (app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    app.conf.task_default_queue = queue
    try:
        _wait_for_worker(app, queue, process, log_path)
        yield process
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue = old
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


def _wait_for_worker(app, queue, process, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited: {log_path.read_text()[-2000:]}")
        if "ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready in {timeout}s: {log_path.read_text()[-2000:]}")


def wait_for_task_log(task_log_id, timeout=60):
    """Poll the TaskLog until it finishes (for tests with a real worker)."""
    from audit.models import TaskLog

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task_log = TaskLog.objects.get(pk=task_log_id)
        if task_log.is_finished:
            return task_log
        time.sleep(0.2)
    raise AssertionError(f"TaskLog {task_log_id} still {task_log.status} after {timeout}s")


@contextmanager
def failing_sql(pattern, exc_class=OperationalError):
    """Make every SQL statement matching `pattern` (a regex, case-insensitive) raise `exc_class`.

    A hand-built database fault for what no real service produces on demand (a full disk, a lost
    connection): the statement is refused before it reaches the database, in this thread only.
    """
    matcher = re.compile(pattern, re.IGNORECASE)

    def wrapper(execute, sql, params, many, context):
        if matcher.search(sql):
            raise exc_class("simulated database failure")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


@pytest.fixture
def fresh_synced(fresh_platform):
    """The test's own simulator registered and mirrored, for tests that change vCenter."""
    from vcenter import services

    task_log = services.start_sync(fresh_platform)
    task_log.refresh_from_db()
    assert task_log.status == "success", task_log.error
    return fresh_platform


def assert_vm_matches_vsphere(data, content):
    """Assert that the API's view of a VM (`data`) is what pyVmomi reads from vCenter."""
    from pyVmomi import vim

    from vcenter.operations import display_name

    vm = vim.VirtualMachine(data["moid"], content.propertyCollector._stub)
    assert data["name"] == display_name(vm.name)
    assert data["power_state"] == vm.runtime.powerState
    assert data["num_cpu"] == vm.config.hardware.numCPU
    assert data["memory_mb"] == vm.config.hardware.memoryMB
    assert data["is_template"] == vm.config.template
    assert data["host_name"] == vm.runtime.host.name
    assert data["datastore_names"] == sorted(ds.name for ds in vm.datastore)
