"""Writing the audit trail: event log entries and the life of a TaskLog around a Celery task.

`record_event` is called by services (never by views) after a change. `enqueue` creates the
TaskLog row and hands the task to Celery once the surrounding transaction commits; inside the
task, `track` moves that row pending → running → success/failure and keeps the outcome's code.
`delete_logs` removes chosen log rows for the log APIs; `prune_logs` removes everything older
than the retention period (the `audit.prune_logs` task and `manage.py prune_logs`).
"""

import contextvars
import logging
from contextlib import contextmanager
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from rest_framework import status as http_status

from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError
from kstack_naguan.api.middleware import bind_request_id, current_request_id, reset_request_id

from .models import EventLog, RequestLog, TaskLog, TaskLogStatusChoices

logger = logging.getLogger(__name__)


def _actor(user):
    if user is not None and getattr(user, "is_authenticated", False):
        return user, user.get_username()
    return None, ""


def record_event(
    user,
    action,
    obj=None,
    *,
    object_type="",
    object_id="",
    object_repr="",
    before=None,
    after=None,
    message="",
):
    """Write an EventLog entry saying that `user` did `action` to `obj`.

    `obj` names the object; without one (an object already deleted, a bulk operation) the caller
    names it with `object_type`, `object_id` and `object_repr`. `before` and `after` are small
    JSON summaries that must never hold a secret.
    """
    actor, username = _actor(user)
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    return EventLog.objects.create(
        user=actor,
        username=username,
        action=action,
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        object_repr=str(object_repr)[:255],
        before=before,
        after=after,
        message=message,
        request_id=current_request_id() if current_request_id() != "-" else "",
    )


class TaskFailed(Exception):
    """Raised inside a tracked task to end it as a failure with a specific code and reason."""

    def __init__(self, code, message="", result=None):
        self.code = code if isinstance(code, codes.Code) else codes.get(code)
        self.result = result
        super().__init__(message or self.code.msg)


def enqueue(task, *, name, user=None, obj=None, args=None, kwargs=None):
    """Create a pending TaskLog and send `task(task_log_id, *args)` after the transaction commits.

    With no broker configured Celery runs the task eagerly, so the row is already finished when
    this returns; with a worker, it is usually still pending.
    """
    actor, _username = _actor(user)
    task_log = TaskLog.objects.create(
        name=name,
        user=actor,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        args=kwargs or {},
        request_id=current_request_id() if current_request_id() != "-" else "",
    )
    call_args = [task_log.pk, *(args or [])]

    def send():
        try:
            result = task.apply_async(args=call_args, kwargs=kwargs or {})
        except (KombuOperationalError, OSError) as exc:
            # The broker cannot be reached: the task never left, so its row ends now (not as
            # "worker lost" an hour later) and the caller is told to try again (503).
            logger.error("task %s (TaskLog %s) could not be queued: %s", name, task_log.pk, exc)
            code = codes.QUEUE_UNAVAILABLE
            _finish(task_log, TaskLogStatusChoices.FAILURE, code, code.msg, None, str(exc))
            raise ApiError(
                code, http_status.HTTP_503_SERVICE_UNAVAILABLE, data={"task_id": task_log.pk}
            ) from None
        TaskLog.objects.filter(pk=task_log.pk, celery_task_id="").update(
            celery_task_id=result.id or ""
        )

    # Eager (no broker): run now, inside the caller's transaction. A worker must only see the
    # row once it is committed.
    if current_app.conf.task_always_eager:
        send()
    else:
        transaction.on_commit(send)
    logger.info("task %s queued as TaskLog %s", name, task_log.pk)
    return task_log


class TaskRun:
    """The handle a tracked task uses to report progress and its outcome."""

    def __init__(self, task_log):
        self.task_log = task_log
        self.outcome = None

    def progress(self, percent, vcenter_task=None):
        """Record progress (0-100) and, when known, the vCenter task's id."""
        percent = max(0, min(100, int(percent)))
        fields = {"progress": percent, "updated_at": timezone.now()}
        if vcenter_task:
            fields["vcenter_task"] = str(vcenter_task)[:64]
        TaskLog.objects.filter(pk=self.task_log.pk).update(**fields)
        self.task_log.progress = percent

    def about(self, obj):
        """Name `obj` as what the task is about, once it exists (the VM a create made)."""
        fields = {
            "object_type": obj._meta.label,
            "object_id": str(obj.pk),
            "object_repr": str(obj)[:255],
        }
        TaskLog.objects.filter(pk=self.task_log.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.task_log, name, value)

    def succeed(self, code, result=None):
        """End the task successfully with `code` and a JSON-serialisable `result`."""
        self.outcome = (code if isinstance(code, codes.Code) else codes.get(code), result)


def _finish(task_log, status, code, message, result=None, error=""):
    TaskLog.objects.filter(pk=task_log.pk).update(
        status=status,
        code=code.number,
        message=str(message)[:255],
        result=result,
        error=error,
        progress=100 if status == TaskLogStatusChoices.SUCCESS else task_log.progress,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


@contextmanager
def track(task_log_id, *, failure_code, celery_task_id=""):
    """Run a task's body against its TaskLog; yield a `TaskRun`, or None if already finished.

    A redelivered task (acks_late) whose TaskLog already ended yields None and does nothing, so
    running a task twice is safe. Any exception ends the row as a failure with `failure_code`
    (or the code a `TaskFailed` names) and is not re-raised: the TaskLog is the record.
    """
    task_log = TaskLog.objects.filter(pk=task_log_id).first()
    if task_log is None or task_log.is_finished:
        yield None
        return

    token = bind_request_id(task_log.request_id or f"task-{task_log.pk}")
    running = _running_task.set(task_log.pk)
    TaskLog.objects.filter(pk=task_log.pk).update(
        status=TaskLogStatusChoices.RUNNING,
        started_at=timezone.now(),
        attempts=task_log.attempts + 1,
        celery_task_id=celery_task_id or task_log.celery_task_id,
    )
    logger.info("task %s (TaskLog %s) started", task_log.name, task_log.pk)
    run = TaskRun(task_log)
    try:
        yield run
    except TaskFailed as exc:
        logger.warning("task %s (TaskLog %s) failed: %s", task_log.name, task_log.pk, exc)
        _finish(
            task_log, TaskLogStatusChoices.FAILURE, exc.code, exc.code.msg, exc.result, str(exc)
        )
    except Exception as exc:
        logger.exception("task %s (TaskLog %s) crashed", task_log.name, task_log.pk)
        code = failure_code if isinstance(failure_code, codes.Code) else codes.get(failure_code)
        _finish(
            task_log,
            TaskLogStatusChoices.FAILURE,
            code,
            code.msg,
            None,
            f"{type(exc).__name__}: {exc}",
        )
    else:
        code, result = run.outcome or (codes.OK, None)
        _finish(task_log, TaskLogStatusChoices.SUCCESS, code, code.msg, result)
        logger.info(
            "task %s (TaskLog %s) succeeded with %s", task_log.name, task_log.pk, code.number
        )
    finally:
        _running_task.reset(running)
        reset_request_id(token)


# The TaskLog of the task this code runs in, None in a web request.
_running_task = contextvars.ContextVar("kstack_running_task", default=None)


def in_task():
    """True inside a tracked task (a worker's, or an eager one), False in a web request."""
    return _running_task.get() is not None


DEFAULT_RETENTION_DAYS = 90
PRUNE_BATCH = 5000


def delete_logs(user, model, ids):
    """Delete the `model` log rows with primary keys `ids` and record who did it; return the count.

    The caller has checked that the rows exist and may go. The deletion itself is an event, so
    removing audit rows always leaves a trace.
    """
    with transaction.atomic():
        deleted, _per_model = model.objects.filter(pk__in=ids).delete()
        record_event(
            user,
            "delete",
            object_type=model._meta.label,
            object_id=str(ids[0]) if len(ids) == 1 else "",
            object_repr=f"{deleted} {model._meta.verbose_name_plural}",
            after={"ids": sorted(ids)[:1000], "deleted": deleted},
            message=f"deleted {deleted} {model._meta.verbose_name_plural}",
        )
    logger.info("%s deleted %s %s", _actor(user)[1] or "system", deleted, model._meta.label)
    return deleted


def retention_days():
    """Days logs are kept: the system configuration's `log_retention_days` (90 without one)."""
    from systemconfig.models import SystemConfig

    config = SystemConfig.current()
    return config.log_retention_days if config is not None else DEFAULT_RETENTION_DAYS


def _delete_in_batches(queryset, progress=None):
    total = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return total
        deleted, _per_model = queryset.model.objects.filter(pk__in=ids).delete()
        total += deleted
        if progress is not None:
            progress(deleted)


def prune_logs(days=None, *, now=None, progress=None):
    """Delete request, event and finished task logs older than `days` (default: the configured).

    `days` of 0 keeps everything. Rows go in batches, so a large backlog never holds one long
    lock; unfinished task logs are kept whatever their age. Returns what was deleted.
    `progress`, when given, hears `start(kind, total)` before each kind of log and
    `advance(count)` after each batch (`manage.py prune_logs` draws a bar with it).
    """
    days = retention_days() if days is None else int(days)
    now = now or timezone.now()
    result = {"days": days, "cutoff": None, "deleted": {"requests": 0, "events": 0, "tasks": 0}}
    if days <= 0:
        logger.info("log pruning is off (retention 0 days)")
        return result
    cutoff = now - timedelta(days=days)
    result["cutoff"] = cutoff.isoformat()
    deleted = result["deleted"]
    due = {
        "requests": RequestLog.objects.filter(created_at__lt=cutoff),
        "events": EventLog.objects.filter(created_at__lt=cutoff),
        "tasks": TaskLog.objects.filter(
            created_at__lt=cutoff,
            status__in=[TaskLogStatusChoices.SUCCESS, TaskLogStatusChoices.FAILURE],
        ),
    }
    for kind, queryset in due.items():
        step = None
        if progress is not None:
            progress.start(kind, queryset.count())
            step = progress.advance
        deleted[kind] = _delete_in_batches(queryset, step)
    if any(deleted.values()):
        record_event(
            None,
            "prune",
            object_type="audit.logs",
            after=result,
            message=f"pruned logs older than {days} days",
        )
    logger.info(
        "pruned logs older than %s days: %s requests, %s events, %s tasks",
        days,
        deleted["requests"],
        deleted["events"],
        deleted["tasks"],
    )
    return result
