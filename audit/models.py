from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kstack_naguan.api import codes


class RequestLog(models.Model):
    """One API request as the middleware saw it, with secret fields of the body redacted."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=512, db_index=True)
    query = models.TextField(_("query string"), blank=True)
    status = models.PositiveSmallIntegerField(_("status"), db_index=True)
    code = models.IntegerField(_("response code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    client_ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, db_index=True)
    body = models.TextField(_("body"), blank=True)

    class Meta:
        verbose_name = _("request log")
        verbose_name_plural = _("request logs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.method} {self.path} {self.status}"


class EventLog(models.Model):
    """Who did what to which object, with summaries of the object before and after."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=32, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("event log")
        verbose_name_plural = _("event logs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.action} {self.object_type} {self.object_repr}"


class TaskLogStatusChoices(models.TextChoices):
    """The life of a task: pending, running, then success or failure."""

    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    SUCCESS = "success", _("success")
    FAILURE = "failure", _("failure")


class TaskLog(models.Model):
    """A long operation run by Celery: its state, progress, outcome code and result or error."""

    name = models.CharField(_("task"), max_length=64, db_index=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=TaskLogStatusChoices.choices,
        default=TaskLogStatusChoices.PENDING,
        db_index=True,
    )
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    code = models.IntegerField(_("response code"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=255, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    args = models.JSONField(_("arguments"), default=dict, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    object_type = models.CharField(_("object type"), max_length=64, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    celery_task_id = models.CharField(_("Celery task id"), max_length=64, blank=True)
    vcenter_task = models.CharField(_("vCenter task"), max_length=64, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("task log")
        verbose_name_plural = _("task logs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} #{self.pk} {self.status}"

    @property
    def is_finished(self):
        """True once the task has ended, successfully or not."""
        return self.status in (TaskLogStatusChoices.SUCCESS, TaskLogStatusChoices.FAILURE)

    @property
    def msg(self):
        """The outcome's message in the active language (the code's), else the stored text."""
        if self.code in codes.REGISTRY:
            return codes.get(self.code).msg
        return self.message

    @property
    def duration(self):
        """Seconds from start to finish, or None while the task has not both started and ended."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
