"""gunicorn's settings for the portal: `gunicorn -c gunicorn.conf.py kstack_naguan.wsgi`.

A request that changes a VM (power, resize, delete, disks, adapters, a snapshot) waits for the
vCenter task in the request, for at most `KSTACK_VCENTER_REQUEST_TIMEOUT` seconds (120 by
default); the worker timeout leaves a minute above that, so the caller gets the portal's answer
and the change its event log instead of a worker killed halfway. `GUNICORN_BIND` and
`WEB_CONCURRENCY` set the address and the number of workers.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
timeout = int(os.environ.get("KSTACK_VCENTER_REQUEST_TIMEOUT", 120)) + 60
graceful_timeout = timeout
accesslog = "-"
