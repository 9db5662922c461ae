"""Real Celery workers a test can start, kill with SIGKILL and start again.

Like the suite's `celery_worker` fixture (tests/conftest.py) but with a broker of the test's
own: a key prefix in Redis keeps its queue and its unacknowledged messages apart from other test
runs sharing the server, and a short visibility timeout makes the broker deliver again, within
seconds, the task of a worker that died.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from ..conftest import REPO_ROOT, _wait_for_worker


@dataclass
class Broker:
    """The queue, environment and worker processes of one test."""

    url: str
    queue: str
    env: dict
    log_dir: Path
    processes: list = field(default_factory=list)

    def start_worker(self):
        """Start a worker (solo pool) on the test's queue and wait until it is ready."""
        from kstack_naguan.celery import app

        log_path = self.log_dir / f"celery-{self.queue}-{len(self.processes)}.log"
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
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        process.log_path = log_path
        process.log_file = log_file
        self.processes.append(process)
        _wait_for_worker(app, self.queue, process, log_path)
        return process

    @staticmethod
    def kill(process):
        """SIGKILL: the worker dies at once, acknowledging nothing."""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.log_file.close()


def _reset_producer_pool(app):
    # The publishing pools keep the options they were made with: drop them (as Celery does
    # after a fork) so the next publish connects with the current ones.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def own_broker(visibility_timeout):
    """Point this process's Celery app at a queue and key prefix of the test's own.

    Skips without PostgreSQL (a worker cannot see an SQLite test database) or a broker.
    """
    from kstack_naguan.celery import app

    url = os.environ.get("CELERY_BROKER_URL")
    if not url:
        pytest.skip("needs CELERY_BROKER_URL (Redis) for a real worker")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: a worker process cannot share an SQLite test database")

    tag = f"rel-{os.getpid()}-{time.monotonic_ns()}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": url,
        "KSTACK_BROKER_VISIBILITY_TIMEOUT": str(visibility_timeout),
        "KSTACK_BROKER_KEY_PREFIX": f"{tag}:",
    }
    options = {"visibility_timeout": visibility_timeout, "global_keyprefix": f"{tag}:"}
    names = ("task_always_eager", "broker_url", "task_default_queue", "broker_transport_options")
    old = {name: app.conf[name] for name in names}
    app.conf.update(
        task_always_eager=False,
        broker_url=url,
        task_default_queue=tag,
        broker_transport_options=options,
    )
    _reset_producer_pool(app)
    log_dir = Path(os.environ.get("KSTACK_TEST_ARTIFACTS", "/tmp"))
    broker = Broker(url=url, queue=tag, env=env, log_dir=log_dir)
    try:
        yield broker
    finally:
        broker.stop_all()
        app.conf.update(old)
        _reset_producer_pool(app)


def wait_until(predicate, timeout, what):
    """Poll `predicate` every 0.1 s until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout}s")
