"""Scaffolding shared by the benchmarks: environment, a throwaway database, child processes,
and the PASS/MISS lines they print.

A benchmark's parent process prepares a fresh PostgreSQL database and an environment with
generated secrets, then runs each measured variant in a child process (so that a variant's peak
memory is its own) that prints one JSON line with its figures.
"""

import json
import os
import platform as host_platform
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/kstack_bench"
RESULT_PREFIX = "BENCH-RESULT "


def bench_env(database_url=None, settings="kstack_naguan.settings", **extra):
    """The environment for the benchmark's Django processes, with freshly generated secrets.

    `BENCH_DATABASE_URL` overrides the database; a developer's `.env` is never read.
    """
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        DJANGO_ENV_FILE="",
        DJANGO_SETTINGS_MODULE=settings,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        KSTACK_FERNET_KEYS=Fernet.generate_key().decode(),
        DATABASE_URL=database_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        KSTACK_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


def recreate_database(env):
    """Drop and create the benchmark's PostgreSQL database, then migrate it."""
    import psycopg2

    parts = urlsplit(env["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if not name.startswith("kstack_bench"):
        raise SystemExit(f"refusing to drop {name!r}: benchmark databases are named kstack_bench*")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )


def run_child(args, env, timeout=600):
    """Run `python args...` from the repository root and return the JSON it reported."""
    result = subprocess.run(
        [PYTHON, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise RuntimeError(
        f"{' '.join(args)} exited with {result.returncode} without a result:\n"
        f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )


def report_result(data):
    """Print a child's figures as the one line `run_child` looks for."""
    print(RESULT_PREFIX + json.dumps(data), flush=True)


def peak_rss_mb():
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    """This process's current resident set size in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine():
    """A one-line description of the machine and its load when the benchmark ran."""
    cores = os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{host_platform.node()}: {cores} cores, {total_kib / 2**20:.0f} GiB, "
        f"Python {host_platform.python_version()}, load average {load}"
    )


def revision():
    """The commit measured, marked when the work tree holds uncommitted changes."""
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    commit = head.stdout.strip() or "unknown"
    return f"{commit} + uncommitted changes" if dirty.stdout.strip() else commit


def banner(title):
    """Print the benchmark's heading with date, machine and revision."""
    print(f"== {title} ==")
    print(time.strftime("date: %Y-%m-%d %H:%M %Z"))
    print(f"machine: {machine()}")
    print(f"revision: {revision()}", flush=True)


def verdict(label, value, target, *, at_most=False, unit="×"):
    """Print one ratio with PASS or MISS against its target; return whether it passed."""
    passed = value <= target if at_most else value >= target
    sign = "≤" if at_most else "≥"
    print(
        f"  {'PASS' if passed else 'MISS'}  {label}: {value:.2f}{unit} "
        f"(target {sign} {target:g}{unit})",
        flush=True,
    )
    return passed


def median(values):
    """The median of a non-empty list."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
