"""A VM's disks, network adapters and snapshots (`vms/{id}/disks/`, `networks/`, `snapshots/`)."""

# TODO(#6): disks, network adapters and snapshots.
routes = []
