"""Shared helpers of the reliability suite: where its figures go, and small fixtures."""

import fcntl
import json
import os
from datetime import date
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

FIGURES_FILE = "reliability.json"


def record_figure(test, **figures):
    """Print `figures` for `test` and merge them into `$KSTACK_TEST_ARTIFACTS/reliability.json`.

    docs/reliability.md quotes the last figures measured; CI keeps this file as an artifact so
    the next measurement can be compared with it. Without KSTACK_TEST_ARTIFACTS only the print
    remains (pytest shows it with -s or -rA).
    """
    print(f"reliability figure {test}: {json.dumps(figures, sort_keys=True)}")
    folder = os.environ.get("KSTACK_TEST_ARTIFACTS")
    if not folder:
        return
    path = Path(folder) / FIGURES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers write the same file: one at a time.
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = json.loads(path.read_text())
        except (OSError, ValueError):
            current = {}
        current[test] = {**figures, "measured": date.today().isoformat()}
        path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def needs_postgresql(transactional_db):
    """Skip a race test on SQLite, whose single writer makes every race a queue."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so nothing races")


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, for schemathesis to call in-process.

    As Django's test client does, the handler does not close the database connection at the
    end of a request: that connection holds the test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
