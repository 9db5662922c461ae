"""Inventory sync: mirror one vCenter's datacenters, clusters, hosts, pools, datastores,
networks and VMs into the database.

The whole inventory is read in a few round trips (`client.properties.read_inventory`), turned
into plain rows, and compared with what the database holds for the platform. New rows are
bulk-inserted, changed rows bulk-updated (only the fields that changed), vanished rows deleted,
and many-to-many links diffed, all in one transaction: a sync that fails part-way leaves the
mirror as it was. A second sync with nothing changed writes nothing. VMs that appeared,
disappeared or changed power state are written to the event log.

The datastores are searched for `.iso` files in the same sync (`client.datastores`) and the
ISO images table follows what was found. Two syncs of one platform never run at once:
`sync_lock` holds a per-platform cache key for the duration of a sync.
"""

import hashlib
import logging
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from audit.models import EventLog

from .client import client_for_platform
from .client.datastores import find_iso_images
from .client.properties import read_inventory, read_vm
from .models import (
    Cluster,
    Datacenter,
    Datastore,
    Folder,
    Host,
    IsoImage,
    Network,
    NetworkKindChoices,
    ResourcePool,
    VirtualMachine,
)

logger = logging.getLogger(__name__)

BULK_BATCH = 1000


@dataclass
class Counts:
    """What a sync did to one model's rows."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    total: int = 0


@dataclass
class SyncReport:
    """The outcome of a sync, as stored in the TaskLog result."""

    counts: dict = field(default_factory=dict)
    read_seconds: float = 0.0
    image_seconds: float = 0.0
    write_seconds: float = 0.0
    duration_seconds: float = 0.0
    image_failures: dict = field(default_factory=dict)

    @property
    def rows_written(self):
        """How many rows the sync inserted, updated or deleted, over all models."""
        return sum(c.added + c.changed + c.removed for c in self.counts.values())

    def as_dict(self):
        """A JSON-serialisable summary."""
        return {
            "counts": {name: vars(c) for name, c in self.counts.items()},
            "rows_written": self.rows_written,
            "read_seconds": round(self.read_seconds, 3),
            "image_seconds": round(self.image_seconds, 3),
            "write_seconds": round(self.write_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
            "image_failures": dict(self.image_failures),
        }


class Inventory:
    """The raw property dicts of one vCenter, indexed by type and moid, with parent lookups."""

    def __init__(self, items):
        self.by_type = {}
        self.by_moid = {}
        for item in items:
            self.by_type.setdefault(item["_type"], []).append(item)
            self.by_moid[item["_moid"]] = item

    def of(self, *types):
        """All objects whose type is one of `types`."""
        return [item for name in types for item in self.by_type.get(name, [])]

    def ancestor(self, moid, type_name):
        """The moid of the nearest ancestor of `moid` of type `type_name`, or None."""
        seen = 0
        item = self.by_moid.get(moid)
        while item is not None and seen < 64:
            parent = item.get("parent")
            item = self.by_moid.get(parent)
            if item is not None and item["_type"] == type_name:
                return item["_moid"]
            seen += 1
        return None


def _vlan(port_config):
    vlan = getattr(port_config, "vlan", None)
    vlan_id = getattr(vlan, "vlanId", None)
    return vlan_id if isinstance(vlan_id, int) else None


def _standard_port_groups(inv):
    """VLAN and vSwitch of each standard port group, read from the hosts that carry it.

    A standard port group is configured per host; the value most hosts agree on wins. Returns
    {network moid: (vlan id, vswitch name)}.
    """
    names = {item["_moid"]: item.get("name", "") for item in inv.of("Network")}
    seen = {}
    for host in inv.of("HostSystem"):
        by_name = {pg.spec.name: pg for pg in host.get("config.network.portgroup") or [] if pg.spec}
        for moid in host.get("network") or []:
            pg = by_name.get(names.get(moid))
            if pg is not None:
                vswitch = (pg.spec.vswitchName or "") if pg.spec else ""
                seen.setdefault(moid, Counter())[(pg.spec.vlanId, vswitch)] += 1
    return {moid: counter.most_common(1)[0][0] for moid, counter in seen.items()}


def _vm_addresses(guest_net):
    addresses = []
    for nic in guest_net or []:
        for address in getattr(nic, "ipAddress", None) or []:
            if address not in addresses:
                addresses.append(address)
    return addresses


def _cluster_flags(config):
    drs = getattr(getattr(config, "drsConfig", None), "enabled", None)
    ha = getattr(getattr(config, "dasConfig", None), "enabled", None)
    return bool(drs), bool(ha)


class _Mirror:
    """Upserts one model's rows for one platform and keeps a moid → id map for foreign keys."""

    def __init__(self, model, platform, fields):
        self.model = model
        self.platform = platform
        self.fields = fields
        self.ids = {}
        self.counts = Counts()
        self.existing = {
            row["moid"]: row
            for row in model.objects.filter(platform=platform).values("id", "moid", *fields)
        }

    def apply(self, rows):
        """Make the table hold exactly `rows` ({moid: {field: value}}) for the platform."""
        new, changed = [], []
        for moid, values in rows.items():
            old = self.existing.get(moid)
            if old is None:
                new.append(self.model(platform=self.platform, moid=moid, **values))
                continue
            self.ids[moid] = old["id"]
            if any(old[name] != value for name, value in values.items()):
                changed.append(self.model(id=old["id"], **values))

        # Insert new rows, then read back their ids (bulk_create does not return ids everywhere).
        if new:
            self.model.objects.bulk_create(new, batch_size=BULK_BATCH)
            added = {m.moid for m in new}
            for row in self.model.objects.filter(platform=self.platform, moid__in=added).values(
                "id", "moid"
            ):
                self.ids[row["moid"]] = row["id"]

        # Update changed rows in bulk, touching only mirrored fields and the sync time.
        if changed:
            for obj in changed:
                obj.synced_at = timezone.now()
            self.model.objects.bulk_update(
                changed, [*self.fields, "synced_at"], batch_size=BULK_BATCH
            )

        self.counts = Counts(added=len(new), changed=len(changed), total=len(rows))
        self.vanished = [row for moid, row in self.existing.items() if moid not in rows]
        return self

    def remove_vanished(self):
        """Delete rows whose object is gone from vCenter."""
        if self.vanished:
            self.model.objects.filter(id__in=[row["id"] for row in self.vanished]).delete()
        self.counts.removed = len(self.vanished)


def _sync_links(through, left, right, wanted, left_ids=None):
    """Make the m2m table `through` hold exactly the (left_id, right_id) pairs in `wanted`.

    Only rows whose left side is in `left_ids` (by default: the left ids of `wanted`) are
    compared, so an object that lost all its links is cleared when its id is passed.
    """
    left_ids = {pair[0] for pair in wanted} | set(left_ids or ())
    current = {
        (a, b): link_id
        for link_id, a, b in through.objects.filter(**{f"{left}__in": left_ids}).values_list(
            "id", left, right
        )
    }
    missing = wanted - current.keys()
    extra = [link_id for pair, link_id in current.items() if pair not in wanted]
    if missing:
        through.objects.bulk_create(
            [through(**{left: a, right: b}) for a, b in missing], batch_size=BULK_BATCH
        )
    # Remove the links that went, a batch of ids per statement.
    for start in range(0, len(extra), BULK_BATCH):
        through.objects.filter(id__in=extra[start : start + BULK_BATCH]).delete()
    return len(missing) + len(extra)


def vm_values(item):
    """A VM's mirrored fields from its property dict, foreign keys still as moids.

    `datacenter` and `cluster` are left for the caller, which knows the inventory around it.
    """
    addresses = _vm_addresses(item.get("guest.net"))
    primary = item.get("guest.ipAddress") or ""
    if primary and primary not in addresses:
        addresses.insert(0, primary)
    return {
        "name": item.get("name", ""),
        "host": item.get("runtime.host"),
        "resource_pool": item.get("resourcePool"),
        "folder": item.get("parent"),
        "instance_uuid": item.get("config.instanceUuid") or "",
        "bios_uuid": item.get("config.uuid") or "",
        "power_state": str(item.get("runtime.powerState") or "poweredOff"),
        "num_cpu": item.get("summary.config.numCpu") or 0,
        "memory_mb": item.get("summary.config.memorySizeMB") or 0,
        "guest_id": item.get("config.guestId") or "",
        "guest_full_name": item.get("config.guestFullName") or "",
        "ip_address": primary,
        "ip_addresses": addresses,
        "hostname": item.get("guest.hostName") or "",
        "tools_status": str(item.get("guest.toolsRunningStatus") or ""),
        "is_template": bool(item.get("config.template")),
        "vm_path": item.get("config.files.vmPathName") or "",
        "annotation": item.get("config.annotation") or "",
    }


def build_rows(inv):
    """Turn raw inventory into {model: {moid: field values}}, with foreign keys as moids."""
    rows = {}
    dc_of = {}

    rows[Datacenter] = {
        item["_moid"]: {"name": item.get("name", "")} for item in inv.of("Datacenter")
    }

    def datacenter(moid):
        if moid not in dc_of:
            dc_of[moid] = inv.ancestor(moid, "Datacenter")
        return dc_of[moid]

    rows[Folder] = {
        item["_moid"]: {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "parent_moid": item.get("parent") or "",
            "child_types": list(item.get("childType") or []),
        }
        for item in inv.of("Folder")
    }

    rows[Cluster] = {}
    for item in inv.of("ClusterComputeResource"):
        drs, ha = _cluster_flags(item.get("configurationEx"))
        rows[Cluster][item["_moid"]] = {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "folder_moid": item.get("parent") or "",
            "total_cpu_mhz": item.get("summary.totalCpu") or 0,
            "total_memory_bytes": item.get("summary.totalMemory") or 0,
            "num_hosts": item.get("summary.numHosts") or 0,
            "drs_enabled": drs,
            "ha_enabled": ha,
        }

    rows[Host] = {}
    for item in inv.of("HostSystem"):
        parent = item.get("parent") or ""
        rows[Host][item["_moid"]] = {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "cluster": parent if parent in rows[Cluster] else None,
            "compute_resource_moid": parent,
            # A standalone host sits in its compute resource, which sits in a host folder.
            "folder_moid": ""
            if parent in rows[Cluster]
            else (inv.by_moid.get(parent) or {}).get("parent") or "",
            "connection_state": str(item.get("runtime.connectionState") or ""),
            "power_state": str(item.get("runtime.powerState") or ""),
            "in_maintenance": bool(item.get("runtime.inMaintenanceMode")),
            "cpu_cores": item.get("summary.hardware.numCpuCores") or 0,
            "cpu_mhz": item.get("summary.hardware.cpuMhz") or 0,
            "memory_bytes": item.get("summary.hardware.memorySize") or 0,
            "version": item.get("summary.config.product.version") or "",
        }

    rows[ResourcePool] = {}
    for item in inv.of("ResourcePool", "VirtualApp"):
        owner = item.get("owner") or ""
        rows[ResourcePool][item["_moid"]] = {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "cluster": owner if owner in rows[Cluster] else None,
            "owner_moid": owner,
            "parent_moid": item.get("parent") or "",
            "cpu_limit": item.get("config.cpuAllocation.limit"),
            "cpu_reservation": item.get("config.cpuAllocation.reservation"),
            "memory_limit": item.get("config.memoryAllocation.limit"),
            "memory_reservation": item.get("config.memoryAllocation.reservation"),
        }

    rows[Datastore] = {
        item["_moid"]: {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "type": item.get("summary.type") or "",
            "url": item.get("summary.url") or "",
            "capacity_bytes": item.get("summary.capacity") or 0,
            "free_bytes": item.get("summary.freeSpace") or 0,
            "accessible": bool(item.get("summary.accessible", True)),
        }
        for item in inv.of("Datastore")
    }

    switches = {
        item["_moid"]: item
        for item in inv.of("VmwareDistributedVirtualSwitch", "DistributedVirtualSwitch")
    }
    standard = _standard_port_groups(inv)
    rows[Network] = {}
    for item in inv.of("Network", "OpaqueNetwork", "DistributedVirtualPortgroup"):
        distributed = item["_type"] == "DistributedVirtualPortgroup"
        port_config = item.get("config.defaultPortConfig")
        # A standard vSwitch is no managed object: its name stands in for the switch's moid.
        standard_vlan, vswitch = standard.get(item["_moid"], (None, ""))
        switch = (item.get("config.distributedVirtualSwitch") or "") if distributed else vswitch
        rows[Network][item["_moid"]] = {
            "name": item.get("name", ""),
            "datacenter": datacenter(item["_moid"]),
            "kind": (
                NetworkKindChoices.DISTRIBUTED
                if distributed
                else NetworkKindChoices.OPAQUE
                if item["_type"] == "OpaqueNetwork"
                else NetworkKindChoices.STANDARD
            ),
            "switch_moid": switch,
            "switch_name": (switches.get(switch) or {}).get("name") or switch
            if distributed
            else vswitch,
            "switch_uuid": (switches.get(switch) or {}).get("uuid") or "",
            "portgroup_key": item.get("key") or "",
            "vlan_id": _vlan(port_config) if distributed else standard_vlan,
            "is_uplink": distributed
            and _vlan(port_config) is None
            and "uplink" in item.get("name", "").lower(),
        }

    rows[VirtualMachine] = {}
    for item in inv.of("VirtualMachine"):
        values = vm_values(item)
        values["datacenter"] = datacenter(item["_moid"])
        values["cluster"] = (rows[Host].get(values["host"]) or {}).get("cluster")
        rows[VirtualMachine][item["_moid"]] = values
    return rows


# Foreign keys per model: field name → model whose moid it names.
_FOREIGN_KEYS = {
    Folder: {"datacenter": Datacenter},
    Cluster: {"datacenter": Datacenter},
    Host: {"datacenter": Datacenter, "cluster": Cluster},
    ResourcePool: {"datacenter": Datacenter, "cluster": Cluster},
    Datastore: {"datacenter": Datacenter},
    Network: {"datacenter": Datacenter},
    VirtualMachine: {
        "datacenter": Datacenter,
        "host": Host,
        "cluster": Cluster,
        "resource_pool": ResourcePool,
        "folder": Folder,
    },
}
_ORDER = [Datacenter, Folder, Cluster, Host, ResourcePool, Datastore, Network, VirtualMachine]


def _resolve(model, rows, mirrors):
    """Replace moids in foreign-key fields with ids; drop rows whose datacenter is unknown."""
    fks = _FOREIGN_KEYS.get(model, {})
    resolved = {}
    for moid, values in rows.items():
        out = {}
        for name, value in values.items():
            if name in fks:
                target = mirrors[fks[name]].ids.get(value) if value else None
                if name == "datacenter" and target is None:
                    break  # objects outside any datacenter are not mirrored
                out[f"{name}_id"] = target
            else:
                out[name] = value
        else:
            resolved[moid] = out
    return resolved


def _field_names(model, sample):
    return (
        list(sample)
        if sample
        else [
            f"{f.name}_id" if f.is_relation else f.name
            for f in model._meta.concrete_fields
            if f.name not in ("id", "platform", "moid", "synced_at")
        ]
    )


def apply_inventory(platform, items, user=None, images=None):
    """Write the raw inventory `items` of `platform` into the mirror; return a `SyncReport`.

    `images`, when given, is the `client.datastores.IsoSearch` of this sync: the ISO images
    table is made to match it, except on datastores the search could not read.
    """
    inv = Inventory(items)
    rows = build_rows(inv)
    report = SyncReport()
    started = time.perf_counter()

    with transaction.atomic():
        # Upsert each model in dependency order, resolving foreign keys through earlier ones.
        mirrors = {}
        for model in _ORDER:
            model_rows = _resolve(model, rows[model], mirrors)
            sample = next(iter(model_rows.values()), None)
            mirrors[model] = _Mirror(model, platform, _field_names(model, sample)).apply(model_rows)

        # Diff many-to-many links: datastore/network ↔ host, VM ↔ datastore/network.
        host_ids, ds_ids, net_ids = (mirrors[m].ids for m in (Host, Datastore, Network))
        vm_ids = mirrors[VirtualMachine].ids
        ds_hosts = {
            (ds_ids[item["_moid"]], host_ids[mount.key._moId])
            for item in inv.of("Datastore")
            if item["_moid"] in ds_ids
            for mount in item.get("host") or []
            if mount.key is not None and mount.key._moId in host_ids
        }
        # vcsim lists one mounting host per shared datastore; each host's `datastore` list
        # gives the rest from the other side.
        ds_hosts.update(
            (ds_ids[d], host_ids[item["_moid"]])
            for item in inv.of("HostSystem")
            if item["_moid"] in host_ids
            for d in item.get("datastore") or []
            if d in ds_ids
        )
        net_hosts = {
            (net_ids[item["_moid"]], host_ids[h])
            for item in inv.of("Network", "OpaqueNetwork", "DistributedVirtualPortgroup")
            if item["_moid"] in net_ids
            for h in item.get("host") or []
            if h in host_ids
        }
        # vcsim (and some vCenter versions) leave a standard network's `host` empty; the hosts'
        # own `network` lists say the same from the other side.
        net_hosts.update(
            (net_ids[n], host_ids[item["_moid"]])
            for item in inv.of("HostSystem")
            if item["_moid"] in host_ids
            for n in item.get("network") or []
            if n in net_ids
        )
        vm_ds, vm_net = set(), set()
        for item in inv.of("VirtualMachine"):
            vm_id = vm_ids.get(item["_moid"])
            if vm_id is None:
                continue
            vm_ds.update((vm_id, ds_ids[d]) for d in item.get("datastore") or [] if d in ds_ids)
            vm_net.update((vm_id, net_ids[n]) for n in item.get("network") or [] if n in net_ids)
        links = 0
        links += _sync_links(
            Datastore.hosts.through, "datastore_id", "host_id", ds_hosts, ds_ids.values()
        )
        links += _sync_links(
            Network.hosts.through, "network_id", "host_id", net_hosts, net_ids.values()
        )
        links += _sync_links(
            VirtualMachine.datastores.through,
            "virtualmachine_id",
            "datastore_id",
            vm_ds,
            vm_ids.values(),
        )
        links += _sync_links(
            VirtualMachine.networks.through,
            "virtualmachine_id",
            "network_id",
            vm_net,
            vm_ids.values(),
        )

        # Mirror the ISO images found on the datastores (when this sync searched for them).
        if images is not None:
            report.counts["isoimage"] = _sync_images(platform, ds_ids, images)

        # Remove what vanished, dependents first.
        for model in reversed(_ORDER):
            mirrors[model].remove_vanished()

        _record_vm_events(platform, mirrors[VirtualMachine], rows[VirtualMachine], user)
        platform.last_synced_at = timezone.now()
        platform.save(update_fields=["last_synced_at"])

    report.counts = {
        **{model._meta.model_name: mirrors[model].counts for model in _ORDER},
        **report.counts,
        "links": Counts(changed=links),
    }
    report.write_seconds = time.perf_counter() - started
    return report


def _record_vm_events(platform, mirror, vm_rows, user):
    """Event-log the VMs that appeared, vanished or changed power state in this sync.

    A platform's first sync (no VM mirrored yet) writes one `imported` event with the count
    instead of one `appeared` per VM: thousands of rows saying "it was there" tell nobody
    anything, and they cost the first sync of a large vCenter more than its own rows.
    """
    events = []
    username = user.get_username() if user is not None and user.is_authenticated else ""
    actor = user if username else None

    def event(action, moid, name, before=None, after=None):
        events.append(
            EventLog(
                user=actor,
                username=username,
                action=action,
                object_type="vcenter.VirtualMachine",
                object_id=moid,
                object_repr=name[:255],
                before=before,
                after=after,
                message=f"sync of {platform.name}",
            )
        )

    if not mirror.existing:
        if mirror.ids:
            events.append(
                EventLog(
                    user=actor,
                    username=username,
                    action="imported",
                    object_type=platform._meta.label,
                    object_id=str(platform.pk),
                    object_repr=platform.name[:255],
                    after={"vms": len(mirror.ids)},
                    message=f"first sync of {platform.name}: {len(mirror.ids)} VM(s)",
                )
            )
        vm_rows = {}
    for moid, values in vm_rows.items():
        old = mirror.existing.get(moid)
        if old is None:
            if moid in mirror.ids:
                event(
                    "appeared", moid, values["name"], after={"power_state": values["power_state"]}
                )
        elif old["power_state"] != values["power_state"]:
            event(
                "power_state_changed",
                moid,
                values["name"],
                before={"power_state": old["power_state"]},
                after={"power_state": values["power_state"]},
            )
    for row in mirror.vanished:
        event("vanished", row["moid"], row["name"], before={"power_state": row["power_state"]})
    if events:
        EventLog.objects.bulk_create(events, batch_size=BULK_BATCH)


def _sync_images(platform, ds_ids, search):
    """Make the ISO images of `platform` match `search` (an `IsoSearch`); return `Counts`.

    Images on a datastore the search could not read are kept as they were; images on a
    datastore that is gone are removed (and counted) here rather than by the cascade.
    """
    keep = {ds_ids[moid] for moid in search.failed if moid in ds_ids}
    wanted = {}
    for image in search.images:
        datastore_id = ds_ids.get(image["datastore"])
        if datastore_id is not None:
            wanted[(datastore_id, image["path"])] = {
                "name": image["name"][:255],
                "size_bytes": image["size"],
                "modified_at": image["modified"],
            }
    existing = {
        (row["datastore_id"], row["path"]): row
        for row in IsoImage.objects.filter(platform=platform).values(
            "id", "datastore_id", "path", "name", "size_bytes", "modified_at"
        )
    }

    # Insert new images and update those whose size, name or time changed.
    new, changed = [], []
    for (datastore_id, path), values in wanted.items():
        old = existing.get((datastore_id, path))
        if old is None:
            new.append(IsoImage(platform=platform, datastore_id=datastore_id, path=path, **values))
        elif any(old[name] != value for name, value in values.items()):
            changed.append(IsoImage(id=old["id"], synced_at=timezone.now(), **values))
    if new:
        IsoImage.objects.bulk_create(new, batch_size=BULK_BATCH)
    if changed:
        IsoImage.objects.bulk_update(
            changed, ["name", "size_bytes", "modified_at", "synced_at"], batch_size=BULK_BATCH
        )

    # Remove images that are gone, except on datastores that could not be searched.
    gone = [
        row["id"]
        for key, row in existing.items()
        if key not in wanted and row["datastore_id"] not in keep
    ]
    if gone:
        IsoImage.objects.filter(id__in=gone).delete()
    return Counts(added=len(new), changed=len(changed), removed=len(gone), total=len(wanted))


def refresh_vm(platform, moid):
    """Re-read one VM from vCenter and bring its mirror row up to date; return the row.

    Used after an operation so the API shows the VM as vCenter has it without a full sync.
    A VM vCenter no longer has is removed from the mirror (None is returned). A new VM whose
    folder and host are both unknown to the mirror triggers a full sync of the platform.
    """
    item = client_for_platform(platform).call(read_vm, moid)
    if item is None:
        VirtualMachine.objects.filter(platform=platform, moid=moid).delete()
        return None

    # Resolve foreign keys by moid against the mirror.
    values = vm_values(item)
    host = (
        Host.objects.filter(platform=platform, moid=values["host"]).first()
        if values["host"]
        else None
    )
    folder = (
        Folder.objects.filter(platform=platform, moid=values["folder"]).first()
        if values["folder"]
        else None
    )
    datacenter_id = (folder.datacenter_id if folder else None) or (
        host.datacenter_id if host else None
    )
    if datacenter_id is None:
        with sync_lock(platform.pk) as held:
            if held:
                sync_platform(platform)
            else:
                logger.info("sync of %s already running; it will mirror VM %s", platform, moid)
        return VirtualMachine.objects.filter(platform=platform, moid=moid).first()
    pool = ResourcePool.objects.filter(platform=platform, moid=values["resource_pool"]).first()
    values.update(
        host=host,
        folder=folder,
        resource_pool=pool,
        datacenter_id=datacenter_id,
        cluster_id=host.cluster_id if host else None,
    )

    # Upsert the row and its datastore and network links.
    with transaction.atomic():
        vm, _created = VirtualMachine.objects.update_or_create(
            platform=platform, moid=moid, defaults=values
        )
        vm.datastores.set(
            Datastore.objects.filter(platform=platform, moid__in=item.get("datastore") or [])
        )
        vm.networks.set(
            Network.objects.filter(platform=platform, moid__in=item.get("network") or [])
        )
    return vm


def _searchable_datastores(items):
    """The accessible datastores of raw inventory `items`, as `find_iso_images` takes them."""
    return [
        {"moid": item["_moid"], "name": item.get("name", ""), "browser": item["browser"]}
        for item in items
        if item["_type"] == "Datastore"
        and item.get("browser")
        and item.get("summary.accessible", True) is not False
    ]


def sync_platform(platform, user=None, images=True):
    """Read `platform`'s whole inventory from vCenter and mirror it; return a `SyncReport`.

    With `images` the datastores are also searched for ISO images, which are mirrored too.
    vCenter errors propagate as `vcenter.client` domain errors before anything is written;
    the search failing on one datastore only keeps that datastore's images as they were.
    The caller holds the platform's `sync_lock` (the sync task does).
    """
    client = client_for_platform(platform)
    started = time.perf_counter()

    # Read the inventory, then search the datastores it names for ISO images.
    items = client.call(read_inventory)
    read_seconds = time.perf_counter() - started
    search = None
    if images:
        datastores = _searchable_datastores(items)
        search = client.call(find_iso_images, datastores)
    image_seconds = time.perf_counter() - started - read_seconds

    # Write everything in one transaction and say what it did.
    report = apply_inventory(platform, items, user=user, images=search)
    report.read_seconds = read_seconds
    report.image_seconds = image_seconds
    if search is not None:
        names = {ds["moid"]: ds["name"] for ds in datastores}
        report.image_failures = {
            names.get(moid, moid): reason for moid, reason in search.failed.items()
        }
    report.duration_seconds = time.perf_counter() - started
    logger.info(
        "synced %s in %.2fs: %s objects read in %.2fs, %s images found, %s rows written in %.2fs",
        platform.name,
        report.duration_seconds,
        len(items),
        read_seconds,
        len(search.images) if search is not None else 0,
        report.rows_written,
        report.write_seconds,
    )
    return report


# The per-platform sync lock: a cache key added atomically (Redis across processes when
# REDIS_URL is set), whose value is the holder's token and which expires if the holder dies.

SYNC_LOCK_SECONDS = 30 * 60


def _lock_key(platform_id):
    # The database's name keeps apart portals (and test runs) that share one Redis.
    database = hashlib.sha1(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:12]
    return f"vcenter:sync-lock:{database}:{platform_id}"


def _lock_seconds():
    return getattr(settings, "KSTACK_SYNC_LOCK_SECONDS", SYNC_LOCK_SECONDS)


def claim_sync_lock(platform_id, token=None):
    """Take the sync lock of a platform; return the holder's token, or None if it is held."""
    token = token or uuid.uuid4().hex
    if cache.add(_lock_key(platform_id), token, timeout=_lock_seconds()):
        return token
    return None


def sync_lock_holder(platform_id):
    """The token holding the platform's sync lock, or None when no sync holds it."""
    return cache.get(_lock_key(platform_id))


def release_sync_lock(platform_id, token):
    """Release the lock if `token` still holds it; a lock taken over after expiry stays."""
    if token and cache.get(_lock_key(platform_id)) == token:
        cache.delete(_lock_key(platform_id))


def break_sync_lock(platform_id):
    """Free the platform's sync lock whoever holds it: for a holder known to be dead."""
    cache.delete(_lock_key(platform_id))


@contextmanager
def sync_lock(platform_id, token=None):
    """Hold the platform's sync lock for the block; yield the token, or None if held elsewhere.

    A `token` claimed when the sync was queued (`claim_sync_lock`) is taken over with its
    expiry renewed; a lost or expired one is claimed again. The lock is released when the block
    ends, however it ends; a process that dies holding it leaves it to expire.
    """
    key = _lock_key(platform_id)
    if token is not None and cache.get(key) == token:
        cache.touch(key, _lock_seconds())
        held = token
    else:
        held = claim_sync_lock(platform_id, token)
    try:
        yield held
    finally:
        release_sync_lock(platform_id, held)
