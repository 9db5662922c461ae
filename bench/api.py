"""Benchmark of the VM list API, the request log's cost, and logins, behind gunicorn.

    .venv/bin/python bench/api.py [--vms 10000] [--rounds 8] [--seconds 4]

It fills a fresh PostgreSQL database (`kstack_bench_api`; `BENCH_DATABASE_URL` overrides it)
with 10,000 mirrored VMs through `bulk_create` (no simulator needed), starts two gunicorn
servers of 2 sync workers each, one with the project's middleware and one without the request
log (`bench/settings_no_request_log.py`), and loads them from a second process: `wrk` when it
is installed (Debian's `wrk` package), otherwise a bounded loop of Python threads. Compared:

- `GET /api/vcenter/vms?page_size=100` against the plain Django view of `bench/views.py`
  returning the same 100 rows (target: at least 60% of its requests per second);
- the same list with the request-log middleware on and off (target: at least 90%);
- `POST /api/auth/login` with Django's default password hasher (logins per second, no target).

The variants are interleaved for `--rounds` rounds, each round starting with another variant,
and a target is judged on the median over rounds of the ratio within a round, so a load that
drifts during the run touches the compared variants alike. The workers' CPU time per request
(from /proc) is printed beside it as a cross-check that other processes' load does not sway. The operator signing in holds only the view
permission on VMs, through a role, as a real user would.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/kstack_bench_api"
OPERATOR = "bench-operator"
OPERATOR_PASSWORD = "Bench-Operator-Pass-42"
API_PATH = "/api/vcenter/vms?page_size=100"
PLAIN_PATH = "/api/bench/plain-vms?page_size=100"
LOGIN_PATH = "/api/auth/login"
TARGETS = {"api": 0.60, "request_log": 0.90}
PATHS = {"api": API_PATH, "plain": PLAIN_PATH}
# view_requestlog: the VM list API or the plain view, with the request log on or off.
VARIANTS = ["api_on", "plain_on", "api_off", "plain_off"]


# -- child processes -------------------------------------------------------------------------


def child_seed(count):
    """Fill the mirror with `count` VMs and create the operator; report their access token."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from accounts.services import issue_tokens
    from platforms.models import CloudPlatform, PlatformType
    from vcenter import models as m

    started = time.perf_counter()
    platform = CloudPlatform(
        name="bench-api",
        platform_type=PlatformType.objects.get_or_create(name="vCenter")[0],
        host="vcenter.bench.invalid",
        username="administrator@vsphere.local",
    )
    platform.password = "unused"
    platform.save()

    # The estate around the VMs: 20 clusters of 3 hosts, 40 datastores, 40 port groups.
    def make(model, n, prefix, **fields):
        objs = [
            model(platform=platform, moid=f"{prefix}-{i}", name=f"{prefix}-{i:03d}", **fields)
            for i in range(n)
        ]
        model.objects.bulk_create(objs)
        return list(model.objects.filter(platform=platform).order_by("id"))

    dc = make(m.Datacenter, 1, "datacenter")[0]
    folder = make(m.Folder, 1, "group-v", datacenter=dc)[0]
    clusters = make(m.Cluster, 20, "domain-c", datacenter=dc)
    hosts = m.Host.objects.bulk_create(
        m.Host(
            platform=platform,
            moid=f"host-{i}",
            name=f"esx{i:03d}.bench.invalid",
            datacenter=dc,
            cluster=clusters[i % len(clusters)],
        )
        for i in range(60)
    )
    pools = m.ResourcePool.objects.bulk_create(
        m.ResourcePool(
            platform=platform, moid=f"resgroup-{i}", name="Resources", datacenter=dc, cluster=c
        )
        for i, c in enumerate(clusters)
    )
    datastores = make(m.Datastore, 40, "datastore", datacenter=dc)
    networks = make(m.Network, 40, "dvportgroup", datacenter=dc)

    # The VMs, each on one or two datastores and networks.
    vms = []
    for i in range(count):
        host = hosts[i % len(hosts)]
        vms.append(
            m.VirtualMachine(
                platform=platform,
                moid=f"vm-{i + 1000}",
                name=f"app{i % 97:02d}-vm{i:05d}",
                datacenter=dc,
                cluster=host.cluster,
                host=host,
                resource_pool=pools[i % len(pools)],
                folder=folder,
                instance_uuid=f"5003{i:028x}",
                bios_uuid=f"4203{i:028x}",
                power_state="poweredOn" if i % 5 else "poweredOff",
                num_cpu=2 + i % 6,
                memory_mb=2048 * (1 + i % 8),
                guest_id="rhel9_64Guest",
                guest_full_name="Red Hat Enterprise Linux 9 (64-bit)",
                ip_address=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                ip_addresses=[f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", f"fe80::{i:x}"],
                hostname=f"app{i % 97:02d}-vm{i:05d}.bench.invalid",
                tools_status="guestToolsRunning",
                vm_path=f"[datastore-{i % 40:03d}] app{i:05d}/app{i:05d}.vmx",
                annotation="benchmark VM",
            )
        )
    vms = m.VirtualMachine.objects.bulk_create(vms, batch_size=2000)
    ds_links = m.VirtualMachine.datastores.through
    net_links = m.VirtualMachine.networks.through
    ds_links.objects.bulk_create(
        (
            ds_links(virtualmachine_id=vm.id, datastore_id=datastores[(i + k) % 40].id)
            for i, vm in enumerate(vms)
            for k in range(1 + i % 2)
        ),
        batch_size=5000,
    )
    net_links.objects.bulk_create(
        (
            net_links(virtualmachine_id=vm.id, network_id=networks[(i + k * 7) % 40].id)
            for i, vm in enumerate(vms)
            for k in range(1 + i % 2)
        ),
        batch_size=5000,
    )

    # An operator whose role grants only the view permission on VMs.
    role = Group.objects.create(name="bench-viewers")
    role.permissions.add(Permission.objects.get(codename="view_virtualmachine"))
    user = get_user_model().objects.create_user(OPERATOR, password=OPERATOR_PASSWORD)
    user.groups.add(role)
    common.report_result(
        {
            "vms": m.VirtualMachine.objects.count(),
            "seconds": time.perf_counter() - started,
            "token": issue_tokens(user)["access"],
        }
    )


def child_hasher(count):
    """Check the operator's password `count` times in-process: the hasher's cost on one core."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher

    user = get_user_model().objects.get(username=OPERATOR)
    hasher = get_hasher()
    started = time.perf_counter()
    for _ in range(count):
        assert user.check_password(OPERATOR_PASSWORD)
    seconds = time.perf_counter() - started
    common.report_result(
        {
            "hasher": settings.PASSWORD_HASHERS[0],
            "algorithm": hasher.algorithm,
            "iterations": getattr(hasher, "iterations", None),
            "django_default_iterations": PBKDF2PasswordHasher.iterations,
            "stored_algorithm": user.password.split("$", 1)[0],
            "per_second": count / seconds,
        }
    )


def child_requestlog_count():
    """How many request-log rows the run wrote."""
    import django

    django.setup()
    from audit.models import RequestLog

    common.report_result({"rows": RequestLog.objects.count()})


def child_load(port, method, path, seconds, threads, headers, body):
    """A bounded load loop: `threads` threads send requests for `seconds`; report the rate."""
    headers = json.loads(headers)
    ok, failed = [0] * threads, [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(slot):
        while time.perf_counter() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    ok[slot] += 1
                else:
                    failed[slot] += 1
            except OSError:
                failed[slot] += 1
            finally:
                conn.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(slot,)) for slot in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    common.report_result(
        {"requests": sum(ok), "errors": sum(failed), "per_second": sum(ok) / elapsed}
    )


# -- load generation -------------------------------------------------------------------------


def load(port, path, seconds, token, connections=4):
    """`(requests per second, requests)` of `GET path` for `seconds`, with wrk or Python."""
    wrk = shutil.which("wrk") if os.environ.get("BENCH_LOAD") != "python" else None
    if wrk:
        result = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "60s",
                "-H",
                f"Authorization: Bearer {token}",
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
        errors = re.search(r"Socket errors: (.*)", result.stdout)
        if non_2xx or (
            errors and re.search(r"(connect|read|write|timeout) [1-9]", errors.group(1))
        ):
            raise RuntimeError(f"errors under load on {path}:\n{result.stdout}")
        return rate, int(re.search(r"(\d+) requests in", result.stdout).group(1))
    data = common.run_child(
        [
            "bench/api.py",
            "--child",
            "load",
            str(port),
            "GET",
            path,
            str(seconds),
            str(connections),
            json.dumps({"Authorization": f"Bearer {token}"}),
            "",
        ],
        os.environ,
    )
    if data["errors"]:
        raise RuntimeError(f"{data['errors']} failed requests on {path}")
    return data["per_second"], data["requests"]


# -- gunicorn --------------------------------------------------------------------------------


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn serving the project with `settings`, 2 sync workers, on a free port."""

    def __init__(self, env, settings, workers=2):
        self.port = free_port()
        self.env = {**env, "DJANGO_SETTINGS_MODULE": settings}
        self.workers = workers
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [
                common.PYTHON,
                "-m",
                "gunicorn",
                "kstack_naguan.wsgi:application",
                "--workers",
                str(self.workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=common.REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                status, _ = self.get("/api/bench/plain-vms?page_size=1")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def __exit__(self, *exc_info):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def worker_cpu_seconds(self):
        """CPU time (user + system) the workers have used so far, from /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.process.pid:  # a child of the master: a worker
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def request(self, method, path, token=None, body=None):
        """One request; returns (status, parsed JSON or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None

    def get(self, path, token=None):
        """`GET path`; returns (status, parsed JSON or None)."""
        return self.request("GET", path, token)


def check_same_rows(server, token):
    """The API and the baseline must answer with the same rows, or the comparison means nothing."""
    status, api = server.get(API_PATH, token)
    if status != 200:
        raise RuntimeError(f"{API_PATH} answered {status}: {api}")
    status, plain = server.get(PLAIN_PATH)
    if status != 200:
        raise RuntimeError(f"{PLAIN_PATH} answered {status}")
    api_rows, plain_rows = api["data"]["results"], plain["results"]
    if [row["id"] for row in api_rows] != [row["id"] for row in plain_rows]:
        raise RuntimeError("the baseline returns other rows than the API")
    if set(api_rows[0]) != set(plain_rows[0]):
        raise RuntimeError(f"fields differ: {set(api_rows[0]) ^ set(plain_rows[0])}")
    for key in ("name", "host_name", "datastore_names", "network_names", "ip_addresses"):
        if api_rows[0][key] != plain_rows[0][key]:
            raise RuntimeError(f"{key} differs: {api_rows[0][key]!r} != {plain_rows[0][key]!r}")
    return len(api_rows), api["data"]["count"]


def login_rate(server, seconds, threads=4):
    """Logins per second through the API for `seconds`, from a second process."""
    body = json.dumps({"username": OPERATOR, "password": OPERATOR_PASSWORD})
    status, answer = server.request("POST", LOGIN_PATH, body=body)
    if status != 200:
        raise RuntimeError(f"login answered {status}: {answer}")
    data = common.run_child(
        [
            "bench/api.py",
            "--child",
            "load",
            str(server.port),
            "POST",
            LOGIN_PATH,
            str(seconds),
            str(threads),
            json.dumps({"Content-Type": "application/json"}),
            body,
        ],
        os.environ,
    )
    if data["errors"]:
        raise RuntimeError(f"{data['errors']} logins failed")
    return data


# -- the parent ----------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000, help="VMs in the mirror")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds of every load")
    parser.add_argument("--seconds", type=int, default=4, help="length of one load run")
    parser.add_argument(
        "--load", choices=["auto", "python"], default="auto", help="python: never use wrk"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "seed":
        return child_seed(int(args.child_args[0]))
    if args.child == "hasher":
        return child_hasher(int(args.child_args[0]))
    if args.child == "requestlog":
        return child_requestlog_count()
    if args.child == "load":
        port, method, path, seconds, threads, headers, body = args.child_args
        return child_load(int(port), method, path, float(seconds), int(threads), headers, body)

    common.banner("bench/api.py: the VM list, the request log and logins behind gunicorn")
    if args.load == "python":
        os.environ["BENCH_LOAD"] = "python"
    wrk = shutil.which("wrk") if args.load != "python" else None
    print(f"load generator: {wrk or 'Python threads in a second process'}")
    started = time.perf_counter()
    env = common.bench_env(
        os.environ.get("BENCH_DATABASE_URL", DATABASE_URL),
        settings="bench.settings",
        KSTACK_LOGIN_RATE="1000000/min",
    )
    os.environ.update(env)
    common.recreate_database(env)
    seeded = common.run_child(["bench/api.py", "--child", "seed", str(args.vms)], env)
    token = seeded["token"]
    print(f"database seeded with {seeded['vms']} VMs in {seeded['seconds']:.1f}s", flush=True)

    rates = {key: [] for key in VARIANTS}
    cpu_ms = {key: [] for key in VARIANTS}
    with (
        Gunicorn(env, "bench.settings") as logged,
        Gunicorn(env, "bench.settings_no_request_log") as unlogged,
    ):
        servers = {"on": logged, "off": unlogged}
        rows, count = check_same_rows(logged, token)
        check_same_rows(unlogged, token)
        print(f"both answer the same {rows} rows of {count}; 2 gunicorns of 2 sync workers each")

        # Warm both servers up, then interleave the variants, starting each round elsewhere.
        for server in servers.values():
            load(server.port, API_PATH, 2, token)
            load(server.port, PLAIN_PATH, 2, token)
        for round_no in range(args.rounds):
            shift = round_no % len(VARIANTS)
            for key in VARIANTS[shift:] + VARIANTS[:shift]:
                view, log = key.split("_")
                server = servers[log]
                cpu_before = server.worker_cpu_seconds()
                rate, requests = load(server.port, PATHS[view], args.seconds, token)
                cpu = server.worker_cpu_seconds() - cpu_before
                rates[key].append(rate)
                cpu_ms[key].append(cpu * 1000 / max(requests, 1))
            print(
                f"   round {round_no + 1}: "
                + ", ".join(f"{key} {values[-1]:.1f}/s" for key, values in rates.items()),
                flush=True,
            )

        # Logins through the API, then the hasher alone on one core.
        login_seconds = max(args.seconds, 10)
        logins = login_rate(logged, login_seconds)
    hasher = common.run_child(["bench/api.py", "--child", "hasher", "5"], env)
    logged_rows = common.run_child(["bench/api.py", "--child", "requestlog"], env)["rows"]

    median = {key: common.median(values) for key, values in rates.items()}
    cpu = {key: common.median(values) for key, values in cpu_ms.items()}

    def paired(top, bottom):
        # The median over rounds of the ratio within each round: drift between rounds cancels.
        return common.median([a / b for a, b in zip(rates[top], rates[bottom], strict=True)])

    print(f"\n== requests per second, median of {args.rounds} runs of {args.seconds}s ==")
    for view, path in PATHS.items():
        print(
            f"  GET {path}: {median[f'{view}_on']:.1f}/s, "
            f"{cpu[f'{view}_on']:.0f} ms of worker CPU per request "
            f"(request log off: {median[f'{view}_off']:.1f}/s, {cpu[f'{view}_off']:.0f} ms)"
        )
    print(f"  request-log rows written during the run: {logged_rows}")
    print("\n== targets (median of the per-round ratios) ==")
    common.verdict(
        "VM list API / plain Django view (request log on in both)",
        paired("api_on", "plain_on") * 100,
        TARGETS["api"] * 100,
        unit="%",
    )
    common.verdict(
        "VM list API with / without the request log",
        paired("api_on", "api_off") * 100,
        TARGETS["request_log"] * 100,
        unit="%",
    )
    print(
        f"  info  the same from worker CPU per request: API / plain "
        f"{cpu['plain_on'] / cpu['api_on'] * 100:.0f}%, with / without the request log "
        f"{cpu['api_off'] / cpu['api_on'] * 100:.0f}%"
    )
    print(
        f"  info  VM list API / plain view, request log off in both: "
        f"{paired('api_off', 'plain_off') * 100:.0f}%; plain view with / without the request "
        f"log: {paired('plain_on', 'plain_off') * 100:.0f}%"
    )
    default = hasher["hasher"].endswith(".PBKDF2PasswordHasher") and (
        hasher["iterations"] == hasher["django_default_iterations"]
    )
    print("\n== logins (report only) ==")
    print(
        f"  {'PASS' if default else 'MISS'}  hasher {hasher['algorithm']} with "
        f"{hasher['iterations']:,} iterations (Django's default: "
        f"{hasher['django_default_iterations']:,}); stored hash {hasher['stored_algorithm']}"
    )
    print(
        f"  info  {logins['per_second']:.2f} logins/s through the API "
        f"({logins['requests']} in {login_seconds}s, 4 clients, 2 workers); "
        f"{hasher['per_second']:.2f} password checks/s on one core in-process"
    )
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    return None


if __name__ == "__main__":
    main()
