"""The API benchmark's baseline: the VM list as a plain Django view, the floor for DRF.

It answers `GET /api/bench/plain-vms?page_size=N` with the same rows, fields and order as
`GET /api/vcenter/vms?page_size=N` (names of the related objects, sorted datastore and network
names, the total count), read with `values()` and serialised by `JsonResponse`. It has no
authentication, permissions, filters or envelope: it is what the list would cost with none of
the framework around it.
"""

from collections import defaultdict

from django.db.models import F
from django.http import JsonResponse

from vcenter.models import VirtualMachine

MAX_PAGE_SIZE = 200
FIELDS = [
    "id",
    "platform",
    "moid",
    "name",
    "instance_uuid",
    "bios_uuid",
    "power_state",
    "num_cpu",
    "memory_mb",
    "guest_id",
    "guest_full_name",
    "ip_address",
    "ip_addresses",
    "hostname",
    "tools_status",
    "is_template",
    "vm_path",
    "annotation",
    "datacenter",
    "cluster",
    "host",
    "resource_pool",
    "folder",
    "synced_at",
]
NAMES = {
    "platform_name": F("platform__name"),
    "datacenter_name": F("datacenter__name"),
    "cluster_name": F("cluster__name"),
    "host_name": F("host__name"),
    "resource_pool_name": F("resource_pool__name"),
    "folder_name": F("folder__name"),
}


def _names(through, target, vm_ids):
    # {vm id: sorted names} over one many-to-many table, in one query.
    names = defaultdict(list)
    rows = through.objects.filter(virtualmachine_id__in=vm_ids).values_list(
        "virtualmachine_id", f"{target}__name"
    )
    for vm_id, name in rows:
        names[vm_id].append(name)
    return {vm_id: sorted(values) for vm_id, values in names.items()}


def plain_vm_list(request):
    """The first page of VMs ordered by name, as plain JSON."""
    try:
        page_size = max(1, min(int(request.GET.get("page_size", 20)), MAX_PAGE_SIZE))
    except ValueError:
        page_size = 20
    vms = VirtualMachine.objects.order_by("name", "id")
    rows = list(vms.values(*FIELDS, **NAMES)[:page_size])
    ids = [row["id"] for row in rows]
    datastores = _names(VirtualMachine.datastores.through, "datastore", ids)
    networks = _names(VirtualMachine.networks.through, "network", ids)
    for row in rows:
        row["datastore_names"] = datastores.get(row["id"], [])
        row["network_names"] = networks.get(row["id"], [])
    return JsonResponse({"count": vms.count(), "page": 1, "page_size": page_size, "results": rows})
