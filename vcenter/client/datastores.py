"""ISO image discovery on datastores through each datastore's HostDatastoreBrowser.

`find_iso_images` starts one `SearchDatastoreSubFolders_Task` per datastore (vCenter runs them
side by side), then waits for each with a deadline and returns plain dicts: the datastore's moid,
the file's datastore path as a VM's CD-ROM backing takes it (`[LocalDS_0] isos/test.iso`), its
name, size and modification time. A datastore whose search fails is named in the answer's
`failed` map instead of failing the whole discovery, so one unreadable datastore does not hide
the images of the others.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC

from pyVmomi import vim, vmodl

from .errors import VCenterError, from_fault
from .tasks import wait_for_task

logger = logging.getLogger(__name__)

ISO_PATTERNS = ["*.iso", "*.ISO"]

_DATASTORE_PATH = re.compile(r"^\[(?P<datastore>[^\]]*)\]\s*(?P<folder>.*)$")


@dataclass
class IsoSearch:
    """What a search over several datastores found, and which datastores it could not read."""

    images: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)


def datastore_path(folder_path, file_name):
    """Join a search result's folder (`[ds] a/b`, or vcsim's `[ds]/a/b`) and a file name.

    The answer has vSphere's canonical form: `[ds] a/b/file.iso`, `[ds] file.iso` at the root.
    """
    match = _DATASTORE_PATH.match(folder_path or "")
    if match is None:
        return f"{folder_path.rstrip('/')}/{file_name}"
    folder = match["folder"].strip().strip("/")
    relative = f"{folder}/{file_name}" if folder else file_name
    return f"[{match['datastore']}] {relative}"


def _search_spec():
    details = vim.host.DatastoreBrowser.FileInfo.Details(
        fileSize=True, modification=True, fileType=True, fileOwner=False
    )
    return vim.host.DatastoreBrowser.SearchSpec(matchPattern=ISO_PATTERNS, details=details)


def find_iso_images(content, datastores, timeout=None):
    """Search every datastore in `datastores` for `.iso` files; return an `IsoSearch`.

    `datastores` is a list of dicts with the datastore's `moid`, `name` and the moid of its
    `browser` (as the inventory read gives them). Each image is a dict with `datastore` (moid),
    `path`, `name`, `size` (bytes) and `modified` (aware UTC datetime or None).
    """
    outcome = IsoSearch()
    stub = content.propertyCollector._stub
    spec = _search_spec()

    # Start one search per datastore so that vCenter runs them side by side.
    started = []
    for datastore in datastores:
        browser = vim.host.DatastoreBrowser(datastore["browser"], stub)
        try:
            task = browser.SearchDatastoreSubFolders_Task(
                datastorePath=f"[{datastore['name']}]", searchSpec=spec
            )
        except vmodl.MethodFault as exc:
            outcome.failed[datastore["moid"]] = str(from_fault(exc))
            continue
        started.append((datastore, task))

    # Wait for each search and turn its results into plain dicts.
    for datastore, task in started:
        try:
            results = wait_for_task(content, task, timeout=timeout) or []
        except VCenterError as exc:
            outcome.failed[datastore["moid"]] = str(exc)
            continue
        for result in results:
            for info in result.file or []:
                if isinstance(info, vim.host.DatastoreBrowser.FolderInfo):
                    continue  # a folder whose name ends in .iso
                modified = getattr(info, "modification", None)
                outcome.images.append(
                    {
                        "datastore": datastore["moid"],
                        "path": datastore_path(result.folderPath, info.path),
                        "name": info.path,
                        "size": int(getattr(info, "fileSize", None) or 0),
                        "modified": modified.astimezone(UTC) if modified else None,
                    }
                )
    if outcome.failed:
        logger.warning(
            "ISO search failed on %s of %s datastores", len(outcome.failed), len(datastores)
        )
    return outcome
