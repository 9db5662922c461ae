"""The embedded SQLite database queues concurrent writers instead of failing them.

Two requests that each read, then write, inside a transaction (a VM's change and the mirror's
refresh do) made SQLite answer "database is locked" to one of them, a 500 in the demo. The test
runs the project's own settings on a file database in a fresh process, as `make demo` does.
"""

import json
import subprocess
import sys

from .processes import REPO, project_env

WRITERS = 4

SCRIPT = f"""
import json, threading, time
import django
django.setup()
from django.db import connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE done (writer integer)")
errors = []
start = threading.Barrier({WRITERS})

def write(n):
    try:
        start.wait()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM done")
                time.sleep(0.2)
                cursor.execute("INSERT INTO done VALUES (%s)", [n])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=write, args=(n,)) for n in range({WRITERS})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM done")
    rows = cursor.fetchone()[0]
print(json.dumps({{"errors": errors, "rows": rows, "vendor": connection.vendor}}))
"""


def test_concurrent_read_then_write_transactions_all_commit_on_sqlite(tmp_path):
    env = project_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"errors": [], "rows": WRITERS, "vendor": "sqlite"}
