"""Waiting on vCenter tasks with a deadline, reporting progress as the task moves."""

import logging
import time

from django.conf import settings
from pyVmomi import vim

from .errors import VCenterTimeout, from_fault
from .inventory import retrieve_one

logger = logging.getLogger(__name__)

_TASK_PATHS = ["info.state", "info.progress", "info.error", "info.result", "info.key"]


def default_timeout():
    """How long a wait may last by default: `KSTACK_VCENTER_TASK_TIMEOUT` inside a Celery task,
    `KSTACK_VCENTER_REQUEST_TIMEOUT` in a web request (a power change, a resize, a VM's devices),
    which stays below the web server's own timeout (`gunicorn.conf.py`): the caller gets an
    answer instead of a worker killed in the middle of the change."""
    from audit.services import in_task

    if in_task():
        return settings.KSTACK_VCENTER_TASK_TIMEOUT
    return settings.KSTACK_VCENTER_REQUEST_TIMEOUT


def wait_for_task(content, task, progress=None, timeout=None, poll_interval=0.5):
    """Wait until `task` ends; return its result, or raise the domain error of its fault.

    `progress(percent, task_key)` is called whenever vCenter reports a new percentage (and once
    with 100 on success). The wait gives up with `VCenterTimeout` after `timeout` seconds
    (`default_timeout()` when None).
    """
    deadline = time.monotonic() + (timeout or default_timeout())
    last = None
    while True:
        info = retrieve_one(content, task, _TASK_PATHS)
        state = info.get("info.state")
        percent = info.get("info.progress")
        if progress is not None and percent is not None and percent != last:
            last = percent
            progress(percent, task._moId)
        if state == vim.TaskInfo.State.success:
            if progress is not None:
                progress(100, task._moId)
            return info.get("info.result")
        if state == vim.TaskInfo.State.error:
            raise from_fault(info.get("info.error"))
        if time.monotonic() >= deadline:
            raise VCenterTimeout(f"vCenter task {task._moId} did not finish in time")
        time.sleep(poll_interval)
