"""One change at a time per VM, across processes, through the cache (Redis in production).

Two requests that change one VM at once (two disk adds planning the same SCSI unit, a power-off
racing a resize) would otherwise interleave in vCenter. The second is refused at once with the
generic 911 "busy" answer instead of waiting: the caller can try again when the first is done.
A process that dies holding the lock leaves it to expire.
"""

import functools
import hashlib
import inspect
import logging
import uuid
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection
from rest_framework import status as http_status

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError

logger = logging.getLogger(__name__)

VM_LOCK_SECONDS = 15 * 60


def _key(vm):
    # The database's name keeps apart portals (and test runs) that share one Redis.
    database = hashlib.sha1(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:12]
    return f"vcenter:vm-lock:{database}:{vm.pk}"


@contextmanager
def vm_lock(vm):
    """Hold the VM's change lock for the block, or raise 911/409 if another change holds it."""
    key, token = _key(vm), uuid.uuid4().hex
    if not cache.add(key, token, timeout=VM_LOCK_SECONDS):
        logger.warning("refused a change to VM %s: another change is in progress", vm.moid)
        raise ApiError(
            codes.CONFLICT,
            http_status.HTTP_409_CONFLICT,
            detail="Another change to this VM is in progress; try again when it has finished.",
        )
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def one_change_at_a_time(fn):
    """Run the service function `fn(..., vm, ...)` under the lock of its `vm` argument."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        vm = signature.bind_partial(*args, **kwargs).arguments["vm"]
        with vm_lock(vm):
            return fn(*args, **kwargs)

    return wrapper
