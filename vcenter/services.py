"""vCenter operations the API and the admin share: starting syncs, reading the tree.

`start_sync` claims the platform's sync lock before it queues the sync task, so that two syncs
of one platform never run at once: while one is queued or running, another start raises
`SyncRunning` naming the TaskLog of the one in progress. `inventory_tree` builds the
datacenter → folder → cluster → host → resource pool → VM tree the SPA shows, with a fixed
number of queries however large the inventory is.
"""

import logging
import time

from django.dispatch import receiver

from audit.models import TaskLog, TaskLogStatusChoices
from audit.reaper import task_reaped
from audit.services import enqueue
from platforms.models import CloudPlatform

from . import sync, tasks
from .models import Cluster, Datacenter, Folder, Host, ResourcePool, VirtualMachine
from .names import display_name

logger = logging.getLogger(__name__)

SYNC_TASK_NAME = "vcenter.sync"

# How long a refused start waits for the TaskLog of the sync that holds the lock to appear
# (the holder claims the lock a moment before it writes its TaskLog).
_HOLDER_WAIT_SECONDS = 1.0


class SyncRunning(Exception):
    """A sync of the platform is queued or running; `task_log` is its TaskLog when known."""

    def __init__(self, platform, task_log=None):
        self.platform = platform
        self.task_log = task_log
        where = f" (TaskLog {task_log.pk})" if task_log is not None else ""
        super().__init__(f"a sync of {platform.name} is already running{where}")


def running_sync(platform):
    """The TaskLog of the sync of `platform` that is pending or running, or None."""
    return (
        TaskLog.objects.filter(
            name=SYNC_TASK_NAME,
            object_type=CloudPlatform._meta.label,
            object_id=str(platform.pk),
            status__in=[TaskLogStatusChoices.PENDING, TaskLogStatusChoices.RUNNING],
        )
        .order_by("-created_at", "-id")
        .first()
    )


def _lock_holder_log(platform):
    deadline = time.monotonic() + _HOLDER_WAIT_SECONDS
    while True:
        task_log = running_sync(platform)
        if task_log is not None or time.monotonic() >= deadline:
            return task_log
        if sync.sync_lock_holder(platform.pk) is None:
            return None
        time.sleep(0.05)


def start_sync(platform, user=None):
    """Queue a sync of `platform` and return its TaskLog; raise `SyncRunning` if one is on.

    The lock is claimed here, handed to the task (which holds it while it runs and releases it
    when it ends) and released again if queueing fails. A worker that dies leaves the lock to
    expire (`settings.KSTACK_SYNC_LOCK_SECONDS`, 30 minutes by default).
    """
    token = sync.claim_sync_lock(platform.pk)
    if token is None:
        holder = _lock_holder_log(platform)
        logger.warning(
            "sync of %s refused: TaskLog %s holds it", platform.name, getattr(holder, "pk", "?")
        )
        raise SyncRunning(platform, holder)
    try:
        return enqueue(
            tasks.sync_platform,
            name=SYNC_TASK_NAME,
            user=user,
            obj=platform,
            args=[platform.pk, token],
        )
    except BaseException:
        sync.release_sync_lock(platform.pk, token)
        raise


def active_platforms():
    """The platforms a scheduled or "all" sync covers."""
    return CloudPlatform.objects.filter(is_active=True)


def _node(kind, row, **extra):
    name = display_name(row["name"])
    return {"type": kind, "id": row["id"], "moid": row["moid"], "name": name, **extra}


def inventory_tree(platform_id=None):
    """The inventory as nested nodes, per platform; None when `platform_id` names no platform.

    platform → datacenter → host folder → cluster → host → resource pool → VM. Under a cluster
    come its hosts, then its resource pools; a VM sits in its resource pool, or under its host
    when it is in the root pool (which, as in the vSphere client, is not shown). Each node is
    `{"type", "id", "moid", "name", "children"}` plus a few attributes of its kind. Seven
    queries, whatever the number of objects.
    """

    def scoped(qs):
        return qs.filter(platform_id=platform_id) if platform_id else qs

    # Read every level with one query each.
    platforms = CloudPlatform.objects.order_by("name").values("id", "name")
    if platform_id:
        platforms = platforms.filter(pk=platform_id)
    platforms = list(platforms)
    if platform_id and not platforms:
        return None
    datacenters = list(
        scoped(Datacenter.objects.order_by("name")).values("id", "moid", "name", "platform_id")
    )
    folders = list(
        scoped(Folder.objects.order_by("name")).values(
            "id", "moid", "name", "platform_id", "datacenter_id", "parent_moid", "child_types"
        )
    )
    clusters = list(
        scoped(Cluster.objects.order_by("name")).values(
            "id", "moid", "name", "platform_id", "datacenter_id", "folder_moid"
        )
    )
    hosts = list(
        scoped(Host.objects.order_by("name")).values(
            "id",
            "moid",
            "name",
            "platform_id",
            "datacenter_id",
            "cluster_id",
            "compute_resource_moid",
            "folder_moid",
            "connection_state",
            "power_state",
            "in_maintenance",
        )
    )
    pools = list(
        scoped(ResourcePool.objects.order_by("name")).values(
            "id",
            "moid",
            "name",
            "platform_id",
            "datacenter_id",
            "cluster_id",
            "owner_moid",
            "parent_moid",
        )
    )
    vms = list(
        scoped(VirtualMachine.objects.order_by("name")).values(
            "id",
            "moid",
            "name",
            "datacenter_id",
            "host_id",
            "resource_pool_id",
            "power_state",
            "is_template",
        )
    )

    # Datacenters and their host folders (the root host folder itself is not shown).
    dc_nodes, dc_moids = {}, {}
    for dc in datacenters:
        dc_nodes[dc["id"]] = _node("datacenter", dc, children=[])
        dc_moids[dc["id"]] = dc["moid"]
    folder_nodes, folder_rows = {}, []
    for folder in folders:
        root = folder["parent_moid"] == dc_moids.get(folder["datacenter_id"])
        if "ComputeResource" in (folder["child_types"] or []) and not root:
            folder_nodes[(folder["platform_id"], folder["moid"])] = _node(
                "folder", folder, children=[]
            )
            folder_rows.append(folder)
    for folder in folder_rows:
        parent = folder_nodes.get((folder["platform_id"], folder["parent_moid"]))
        parent = parent or dc_nodes.get(folder["datacenter_id"])
        if parent is not None:
            parent["children"].append(folder_nodes[(folder["platform_id"], folder["moid"])])

    def place(datacenter_id, platform, folder_moid, node):
        parent = folder_nodes.get((platform, folder_moid)) or dc_nodes.get(datacenter_id)
        if parent is not None:
            parent["children"].append(node)

    # Clusters, then hosts in their cluster or (standalone) in their host folder.
    cluster_nodes, cluster_pools = {}, {}
    for cluster in clusters:
        node = _node("cluster", cluster, datacenter_id=cluster["datacenter_id"], children=[])
        cluster_nodes[cluster["id"]] = node
        cluster_pools[cluster["id"]] = []
        place(cluster["datacenter_id"], cluster["platform_id"], cluster["folder_moid"], node)
    host_nodes, standalone = {}, {}
    for host in hosts:
        node = _node(
            "host",
            host,
            cluster_id=host["cluster_id"],
            connection_state=host["connection_state"],
            power_state=host["power_state"],
            in_maintenance=host["in_maintenance"],
            children=[],
        )
        host_nodes[host["id"]] = node
        if host["cluster_id"] in cluster_nodes:
            cluster_nodes[host["cluster_id"]]["children"].append(node)
        else:
            standalone[(host["platform_id"], host["compute_resource_moid"])] = node
            place(host["datacenter_id"], host["platform_id"], host["folder_moid"], node)

    # Resource pools below the root pool of their cluster or standalone host.
    pool_rows = {(pool["platform_id"], pool["moid"]): pool for pool in pools}
    pool_nodes = {}
    for pool in pools:
        if pool["parent_moid"] != pool["owner_moid"]:
            pool_nodes[pool["id"]] = _node(
                "resource_pool", pool, cluster_id=pool["cluster_id"], children=[]
            )
    host_pools = {}
    for pool in pools:
        node = pool_nodes.get(pool["id"])
        if node is None:
            continue
        parent = pool_rows.get((pool["platform_id"], pool["parent_moid"]))
        if parent is not None and parent["id"] in pool_nodes:
            pool_nodes[parent["id"]]["children"].append(node)
        elif pool["cluster_id"] in cluster_pools:
            cluster_pools[pool["cluster_id"]].append(node)
        elif (pool["platform_id"], pool["owner_moid"]) in standalone:
            host_pools.setdefault((pool["platform_id"], pool["owner_moid"]), []).append(node)
        elif pool["datacenter_id"] in dc_nodes:
            dc_nodes[pool["datacenter_id"]]["children"].append(node)
    for cluster_id, nodes in cluster_pools.items():
        cluster_nodes[cluster_id]["children"].extend(nodes)
    for key, nodes in host_pools.items():
        standalone[key]["children"].extend(nodes)

    # VMs in their resource pool, else under their host, else loose in their datacenter.
    for vm in vms:
        node = _node(
            "vm",
            vm,
            host_id=vm["host_id"],
            datacenter_id=vm["datacenter_id"],
            power_state=vm["power_state"],
            is_template=vm["is_template"],
        )
        parent = pool_nodes.get(vm["resource_pool_id"]) or host_nodes.get(vm["host_id"])
        parent = parent or dc_nodes.get(vm["datacenter_id"])
        if parent is not None:
            parent["children"].append(node)

    # Platforms on top, each with its datacenters.
    tree = {
        p["id"]: {"type": "platform", "id": p["id"], "name": p["name"], "children": []}
        for p in platforms
    }
    for dc in datacenters:
        if dc["platform_id"] in tree:
            tree[dc["platform_id"]]["children"].append(dc_nodes[dc["id"]])
    return list(tree.values())


@receiver(task_reaped)
def free_the_sync_lock_of_a_reaped_sync(sender, task_log, **kwargs):
    """A sync the reaper ended died holding its platform's lock: free it (unless another sync
    of that platform is under way), so the next sync need not wait for the lock to expire."""
    if task_log.name != SYNC_TASK_NAME or task_log.object_type != CloudPlatform._meta.label:
        return
    platform = CloudPlatform.objects.filter(pk=task_log.object_id).first()
    if platform is not None and running_sync(platform) is None:
        sync.break_sync_lock(platform.pk)
        logger.warning(
            "freed the sync lock of %s after the reaper ended TaskLog %s",
            platform.name,
            task_log.pk,
        )
