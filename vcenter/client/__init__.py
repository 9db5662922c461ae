"""The only place in the portal that talks to vCenter (pyVmomi, SOAP).

`connection.VCenterClient` opens and reuses a session per endpoint, logs in again when vCenter
has dropped it, and turns transport and login failures into the domain errors of `errors`.
`inventory.retrieve` reads many objects' properties in a few round trips with a ContainerView and
`RetrievePropertiesEx`, following continuation tokens to the end. `tasks.wait_for_task` waits on a
vCenter task with a deadline and reports its progress. Everything else in the portal works with
plain Python values and managed object ids (`moid`), never with pyVmomi objects.
"""

from .connection import VCenterClient, client_for_platform
from .errors import (
    VCenterAuthError,
    VCenterError,
    VCenterFault,
    VCenterNotFound,
    VCenterTimeout,
    VCenterUnreachable,
)

__all__ = [
    "VCenterAuthError",
    "VCenterClient",
    "VCenterError",
    "VCenterFault",
    "VCenterNotFound",
    "VCenterTimeout",
    "VCenterUnreachable",
    "client_for_platform",
]
