"""The VM lifecycle as the API uses it: validation, business rules, audit and the mirror.

Every operation checks its input before anything changes in vCenter: against the inventory
mirror (datacenters, hosts, pools, folders, datastores, port groups) and, where only vCenter
knows, against vCenter itself (free space, an ISO file on a datastore, the names in a folder,
the VM's live power state and hot-add flags). Rules the simulator does not enforce but a real
vCenter does (unique names per folder, hot-add, powered-off customization) are enforced here.

Power, resize and delete run in the request and answer with their code. Create, clone, cold
migrate and IP customization are long: the request validates and turns the input into a plan
(plain JSON, kept in the TaskLog's arguments), and a Celery task in `vm_tasks` carries it out
with the `run_*` functions, recording the vCenter task and its progress in the TaskLog.
After every change the one VM is re-read into the mirror (`sync.refresh_vm`) and an EventLog
entry is written.

vSphere escapes `%`, `/` and `\\` in names (`%25`, `%2f`, `%5c`). Names are escaped the same way
before they are sent, so the simulator stores what a real vCenter would, and `display_name`
turns a stored name back into what the user typed.
"""

from .clone import plan_clone, plan_migrate, run_clone, run_migrate
from .common import (
    DISK_TYPES,
    MAX_CPUS,
    MAX_DISK_GB,
    MAX_DISKS,
    MAX_MEMORY_MB,
    MAX_NICS,
    Outcome,
    display_name,
    escape_name,
)
from .create import plan_create, run_create
from .customize import plan_ip, run_customize
from .power import POWER_ACTIONS, delete, power, refresh, resize

__all__ = [
    "DISK_TYPES",
    "MAX_CPUS",
    "MAX_DISKS",
    "MAX_DISK_GB",
    "MAX_MEMORY_MB",
    "MAX_NICS",
    "POWER_ACTIONS",
    "Outcome",
    "delete",
    "display_name",
    "escape_name",
    "plan_clone",
    "plan_create",
    "plan_ip",
    "plan_migrate",
    "power",
    "refresh",
    "resize",
    "run_clone",
    "run_create",
    "run_customize",
    "run_migrate",
]
