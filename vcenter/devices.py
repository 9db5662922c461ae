"""A VM's disks, network adapters and snapshots: the rules, the vCenter calls and the audit trail.

Every change is checked here before anything reaches vCenter (slots, sizes, port groups, what
the snapshot tree allows), made through `vcenter.client`, written to the event log, and followed
by `sync.refresh_vm` so the mirror shows the VM as vCenter now has it. Snapshots are mirrored
per VM in `Snapshot` rows, replaced from vCenter's tree whenever it is read or changed. Refusals
are `ApiError`s carrying the seed code of the route they belong to.

vcsim accepts what a real vCenter refuses (SCSI unit 7, units past 15, shrinking a disk) and
corrupts a VM when the current snapshot pointer is left dangling; the rules below refuse those.
"""

import logging
import re
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Q
from rest_framework import status as http_status

from audit.services import enqueue, record_event
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error

from . import device_tasks, sync
from .client import (
    VCenterAuthError,
    VCenterError,
    VCenterNotFound,
    VCenterUnreachable,
    client_for_platform,
)
from .client import devices as vc_devices
from .client import snapshots as vc_snapshots
from .locks import one_change_at_a_time
from .models import Datastore, Network, NetworkKindChoices, Snapshot, VirtualMachine

logger = logging.getLogger(__name__)

SCSI_UNITS = 16
SCSI_RESERVED_UNIT = 7  # the controller's own unit on the bus
MAX_SCSI_CONTROLLERS = 4
MAX_NEW_DISKS = MAX_SCSI_CONTROLLERS * (SCSI_UNITS - 1)
DEFAULT_SCSI_TYPE = "ParaVirtualSCSIController"
NIC_ADD_TYPES = ("vmxnet3", "e1000e")

_VM_ID = re.compile(r"^[0-9]{1,10}$")
_MAX_DB_ID = 2**31 - 1
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


# The VM a request names, and vCenter's errors as the route's codes


def get_vm(raw_id, *, invalid_code, missing_code):
    """The mirrored VM whose id is `raw_id`; `invalid_code` (400) or `missing_code` (404)."""
    raw = str(raw_id)
    if not _VM_ID.match(raw) or int(raw) == 0:
        raise validation_error(invalid_code, {"vm_id": ["must be a positive integer"]})
    vm = (
        VirtualMachine.objects.select_related("platform", "datacenter").filter(pk=int(raw)).first()
        if int(raw) <= _MAX_DB_ID
        else None
    )
    if vm is None:
        raise ApiError(missing_code, http_status.HTTP_404_NOT_FOUND, detail="unknown VM")
    return vm


@contextmanager
def vcenter_errors(vm, *, fault_code, gone_code, gone_status=http_status.HTTP_404_NOT_FOUND):
    """Turn vCenter's errors inside the block into `ApiError`s with this route's codes.

    A vanished object answers `gone_code`, a fault `fault_code` with 409 and the fault's name,
    an unreachable vCenter or refused login 920 with 502.
    """
    try:
        yield
    except VCenterNotFound as exc:
        raise ApiError(gone_code, gone_status, detail=exc) from None
    except (VCenterUnreachable, VCenterAuthError) as exc:
        logger.warning("vCenter %s failed for VM %s: %s", vm.platform.name, vm.moid, exc)
        raise ApiError(
            codes.VCENTER_UNREACHABLE, http_status.HTTP_502_BAD_GATEWAY, detail=exc
        ) from None
    except VCenterError as exc:
        logger.warning("vCenter refused a change of VM %s: %s (%s)", vm.moid, exc, exc.fault)
        raise ApiError(
            fault_code, http_status.HTTP_409_CONFLICT, data={"fault": exc.fault}, detail=exc
        ) from None


def refuse_template(vm, code):
    """Refuse (409, `code`) a hardware or snapshot change to a template: vCenter only answers
    NotSupported; a template is converted to a VM first (or cloned into one)."""
    if vm.is_template:
        raise ApiError(
            code,
            http_status.HTTP_409_CONFLICT,
            detail=f"{vm.name} is a template: convert it to a VM, or clone one from it, to "
            "change its disks, adapters or snapshots.",
        )


def _call(vm, fn, *args, **kwargs):
    return client_for_platform(vm.platform).call(fn, *args, **kwargs)


def _read_devices(vm, gone_code, fault_code):
    with vcenter_errors(vm, fault_code=fault_code, gone_code=gone_code):
        try:
            return _call(vm, vc_devices.read_devices, vm.moid)
        except VCenterNotFound:
            _forget_vm(vm)
            raise


def _forget_vm(vm):
    # The VM is gone from vCenter: let the mirror drop it too.
    try:
        sync.refresh_vm(vm.platform, vm.moid)
    except VCenterError:
        logger.warning("could not refresh vanished VM %s", vm.moid, exc_info=True)


def _refresh(vm):
    try:
        sync.refresh_vm(vm.platform, vm.moid)
    except VCenterError:
        # The change is done; a stale mirror row is corrected by the next sync.
        logger.warning("could not refresh VM %s after a change", vm.moid, exc_info=True)


# Disks


def list_disks(vm):
    """The VM's virtual disks as vCenter has them now."""
    return _read_devices(vm, codes.DISK_VM_NOT_FOUND, codes.DISK_QUERY_BAD_PARAMS)["disks"]


def plan_disk_slots(controllers, count):
    """Choose a (controller, unit) for each of `count` new disks; return `(new, slots)`.

    Free units of existing SCSI controllers are used first, in bus order, never unit 7. When
    they run out, new controllers (the type of the VM's first one, else ParaVirtual) are
    planned on free buses, up to four controllers. `new` lists the controllers to add
    (`{"ref", "bus_number", "type"}`), `slots` pairs a controller key or ref with a unit.
    Raises `ApiError` 2103 when the VM cannot hold that many more disks.
    """
    ordered = sorted(controllers, key=lambda c: c["bus_number"])
    slots = []
    for controller in ordered:
        used = set(controller["used_units"])
        slots.extend(
            (controller["key"], unit)
            for unit in range(SCSI_UNITS)
            if unit != SCSI_RESERVED_UNIT and unit not in used
        )

    # Add controllers while slots are short and a bus is free.
    kind = ordered[0]["type"] if ordered else DEFAULT_SCSI_TYPE
    if kind not in vc_devices.SCSI_TYPES:
        kind = DEFAULT_SCSI_TYPE
    buses = {c["bus_number"] for c in ordered}
    new = []
    while len(slots) < count and len(ordered) + len(new) < MAX_SCSI_CONTROLLERS:
        bus = next((b for b in range(MAX_SCSI_CONTROLLERS) if b not in buses), None)
        if bus is None:
            break
        buses.add(bus)
        ref = f"new-scsi-{bus}"
        new.append({"ref": ref, "bus_number": bus, "type": kind})
        slots.extend((ref, unit) for unit in range(SCSI_UNITS) if unit != SCSI_RESERVED_UNIT)

    if len(slots) < count:
        raise ApiError(
            codes.DISK_NO_SLOT,
            http_status.HTTP_409_CONFLICT,
            data={"requested": count, "free_slots": len(slots)},
            detail=f"the VM has room for {len(slots)} more disk(s) on at most "
            f"{MAX_SCSI_CONTROLLERS} SCSI controllers",
        )
    return new, slots[:count]


def _datastore(vm, ref, error_code):
    """The accessible datastore `ref` (mirror id or name) of the VM's platform, or None."""
    if ref is None or ref == "":
        return None
    qs = Datastore.objects.filter(platform=vm.platform_id)
    if isinstance(ref, int):
        datastore = qs.filter(pk=ref).first() if 0 < ref <= _MAX_DB_ID else None
    else:
        # Prefer the VM's own datacenter when the name exists in several.
        named = qs.filter(name=ref)
        datastore = named.filter(datacenter_id=vm.datacenter_id).first() or named.first()
    if datastore is None:
        raise validation_error(error_code, {"datastore": ["unknown datastore"]})
    if not datastore.accessible:
        raise validation_error(error_code, {"datastore": ["the datastore is not accessible"]})
    if datastore.datacenter_id != vm.datacenter_id:
        raise validation_error(
            error_code, {"datastore": ["the datastore is in another datacenter"]}
        )
    # Whether the VM's host mounts it is left to vCenter: vcsim's `Datastore.host` names only one
    # of the hosts that mount a shared datastore, so the mirror's links cannot be trusted for it.
    return datastore


def _check_space(vm, target, disks):
    """Refuse thick disks that do not fit the datastore's free space as last synced.

    vcsim never checks free space; a real vCenter fails the reconfiguration late. Thin disks
    take space as they fill, so only thick ones are counted.
    """
    needed_gb = sum(disk["size"] for disk in disks if disk["type"] != "thin")
    if not needed_gb:
        return
    if target is None:
        # The VM's home datastore, named in its configuration file's path.
        home = vc_devices.split_datastore_path(vm.vm_path)[0]
        target = Datastore.objects.filter(
            platform=vm.platform_id, datacenter=vm.datacenter_id, name=home
        ).first()
    if target is not None and needed_gb * 1024**3 > target.free_bytes:
        free_gb = target.free_bytes // 1024**3
        raise validation_error(
            codes.DISK_BAD_PARAMS,
            {"disks": [f"thick disks need {needed_gb} GB; {target.name} has {free_gb} GB free"]},
        )


@one_change_at_a_time
def add_disks(vm, disks, datastore=None, user=None):
    """Add `disks` (`[{"type", "size"}]`, size in GB) to `vm`; return the new disks.

    All disks are added in one reconfiguration, so either all or none are added.
    """
    refuse_template(vm, codes.DISK_BAD_PARAMS)
    if len(disks) > MAX_NEW_DISKS:
        raise ApiError(
            codes.DISK_NO_SLOT,
            http_status.HTTP_409_CONFLICT,
            detail=f"at most {MAX_NEW_DISKS} disks fit on a VM",
        )
    target = _datastore(vm, datastore, codes.DISK_BAD_PARAMS)
    _check_space(vm, target, disks)

    # Plan where each disk goes from the devices the VM has now (the VM's lock keeps a
    # concurrent add from planning the same unit).
    hardware = _read_devices(vm, codes.DISK_VM_NOT_FOUND, codes.DISK_BAD_PARAMS)
    new_controllers, slots = plan_disk_slots(hardware["controllers"], len(disks))
    specs = [
        {
            "controller": controller,
            "unit_number": unit,
            "size_kb": disk["size"] * vc_devices.KB_PER_GB,
            "type": disk["type"],
            "datastore": target.name if target else None,
        }
        for disk, (controller, unit) in zip(disks, slots, strict=True)
    ]

    # Reconfigure once, then read back what vCenter made.
    with vcenter_errors(vm, fault_code=codes.DISK_BAD_PARAMS, gone_code=codes.DISK_VM_NOT_FOUND):
        _call(vm, vc_devices.add_disks, vm.moid, new_controllers, specs)
    known = {disk["key"] for disk in hardware["disks"]}
    after = _read_devices(vm, codes.DISK_VM_NOT_FOUND, codes.DISK_BAD_PARAMS)
    added = [disk for disk in after["disks"] if disk["key"] not in known]
    known_controllers = {c["key"] for c in hardware["controllers"]}
    controllers = [c for c in after["controllers"] if c["key"] not in known_controllers]

    logger.info("added %s disk(s) to VM %s (%s)", len(added), vm.name, vm.moid)
    record_event(
        user,
        "disks_added",
        vm,
        after={"disks": [_disk_summary(d) for d in added], "controllers": len(controllers)},
    )
    _refresh(vm)
    return {"disks": added, "controllers": controllers}


def _disk_summary(disk):
    return {k: disk[k] for k in ("key", "label", "size_gb", "type", "file_name", "unit_number")}


def find_disk(disks, ident):
    """The disk whose key (an int) or label (a str) is `ident`, or None."""
    if isinstance(ident, int):
        return next((d for d in disks if d["key"] == ident), None)
    exact = next((d for d in disks if d["label"] == ident), None)
    return exact or next((d for d in disks if d["label"].lower() == ident.lower()), None)


def _disk_or_404(vm, ident, fault_code):
    disks = _read_devices(vm, codes.DISK_VM_NOT_FOUND, fault_code)["disks"]
    disk = find_disk(disks, ident)
    if disk is None:
        raise ApiError(codes.DISK_NOT_FOUND, http_status.HTTP_404_NOT_FOUND, detail=ident)
    return disk


@one_change_at_a_time
def remove_disk(vm, ident, user=None):
    """Detach the disk named by key or label and destroy its file; return the removed disk."""
    refuse_template(vm, codes.DISK_DELETE_BAD_PARAMS)
    disk = _disk_or_404(vm, ident, codes.DISK_DELETE_BAD_PARAMS)
    with vcenter_errors(
        vm, fault_code=codes.DISK_DELETE_BAD_PARAMS, gone_code=codes.DISK_NOT_FOUND
    ):
        _call(vm, vc_devices.remove_disk, vm.moid, disk["key"])
    logger.info("removed disk %s (%s) of VM %s", disk["label"], disk["file_name"], vm.moid)
    record_event(user, "disk_removed", vm, before=_disk_summary(disk))
    _refresh(vm)
    return disk


@one_change_at_a_time
def grow_disk(vm, ident, size_gb, user=None):
    """Grow the disk named by key or label to `size_gb`; a disk never shrinks."""
    refuse_template(vm, codes.DISK_BAD_PARAMS)
    disk = _disk_or_404(vm, ident, codes.DISK_BAD_PARAMS)
    size_kb = size_gb * vc_devices.KB_PER_GB
    if size_kb <= disk["capacity_kb"]:
        raise validation_error(
            codes.DISK_BAD_PARAMS,
            {"size": [f"a disk only grows: it has {disk['size_gb']} GB, ask for more"]},
        )
    with vcenter_errors(vm, fault_code=codes.DISK_BAD_PARAMS, gone_code=codes.DISK_NOT_FOUND):
        _call(vm, vc_devices.grow_disk, vm.moid, disk["key"], size_kb)
    grown = find_disk(
        _read_devices(vm, codes.DISK_VM_NOT_FOUND, codes.DISK_BAD_PARAMS)["disks"], disk["key"]
    )
    logger.info("grew disk %s of VM %s to %s GB", disk["label"], vm.moid, size_gb)
    record_event(
        user, "disk_grown", vm, before=_disk_summary(disk), after=_disk_summary(grown or disk)
    )
    _refresh(vm)
    return grown or disk


# Network adapters


def list_nics(vm):
    """The VM's network adapters, with the mirrored port group each is on."""
    nics = _read_devices(vm, codes.NIC_QUERY_BAD_PARAMS, codes.NIC_QUERY_BAD_PARAMS)["nics"]
    return _with_networks(vm, nics)


def _with_networks(vm, nics):
    """Add the mirrored port group's id and name (`network`, `port_group`) to each adapter."""
    moids = {n["network_moid"] for n in nics if n["network_moid"]}
    keys = {n["portgroup_key"] for n in nics if n["portgroup_key"]}
    networks = (
        Network.objects.filter(platform=vm.platform_id)
        .filter(Q(moid__in=moids | keys) | Q(portgroup_key__in=keys))
        .only("id", "moid", "name", "portgroup_key")
        if moids or keys
        else []
    )
    by_moid, by_key = {}, {}
    for net in networks:
        by_moid[net.moid] = net
        if net.portgroup_key:
            by_key[net.portgroup_key] = net
    for nic in nics:
        key = nic["portgroup_key"]
        net = by_moid.get(nic["network_moid"]) or by_key.get(key) or by_moid.get(key)
        nic["network"] = net.pk if net else None
        nic["port_group"] = net.name if net else nic["network_name"] or None
    return nics


def _port_group(vm, ref):
    """The mirrored port group `ref` (id or name) a VM of this platform can attach to."""
    qs = Network.objects.filter(platform=vm.platform_id)
    if isinstance(ref, int):
        network = qs.filter(pk=ref).first() if 0 < ref <= _MAX_DB_ID else None
    else:
        same_dc = qs.filter(name=ref, datacenter_id=vm.datacenter_id).first()
        network = same_dc or qs.filter(name=ref).first()
    if network is None:
        raise validation_error(codes.NIC_BAD_PARAMS, {"network": ["unknown port group"]})
    if network.kind == NetworkKindChoices.OPAQUE:
        raise validation_error(
            codes.NIC_BAD_PARAMS, {"network": ["opaque networks are not supported"]}
        )
    if network.is_uplink:
        raise validation_error(
            codes.NIC_BAD_PARAMS, {"network": ["a VM cannot attach to an uplink port group"]}
        )
    if network.datacenter_id != vm.datacenter_id:
        raise validation_error(
            codes.NIC_BAD_PARAMS, {"network": ["the port group is in another datacenter"]}
        )
    if network.kind == NetworkKindChoices.DISTRIBUTED and not (
        network.switch_uuid and network.portgroup_key
    ):
        raise validation_error(
            codes.NIC_BAD_PARAMS,
            {"network": ["the port group's switch is unknown; sync the platform first"]},
        )
    return network


@one_change_at_a_time
def add_nic(vm, network_ref, adapter_type="vmxnet3", connected=True, user=None):
    """Add a network adapter on a standard or distributed port group; return the new adapter."""
    refuse_template(vm, codes.NIC_BAD_PARAMS)
    if adapter_type not in NIC_ADD_TYPES:
        raise validation_error(
            codes.NIC_BAD_PARAMS, {"adapter_type": [f"one of {', '.join(NIC_ADD_TYPES)}"]}
        )
    network = _port_group(vm, network_ref)
    before = _read_devices(vm, codes.NIC_BAD_PARAMS, codes.NIC_BAD_PARAMS)["nics"]
    spec = {
        "kind": network.kind,
        "name": network.name,
        "moid": network.moid,
        "switch_uuid": network.switch_uuid,
        "portgroup_key": network.portgroup_key,
    }
    with vcenter_errors(vm, fault_code=codes.NIC_BAD_PARAMS, gone_code=codes.NIC_BAD_PARAMS):
        _call(vm, vc_devices.add_nic, vm.moid, spec, adapter_type, connected)

    # Read back the adapter vCenter made, with its MAC address.
    known = {nic["key"] for nic in before}
    after = _read_devices(vm, codes.NIC_BAD_PARAMS, codes.NIC_BAD_PARAMS)["nics"]
    added = _with_networks(vm, [nic for nic in after if nic["key"] not in known])
    nic = added[0] if added else None
    logger.info("added a %s adapter on %s to VM %s", adapter_type, network.name, vm.moid)
    record_event(user, "nic_added", vm, after=_nic_summary(nic) if nic else None)
    _refresh(vm)
    return nic


def _nic_summary(nic):
    return {k: nic.get(k) for k in ("key", "mac_address", "adapter_type", "port_group")}


def find_nic(nics, ident):
    """The adapter whose device key (an int) or MAC address (a str) is `ident`, or None."""
    if isinstance(ident, int):
        return next((n for n in nics if n["key"] == ident), None)
    mac = ident.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        return None
    return next((n for n in nics if n["mac_address"] == mac), None)


@one_change_at_a_time
def remove_nic(vm, ident, user=None):
    """Remove the adapter named by device key or MAC address; return it."""
    refuse_template(vm, codes.NIC_DELETE_FAILED)
    nics = _read_devices(vm, codes.NIC_NOT_FOUND, codes.NIC_DELETE_FAILED)["nics"]
    nic = find_nic(nics, ident)
    if nic is None:
        raise ApiError(codes.NIC_NOT_FOUND, http_status.HTTP_404_NOT_FOUND, detail=ident)
    _with_networks(vm, [nic])
    with vcenter_errors(vm, fault_code=codes.NIC_DELETE_FAILED, gone_code=codes.NIC_NOT_FOUND):
        _call(vm, vc_devices.remove_nic, vm.moid, nic["key"])
    logger.info("removed adapter %s (%s) of VM %s", nic["key"], nic["mac_address"], vm.moid)
    record_event(user, "nic_removed", vm, before=_nic_summary(nic))
    _refresh(vm)
    return nic


# Snapshots


def _flatten(roots, parent=None):
    for node in roots:
        yield node, parent
        yield from _flatten(node["children"], node)


def replace_snapshots(vm, tree):
    """Make `vm`'s `Snapshot` rows mirror vCenter's `tree` (`{"current", "roots"}`).

    Rows are matched by moid, so a snapshot keeps its row id across reads; new ones are
    inserted, changed ones updated, vanished ones deleted (after their children moved).
    Returns the VM's rows, parents before children.
    """
    fields = [
        "name",
        "snapshot_id",
        "description",
        "created_in_vcenter",
        "state",
        "quiesced",
        "is_current",
        "parent_id",
    ]
    with transaction.atomic():
        # Lock the VM's row so that two readers of one tree do not insert the same snapshot.
        VirtualMachine.objects.select_for_update().filter(pk=vm.pk).values_list("pk").first()
        existing = {row.moid: row for row in Snapshot.objects.filter(vm=vm)}
        rows, changed = {}, []
        for node, parent in _flatten(tree["roots"]):
            values = {
                "name": node["name"][:255],
                "snapshot_id": node["snapshot_id"],
                "description": node["description"],
                "created_in_vcenter": node["created"],
                "state": node["state"][:16],
                "quiesced": node["quiesced"],
                "is_current": node["moid"] == tree["current"],
                "parent_id": rows[parent["moid"]].pk if parent else None,
            }
            row = existing.get(node["moid"])
            if row is None:
                row = Snapshot.objects.create(
                    platform_id=vm.platform_id, vm=vm, moid=node["moid"], **values
                )
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                changed.append(row)
            rows[node["moid"]] = row
        if changed:
            Snapshot.objects.bulk_update(changed, [*fields, "synced_at"])
        vanished = [row.pk for moid, row in existing.items() if moid not in rows]
        if vanished:
            Snapshot.objects.filter(pk__in=vanished).delete()
    return list(rows.values())


def _parent_snapshot_id(row, rows_by_pk):
    if row.parent_id is None:
        return None
    parent = rows_by_pk.get(row.parent_id) or row.parent  # a lone row comes with its parent
    return parent.snapshot_id


def snapshot_tree(rows):
    """Nest mirrored snapshot rows as `[{..., "children": [...]}]`, roots first.

    `parent` is the parent's `snapshot_id`, vCenter's id, which the snapshot routes and a
    revert take too; `id` is the mirror's row."""
    by_pk = {row.pk: row for row in rows}
    nodes = {
        row.pk: {
            "id": row.pk,
            "snapshot_id": row.snapshot_id,
            "moid": row.moid,
            "name": row.name,
            "description": row.description,
            "created_at": row.created_in_vcenter,
            "state": row.state,
            "quiesced": row.quiesced,
            "is_current": row.is_current,
            "parent": _parent_snapshot_id(row, by_pk),
            "children": [],
        }
        for row in rows
    }
    roots = []
    for row in rows:
        parent = nodes.get(row.parent_id)
        (parent["children"] if parent else roots).append(nodes[row.pk])
    return roots


def _read_tree(vm, gone_code, fault_code):
    with vcenter_errors(vm, fault_code=fault_code, gone_code=gone_code):
        try:
            return _call(vm, vc_snapshots.read_snapshots, vm.moid)
        except VCenterNotFound:
            _forget_vm(vm)
            raise


def refresh_snapshots(vm, gone_code=codes.SNAPSHOT_QUERY_FAILED, fault_code=None):
    """Read `vm`'s snapshot tree from vCenter, mirror it, and return `(tree, rows)`."""
    tree = _read_tree(vm, gone_code, fault_code or gone_code)
    return tree, replace_snapshots(vm, tree)


def list_snapshots(vm):
    """The VM's snapshots as a tree, the current one marked, read from vCenter now."""
    _tree, rows = refresh_snapshots(vm)
    current = next((row.snapshot_id for row in rows if row.is_current), None)
    return {"count": len(rows), "current": current, "results": snapshot_tree(rows)}


def get_snapshot(vm, snapshot_id):
    """One snapshot, with the snapshots below it, read from vCenter now (2304 if absent)."""
    _tree, rows = refresh_snapshots(vm)
    for node, _parent in _flatten(snapshot_tree(rows)):
        if node["snapshot_id"] == snapshot_id:
            return node
    raise ApiError(
        codes.SNAPSHOT_NOT_FOUND,
        http_status.HTTP_404_NOT_FOUND,
        detail=f"VM {vm.name} has no snapshot {snapshot_id}",
    )


def _find_node(tree, snapshot_id):
    for node, parent in _flatten(tree["roots"]):
        if node["snapshot_id"] == snapshot_id:
            return node, parent
    return None, None


def _row_data(vm, moid):
    row = Snapshot.objects.filter(vm=vm, moid=moid).select_related("parent").first()
    return snapshot_tree([row])[0] if row else None


@one_change_at_a_time
def create_snapshot(vm, name, description="", memory=False, quiesce=False, user=None):
    """Take a snapshot of `vm` (it becomes the current one) and return its mirrored node."""
    refuse_template(vm, codes.CONFLICT)
    with vcenter_errors(vm, fault_code=codes.CONFLICT, gone_code=codes.SNAPSHOT_NOT_FOUND):
        moid = _call(
            vm,
            vc_snapshots.create_snapshot,
            vm.moid,
            name,
            description=description,
            memory=memory,
            quiesce=quiesce,
        )
    refresh_snapshots(vm, gone_code=codes.SNAPSHOT_NOT_FOUND, fault_code=codes.CONFLICT)
    logger.info("took snapshot %r (%s) of VM %s", name, moid, vm.moid)
    node = _row_data(vm, moid)
    record_event(
        user,
        "snapshot_created",
        vm,
        after={"name": name, "moid": moid, "memory": memory, "quiesce": quiesce},
    )
    _refresh(vm)
    return node


def start_revert(vm, snapshot_id, user=None):
    """Check that `snapshot_id` exists now and queue the revert; return its TaskLog."""
    tree = _read_tree(vm, codes.SNAPSHOT_NOT_FOUND, codes.CONFLICT)
    node, _parent = _find_node(tree, snapshot_id)
    if node is None:
        raise ApiError(
            codes.SNAPSHOT_NOT_FOUND,
            http_status.HTTP_404_NOT_FOUND,
            detail=f"VM {vm.name} has no snapshot {snapshot_id}",
        )
    return enqueue(
        device_tasks.revert_snapshot,
        name="vcenter.revert_snapshot",
        user=user,
        obj=vm,
        kwargs={"vm_id": vm.pk, "snapshot_moid": node["moid"], "snapshot_id": snapshot_id},
    )


def revert_snapshot(vm, snapshot_moid, user=None, progress=None):
    """Revert `vm` to a snapshot (the task's body); return a summary for the TaskLog.

    vCenter's errors propagate as `vcenter.client` domain errors for the task to record.
    """
    client = client_for_platform(vm.platform)
    client.call(vc_snapshots.revert_snapshot, snapshot_moid, progress=progress)
    tree = client.call(vc_snapshots.read_snapshots, vm.moid)
    rows = replace_snapshots(vm, tree)
    row = next((r for r in rows if r.moid == snapshot_moid), None)
    logger.info("reverted VM %s to snapshot %s", vm.moid, snapshot_moid)
    summary = {
        "vm": vm.pk,
        "snapshot": row.pk if row else None,
        "snapshot_id": row.snapshot_id if row else None,
        "moid": snapshot_moid,
        "name": row.name if row else "",
    }
    record_event(user, "snapshot_reverted", vm, after=summary)
    _refresh(vm)
    return summary


def _descendants(node):
    return {child["moid"] for child, _parent in _flatten(node["children"])}


def _removal_refusal(tree, node, parent, remove_children):
    """Why removing `node` must be refused, or None.

    Both cases leave vCenter's current-snapshot pointer without a target: vcsim then corrupts
    the VM until it restarts, so the portal refuses them for every vCenter.
    """
    current = tree["current"]
    below = _descendants(node)
    if remove_children and current in below:
        return (
            "the current snapshot is inside this branch; revert to a snapshot outside it "
            "before removing the branch"
        )
    total = sum(1 for _ in _flatten(tree["roots"]))
    remaining = total - 1 - (len(below) if remove_children else 0)
    if current == node["moid"] and parent is None and remaining > 0:
        return (
            "the current snapshot is a root snapshot and other snapshots would remain; "
            "revert to another snapshot first, or remove it with its children"
        )
    return None


@one_change_at_a_time
def remove_snapshot(vm, snapshot_id, remove_children=False, user=None):
    """Remove a snapshot (and its children if asked); return the removed snapshot's node."""
    tree = _read_tree(vm, codes.SNAPSHOT_NOT_FOUND, codes.SNAPSHOT_DELETE_FAILED)
    node, parent = _find_node(tree, snapshot_id)
    if node is None:
        raise ApiError(
            codes.SNAPSHOT_NOT_FOUND,
            http_status.HTTP_404_NOT_FOUND,
            detail=f"VM {vm.name} has no snapshot {snapshot_id}",
        )
    reason = _removal_refusal(tree, node, parent, remove_children)
    if reason:
        logger.warning("refused to remove snapshot %s of VM %s: %s", node["moid"], vm.moid, reason)
        raise ApiError(codes.SNAPSHOT_DELETE_FAILED, http_status.HTTP_409_CONFLICT, detail=reason)

    with vcenter_errors(
        vm, fault_code=codes.SNAPSHOT_DELETE_FAILED, gone_code=codes.SNAPSHOT_NOT_FOUND
    ):
        _call(vm, vc_snapshots.remove_snapshot, node["moid"], remove_children=remove_children)
    removed = 1 + (len(_descendants(node)) if remove_children else 0)
    refresh_snapshots(vm, gone_code=codes.SNAPSHOT_DELETE_FAILED)
    logger.info("removed %s snapshot(s) of VM %s from %s", removed, vm.moid, node["moid"])
    summary = {
        "snapshot_id": snapshot_id,
        "moid": node["moid"],
        "name": node["name"],
        "remove_children": remove_children,
        "removed": removed,
    }
    record_event(user, "snapshot_removed", vm, before=summary)
    _refresh(vm)
    return summary
