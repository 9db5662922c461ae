"""vCenter operations the API and the admin share: starting syncs, reading the tree."""

from audit.services import enqueue
from platforms.models import CloudPlatform

from . import tasks
from .models import Cluster, Datacenter, Host, VirtualMachine


def start_sync(platform, user=None):
    """Queue a sync of `platform` and return its TaskLog."""
    # TODO(#7): a lock so that two syncs of one platform never run at once.
    return enqueue(
        tasks.sync_platform, name="vcenter.sync", user=user, obj=platform, args=[platform.pk]
    )


def active_platforms():
    """The platforms a scheduled or "all" sync covers."""
    return CloudPlatform.objects.filter(is_active=True)


def inventory_tree(platform_id=None):
    """Datacenter → cluster → host → VM, per platform, read with a fixed number of queries."""

    # TODO(#7): folders and resource pools in the tree.
    def scoped(qs):
        return qs.filter(platform_id=platform_id) if platform_id else qs

    datacenters = list(
        scoped(Datacenter.objects.select_related("platform")).order_by("platform__name", "name")
    )
    clusters = list(
        scoped(Cluster.objects.all()).order_by("name").values("id", "moid", "name", "datacenter_id")
    )
    hosts = list(
        scoped(Host.objects.all())
        .order_by("name")
        .values("id", "moid", "name", "datacenter_id", "cluster_id", "connection_state")
    )
    vms = list(
        scoped(VirtualMachine.objects.all())
        .order_by("name")
        .values("id", "moid", "name", "host_id", "datacenter_id", "power_state", "is_template")
    )

    vms_by_host, loose_vms = {}, {}
    for vm in vms:
        node = {"type": "vm", **vm}
        if vm["host_id"]:
            vms_by_host.setdefault(vm["host_id"], []).append(node)
        else:
            loose_vms.setdefault(vm["datacenter_id"], []).append(node)
    hosts_by_cluster, standalone = {}, {}
    for host in hosts:
        node = {"type": "host", **host, "children": vms_by_host.get(host["id"], [])}
        if host["cluster_id"]:
            hosts_by_cluster.setdefault(host["cluster_id"], []).append(node)
        else:
            standalone.setdefault(host["datacenter_id"], []).append(node)
    clusters_by_dc = {}
    for cluster in clusters:
        node = {"type": "cluster", **cluster, "children": hosts_by_cluster.get(cluster["id"], [])}
        clusters_by_dc.setdefault(cluster["datacenter_id"], []).append(node)

    platforms = {}
    for dc in datacenters:
        entry = platforms.setdefault(
            dc.platform_id,
            {"type": "platform", "id": dc.platform_id, "name": dc.platform.name, "children": []},
        )
        children = (
            clusters_by_dc.get(dc.id, []) + standalone.get(dc.id, []) + loose_vms.get(dc.id, [])
        )
        entry["children"].append(
            {
                "type": "datacenter",
                "id": dc.id,
                "moid": dc.moid,
                "name": dc.name,
                "children": children,
            }
        )
    return list(platforms.values())
