"""A VM's snapshot tree, and creating, reverting to and removing snapshots, with pyVmomi.

The tree is read through the PropertyCollector (`snapshot`): on vcsim, reading `vm.snapshot` by
attribute on a VM without snapshots drops the connection. Functions take the session's `content`
first, so they run through `VCenterClient.call`, and return plain dicts and managed object ids.
"""

from pyVmomi import vim

from .inventory import retrieve_one
from .tasks import wait_for_task


def _vm(content, moid):
    return vim.VirtualMachine(moid, content.propertyCollector._stub)


def _snapshot(content, moid):
    return vim.vm.Snapshot(moid, content.propertyCollector._stub)


def _node(tree):
    return {
        "moid": tree.snapshot._moId,
        "snapshot_id": tree.id,
        "name": tree.name or "",
        "description": tree.description or "",
        "created": tree.createTime,
        "state": str(tree.state or ""),
        "quiesced": bool(tree.quiesced),
        "children": [_node(child) for child in tree.childSnapshotList or []],
    }


def read_snapshots(content, moid):
    """`{"current": moid or None, "roots": [node...]}` for the VM `moid`.

    Each node is `{"moid", "snapshot_id", "name", "description", "created", "state",
    "quiesced", "children"}`; a VM without snapshots has no roots.
    """
    item = retrieve_one(content, _vm(content, moid), ["snapshot"])
    info = item.get("snapshot")
    if info is None:
        return {"current": None, "roots": []}
    current = info.currentSnapshot
    return {
        "current": current._moId if current is not None else None,
        "roots": [_node(tree) for tree in info.rootSnapshotList or []],
    }


def create_snapshot(content, moid, name, description="", memory=False, quiesce=False):
    """Take a snapshot of the VM `moid` and return the new snapshot's moid."""
    task = _vm(content, moid).CreateSnapshot_Task(
        name=name, description=description, memory=memory, quiesce=quiesce
    )
    return wait_for_task(content, task)


def revert_snapshot(content, snapshot_moid, progress=None):
    """Revert the VM to the snapshot `snapshot_moid`, reporting the task's progress."""
    task = _snapshot(content, snapshot_moid).RevertToSnapshot_Task()
    wait_for_task(content, task, progress=progress)


def remove_snapshot(content, snapshot_moid, remove_children=False):
    """Remove the snapshot `snapshot_moid`, and the snapshots below it if `remove_children`."""
    task = _snapshot(content, snapshot_moid).RemoveSnapshot_Task(removeChildren=remove_children)
    wait_for_task(content, task)
