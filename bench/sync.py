"""Benchmark of the inventory sync on a simulated vCenter of 500 and 5,000 VMs, into PostgreSQL.

    .venv/bin/python bench/sync.py [--sizes 500,5000] [--rounds 3] [--naive-vms 500]
        [--latency-ms 1]

For each size it starts vcsim, then runs in child processes (each one's peak memory is its own):

- `retrieve`: the bare PropertyCollector read of the sync's properties, no database work (the
  floor: a sync cannot beat fetching its data);
- `sync`: a first sync into an empty mirror, then a second one with nothing changed, counting
  the rows the second one writes;
- `naive`: the attribute-by-attribute pyVmomi walk of `bench/naive.py` over the same properties,
  on every non-VM object and a sample of the VMs, extrapolated to all VMs.

`retrieve` and `sync` alternate for `--rounds` rounds; the sync's ratios to the retrieval are
taken within each round and their median is judged, so a load that drifts during the run touches
both sides alike. The database is `kstack_bench` on the local PostgreSQL
(`BENCH_DATABASE_URL` overrides it); it is dropped and created afresh.
"""

import argparse
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

VCSIM_USER = "bench@vsphere.local"
VCSIM_PASSWORD = "Bench-Pass-1"
# The optional run with latency is skipped past this point, to end within 10 minutes.
LATENCY_RUN_AFTER_SECONDS = 330
TARGETS = {"naive": 50.0, "floor": 1.3, "second": 0.5, "memory_mb": 400.0}


def model_for(vms):
    """A vcsim model of `vms` VMs: 100 VMs per cluster of 3 hosts, datastores and DV port
    groups in proportion (one of each per 250 VMs, at least 2)."""
    clusters = max(1, vms // 100)
    per_250 = max(2, vms // 250)
    return {
        "cluster": clusters,
        "host": 3,
        "standalone_host": 0,
        "vm": vms // clusters,
        "ds": per_250,
        "pg": per_250,
    }


# -- child processes -------------------------------------------------------------------------


def _django():
    import django

    django.setup()


def _sim_args():
    return {
        "host": os.environ["BENCH_VCSIM_HOST"],
        "port": int(os.environ["BENCH_VCSIM_PORT"]),
        "username": VCSIM_USER,
        "password": VCSIM_PASSWORD,
    }


def child_retrieve(reads):
    """Time `reads` bare PropertyCollector reads of the sync's properties."""
    _django()
    from vcenter.client import VCenterClient
    from vcenter.client.properties import read_inventory

    client = VCenterClient(**_sim_args(), protocol="http", verify_tls=False)
    client.connect()
    baseline = common.rss_mb()
    wall, cpu, objects = [], [], 0
    for _ in range(reads):
        started, started_cpu = time.perf_counter(), time.process_time()
        items = client.call(read_inventory)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        objects = len(items)
        del items
    client.close()
    common.report_result(
        {
            "seconds": wall,
            "cpu_seconds": cpu,
            "objects": objects,
            "baseline_rss_mb": baseline,
            "peak_rss_mb": common.peak_rss_mb(),
        }
    )


class _WriteCounter:
    """A database execute wrapper that counts the rows each INSERT, UPDATE or DELETE touched."""

    TABLE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.I)

    def __init__(self):
        self.rows = Counter()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        match = self.TABLE.match(sql)
        if match:
            verb = match.group(1).split()[0].upper()
            self.rows[f"{verb} {match.group(2)}"] += max(context["cursor"].rowcount, 0)
        return result


def child_sync(name):
    """A first sync into an empty mirror, then a second with nothing changed."""
    _django()
    from django.db import connection

    from platforms.models import CloudPlatform, PlatformType
    from vcenter.client import client_for_platform
    from vcenter.models import VirtualMachine
    from vcenter.sync import sync_platform

    # A fresh platform: deleting the old one cascades through its mirror.
    CloudPlatform.objects.filter(name__startswith="bench-").delete()
    platform = CloudPlatform(
        name=name,
        platform_type=PlatformType.objects.get_or_create(name="vCenter")[0],
        protocol="http",
        verify_tls=False,
        **{k: v for k, v in _sim_args().items() if k != "password"},
    )
    platform.password = VCSIM_PASSWORD
    platform.save()
    client_for_platform(platform).connect()
    baseline = common.rss_mb()

    # First sync: everything is new.
    started, started_cpu = time.perf_counter(), time.process_time()
    first = sync_platform(platform)
    first_seconds = time.perf_counter() - started
    first_cpu = time.process_time() - started_cpu
    peak_first = common.peak_rss_mb()
    vms = VirtualMachine.objects.filter(platform=platform).count()

    # Second sync: nothing changed in vCenter; count what it writes.
    counter = _WriteCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        second = sync_platform(platform)
        second_seconds = time.perf_counter() - started
    common.report_result(
        {
            "vms": vms,
            "baseline_rss_mb": baseline,
            "peak_rss_mb": peak_first,
            "first": {"seconds": first_seconds, "cpu_seconds": first_cpu, **first.as_dict()},
            "second": {"seconds": second_seconds, **second.as_dict()},
            "second_sql_writes": dict(counter.rows),
        }
    )


def child_naive(vm_every):
    """Walk the inventory attribute by attribute (bench/naive.py) and time it."""
    _django()
    from pyVim.connect import SmartConnect

    from bench.naive import NaiveWalk
    from vcenter.client import VCenterClient
    from vcenter.client.properties import INVENTORY_PROPERTIES, read_inventory

    # What is set on each object, from the PropertyCollector (not timed).
    client = VCenterClient(**_sim_args(), protocol="http", verify_tls=False)
    items = client.call(read_inventory)
    client.close()

    sim = _sim_args()

    def connect():
        si = SmartConnect(
            host=sim["host"],
            port=sim["port"],
            user=sim["username"],
            pwd=sim["password"],
            protocol="http",
        )
        return si.RetrieveContent()

    walk = NaiveWalk(connect)
    common.report_result(walk.walk(items, list(INVENTORY_PROPERTIES), vm_every=vm_every))


# -- the parent ----------------------------------------------------------------------------


def _child(mode, env, *args):
    return common.run_child(["bench/sync.py", "--child", mode, *map(str, args)], env)


def measure(size, env, rounds, naive_vms, delay_ms=None):
    """Start a simulator of `size` VMs (each SOAP call delayed by `delay_ms`) and measure
    every variant on it."""
    from kstack_naguan.testing.vcsim import Simulator

    model = model_for(size)
    started = time.perf_counter()
    with Simulator(username=VCSIM_USER, password=VCSIM_PASSWORD, delay_ms=delay_ms, **model) as sim:
        delayed = f", every call delayed {delay_ms} ms" if delay_ms else ""
        print(
            f"\n-- {sim.vm_count} VMs, {model['cluster'] * model['host']} hosts, "
            f"{model['ds']} datastores, {model['pg']} DV port groups{delayed} "
            f"(vcsim started in {time.perf_counter() - started:.1f}s)",
            flush=True,
        )
        env = {**env, "BENCH_VCSIM_HOST": sim.host, "BENCH_VCSIM_PORT": str(sim.port)}
        retrieves, syncs, naive = [], [], None
        for round_no in range(rounds):
            retrieves.append(_child("retrieve", env, 2))
            syncs.append(_child("sync", env, f"bench-{size}-{round_no}"))
            print(
                f"   round {round_no + 1}: retrieve {_fmt(retrieves[-1]['seconds'])}, "
                f"first sync {syncs[-1]['first']['seconds']:.2f}s, "
                f"second sync {syncs[-1]['second']['seconds']:.2f}s",
                flush=True,
            )

            # The naive walk runs between the rounds, so that the rounds straddle it.
            if round_no == 0:
                naive = _child("naive", env, max(1, size // naive_vms))
                print(
                    f"   naive walk: {naive['vms_walked']} of {naive['vms']} VMs and "
                    f"{naive['objects'] - naive['vms']} other objects in "
                    f"{naive['measured_seconds']:.1f}s, {naive['round_trips']} round trips, "
                    f"{naive['reconnects']} reconnects, {naive['name_mismatches']} name "
                    "mismatches",
                    flush=True,
                )
    return {"retrieve": retrieves, "sync": syncs, "naive": naive, "vms": sim.vm_count}


def _fmt(seconds):
    return "/".join(f"{s:.2f}s" for s in seconds)


def summarise(size, data):
    """Print the ratios for one size; return the figures used for growth and verdicts."""
    retrieve = common.median([s for r in data["retrieve"] for s in r["seconds"]])
    retrieve_cpu = common.median([s for r in data["retrieve"] for s in r["cpu_seconds"]])
    first = common.median([s["first"]["seconds"] for s in data["sync"]])
    second = common.median([s["second"]["seconds"] for s in data["sync"]])
    phases = {
        run: {
            phase: common.median([s[run].get(f"{phase}_seconds", 0.0) for s in data["sync"]])
            for phase in ("read", "image", "write")
        }
        for run in ("first", "second")
    }
    # Ratios within each round (drift between rounds cancels), then their median.
    floor_ratio = common.median(
        [
            s["first"]["seconds"] / common.median(r["seconds"])
            for r, s in zip(data["retrieve"], data["sync"], strict=True)
        ]
    )
    second_ratio = common.median(
        [s["second"]["seconds"] / s["first"]["seconds"] for s in data["sync"]]
    )
    first_cpu = common.median([s["first"]["cpu_seconds"] for s in data["sync"]])
    peak = max(s["peak_rss_mb"] for s in data["sync"])
    baseline = min(s["baseline_rss_mb"] for s in data["sync"])
    retrieve_peak = max(r["peak_rss_mb"] for r in data["retrieve"])
    naive = data["naive"]
    mirror_writes = Counter()
    for s in data["sync"]:
        for key, rows in s["second_sql_writes"].items():
            mirror_writes[key] += rows
    estimated = "" if naive["vms_walked"] == naive["vms"] else " (extrapolated from the sample)"

    print(f"\n== {size} VMs ({data['sync'][0]['vms']} mirrored) ==")
    print(
        f"  bare retrieval {retrieve:.2f}s (client CPU {retrieve_cpu:.2f}s; first sync's client "
        f"CPU {first_cpu:.2f}s)"
    )
    for run, seconds in (("first", first), ("second", second)):
        p = phases[run]
        rest = max(0.0, seconds - p["read"] - p["image"] - p["write"])
        print(
            f"  {run} sync {seconds:.2f}s = read {p['read']:.2f}s + ISO search {p['image']:.2f}s "
            f"+ database {p['write']:.2f}s + rows built and the rest {rest:.2f}s"
        )
    print(f"  naive walk {naive['estimated_seconds']:.1f}s{estimated}")
    print(
        f"  peak RSS: sync {peak:.0f} MiB (process baseline {baseline:.0f} MiB), "
        f"bare retrieval {retrieve_peak:.0f} MiB"
    )
    print(f"  SQL writes of the {len(data['sync'])} second syncs: {dict(mirror_writes) or 'none'}")
    return {
        "retrieve": retrieve,
        "first": first,
        "second": second,
        "first_write": phases["first"]["write"],
        "second_write": phases["second"]["write"],
        "first_image": phases["first"]["image"],
        "floor_ratio": floor_ratio,
        "second_ratio": second_ratio,
        "naive": naive["estimated_seconds"],
        "peak": peak,
        "baseline": baseline,
        "mirror_rows_written": sum(
            rows
            for key, rows in mirror_writes.items()
            if key.split()[1].startswith("vcenter_") or key.split()[1] == "audit_eventlog"
        ),
        "rows_written": max(s["second"]["rows_written"] for s in data["sync"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000", help="VM counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="retrieve/sync rounds per size")
    parser.add_argument(
        "--naive-vms", type=int, default=500, help="VMs the naive walk visits (a sample)"
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=1,
        help="also measure the largest size with this delay on every SOAP call (0: skip)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "retrieve":
        return child_retrieve(int(args.child_args[0]))
    if args.child == "sync":
        return child_sync(args.child_args[0])
    if args.child == "naive":
        return child_naive(int(args.child_args[0]))

    common.banner("bench/sync.py: inventory sync into PostgreSQL")
    sizes = [int(size) for size in args.sizes.split(",")]
    env = common.bench_env()
    started = time.perf_counter()
    common.recreate_database(env)
    print(f"database {env['DATABASE_URL'].rsplit('/', 1)[-1]} created and migrated", flush=True)
    figures = {}
    for size in sizes:
        figures[size] = summarise(size, measure(size, env, args.rounds, args.naive_vms))

    # Verdicts on the largest size, and growth from the smallest to the largest.
    big = figures[max(sizes)]
    print(f"\n== targets at {max(sizes)} VMs ==")
    common.verdict("naive walk / first sync", big["naive"] / big["first"], TARGETS["naive"])
    common.verdict(
        "first sync / bare retrieval",
        big["floor_ratio"],
        TARGETS["floor"],
        at_most=True,
    )
    common.verdict("second sync / first sync", big["second_ratio"], TARGETS["second"], at_most=True)
    print(
        f"  {'PASS' if big['mirror_rows_written'] == 0 else 'MISS'}  second sync writes "
        f"{big['mirror_rows_written']} inventory or event rows "
        f"(SyncReport.rows_written = {big['rows_written']}; target 0)"
    )
    common.verdict(
        "peak RSS of the sync process", big["peak"], TARGETS["memory_mb"], at_most=True, unit=" MiB"
    )
    print(
        f"  info  first sync without its ISO search / bare retrieval: "
        f"{(big['first'] - big['first_image']) / big['retrieve']:.2f}×"
    )
    print(
        f"  info  second sync / first sync, database phase only: "
        f"{big['second_write'] / big['first_write']:.2f}×"
    )
    if len(sizes) > 1:
        small = figures[min(sizes)]
        factor = max(sizes) / min(sizes)
        print(f"\n== growth from {min(sizes)} to {max(sizes)} VMs (×{factor:g}) ==")
        for label, key in (("first sync", "first"), ("second sync", "second")):
            print(f"  {label} time ×{big[key] / small[key]:.1f}")
        print(f"  bare retrieval time ×{big['retrieve'] / small['retrieve']:.1f}")
        print(
            f"  sync memory above the process baseline ×"
            f"{(big['peak'] - big['baseline']) / max(small['peak'] - small['baseline'], 1):.1f} "
            f"({small['peak'] - small['baseline']:.0f} → {big['peak'] - big['baseline']:.0f} MiB)"
        )

    # The same comparison with a little latency on every call, as a real vCenter has.
    if args.latency_ms and time.perf_counter() - started > LATENCY_RUN_AFTER_SECONDS:
        print(f"\n(the run with {args.latency_ms} ms per call is skipped: out of time)")
    elif args.latency_ms:
        data = measure(max(sizes), env, 1, args.naive_vms // 2, delay_ms=args.latency_ms)
        slow = summarise(max(sizes), data)
        print(f"\n== with {args.latency_ms} ms per SOAP call (information, no target) ==")
        print(f"  info  naive walk / first sync: {slow['naive'] / slow['first']:.1f}×")
        print(f"  info  first sync / bare retrieval: {slow['floor_ratio']:.2f}×")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    return None


if __name__ == "__main__":
    main()
