"""The baseline the sync is measured against: a naive pyVmomi walk, attribute by attribute.

This is how portals commonly read an inventory: list the objects, then for each object and each
property write `vm.config.instanceUuid`, `vm.runtime.powerState` and so on. Every such chain costs
one SOAP round trip (pyVmomi fetches the first component, e.g. the whole `config`, and the rest
is read locally), so a VM with 17 set properties costs 17 round trips.

The walk reads exactly the properties the sync reads (`INVENTORY_PROPERTIES`), and only those
that are set: on vcsim, reading an unset property by attribute makes the simulator drop the
connection. The caller passes, per managed object id, the property paths that the
PropertyCollector returned for it. A dropped connection is caught, counted, and the walk goes on
in a new session.

Only the benchmarks may import pyVmomi outside `vcenter/client/`; the portal never does this.
"""

import http.client
import time

from pyVmomi import vim

# Failures that mean the session or the connection is gone and a new one is needed.
_DROPPED = (ConnectionError, http.client.HTTPException, OSError)


def list_objects(content, vim_types):
    """Every object of `vim_types` below the root folder, through one ContainerView."""
    view = content.viewManager.CreateContainerView(
        container=content.rootFolder, type=list(vim_types), recursive=True
    )
    try:
        return list(view.view)
    finally:
        view.Destroy()


def read_path(obj, path):
    """Read the property `path` of `obj` attribute by attribute (one round trip)."""
    value = obj
    for part in path.split("."):
        value = getattr(value, part)
        if value is None:
            return None
    return value


class NaiveWalk:
    """Walks an inventory through pyVmomi attribute access, reconnecting if vcsim drops it.

    `connect` is a callable returning a fresh `ServiceContent`.
    """

    def __init__(self, connect):
        self.connect = connect
        self.content = connect()
        self.round_trips = 0
        self.reconnects = 0
        self.mismatches = 0

    def _ref(self, obj):
        # A reference bound to the current session (it changes after a reconnect).
        return type(obj)(obj._moId, self.content.propertyCollector._stub)

    def read_object(self, obj, paths, expected=None):
        """Read `paths` of `obj` one by one; compare `name` with `expected` when given."""
        ref = self._ref(obj)
        values = {}
        for path in paths:
            self.round_trips += 1
            try:
                values[path] = read_path(ref, path)
            except _DROPPED:
                self.reconnects += 1
                self.content = self.connect()
                ref = self._ref(obj)
        if expected is not None and values.get("name") != expected.get("name"):
            self.mismatches += 1
        return values

    def walk(self, items, vim_types, vm_every=1):
        """Walk every object of `vim_types`, and every `vm_every`-th VM; return the timings.

        `items` is the PropertyCollector's answer (`{"_moid", path: value}` dicts): it says which
        properties are set on each object and gives the names the walk's are checked against.
        """
        by_moid = {item["_moid"]: item for item in items}

        # List the objects as a portal would, then read each one's properties.
        started = time.perf_counter()
        objects = [obj for obj in list_objects(self.content, vim_types) if obj._moId in by_moid]
        listed = time.perf_counter()
        others = [obj for obj in objects if not isinstance(obj, vim.VirtualMachine)]
        vms = [obj for obj in objects if isinstance(obj, vim.VirtualMachine)]
        sample = vms[::vm_every]

        # Everything that is not a VM is walked in full.
        for obj in others:
            item = by_moid[obj._moId]
            self.read_object(obj, [key for key in item if not key.startswith("_")], item)
        others_done = time.perf_counter()

        # VMs: the sample only; the caller extrapolates to all of them.
        for obj in sample:
            item = by_moid[obj._moId]
            self.read_object(obj, [key for key in item if not key.startswith("_")], item)
        finished = time.perf_counter()

        list_seconds = listed - started
        others_seconds = others_done - listed
        sample_seconds = finished - others_done
        scale = len(vms) / len(sample) if sample else 0.0
        return {
            "objects": len(objects),
            "vms": len(vms),
            "vms_walked": len(sample),
            "list_seconds": list_seconds,
            "others_seconds": others_seconds,
            "vm_sample_seconds": sample_seconds,
            "measured_seconds": finished - started,
            "estimated_seconds": list_seconds + others_seconds + sample_seconds * scale,
            "round_trips": self.round_trips,
            "reconnects": self.reconnects,
            "name_mismatches": self.mismatches,
        }
