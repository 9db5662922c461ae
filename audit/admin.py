"""The audit trail in the admin: request, event and task logs, read-only and linked to their objects.

Task log pages show the state, the progress as a bar, the outcome code and message, the duration
and the error; while a task is pending or running, `audit/admin/tasklog.js` polls the TaskLog API
(`/api/logs/tasks/{id}`, with the admin's session) and updates the page in place. Deleting log
rows goes through `services.delete_logs`, as the API's deletes do, so it leaves an event; a task
that has not finished cannot be deleted.
"""

import json

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin, PeriodicTaskForm, TaskSelectWidget
from django_celery_beat.models import PeriodicTask

from . import services
from .models import EventLog, RequestLog, TaskLog, TaskLogStatusChoices

UNFINISHED = [TaskLogStatusChoices.PENDING, TaskLogStatusChoices.RUNNING]


def admin_url(obj):
    """The admin change page of `obj`, or None when its model is not in the admin."""
    if obj is None or obj.pk is None:
        return None
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


def admin_link(obj, text=None):
    """A link to `obj`'s admin page labelled `text` (default: the object), or "" without one."""
    if obj is None:
        return ""
    url = admin_url(obj)
    label = text if text is not None else str(obj)
    return format_html('<a href="{}">{}</a>', url, label) if url else label


def object_admin_link(object_type, object_id, text):
    """A link to the object a log row names by label and id, when it still exists."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return text or "-"
    obj = model._default_manager.filter(pk=object_id).first() if str(object_id).isdigit() else None
    if obj is None:
        return text or "-"
    return admin_link(obj, text or str(obj))


def can_view_task_logs(user):
    """Whether `user` may open task log pages in the admin."""
    return user.has_perm(f"{TaskLog._meta.app_label}.view_{TaskLog._meta.model_name}")


def task_log_message(task_log, user):
    """`task log #N: state — message (code)` for admin messages, linked to the TaskLog's page
    when `user` may open it."""
    text = _("task log #%(id)s: %(status)s") % {
        "id": task_log.pk,
        "status": task_log.get_status_display(),
    }
    if task_log.code is not None:
        text = f"{text} — {task_log.msg} ({task_log.code})"
    if not can_view_task_logs(user):
        return text
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:audit_tasklog_change", args=[task_log.pk]), text
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are written by the portal, never typed in; deleting them is itself logged."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.delete_logs(request.user, self.model, [obj.pk])

    def delete_queryset(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        if ids:
            services.delete_logs(request.user, self.model, ids)


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "username",
        "method",
        "path",
        "status",
        "code",
        "duration_ms",
        "client_ip",
    ]
    list_filter = ["method", "status"]
    search_fields = ["path", "username", "request_id"]
    date_hierarchy = "created_at"


@admin.register(EventLog)
class EventLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "username", "action", "object_type", "object_link", "message"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "username", "message", "request_id"]
    date_hierarchy = "created_at"

    @admin.display(description=_("object"), ordering="object_repr")
    def object_link(self, obj):
        return object_admin_link(obj.object_type, obj.object_id, obj.object_repr)


def _live(obj, field, html):
    """Wrap `html` so the polling script can find and replace this field of the TaskLog."""
    return format_html(
        '<span data-tasklog-id="{}" data-tasklog-field="{}">{}</span>', obj.pk, field, html
    )


@admin.register(TaskLog)
class TaskLogAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "name",
        "status_badge",
        "progress_bar",
        "code",
        "outcome_message",
        "object_link",
        "username",
        "created_at",
        "duration_text",
    ]
    list_display_links = ["id", "name"]
    list_filter = ["status", "name", "object_type"]
    search_fields = ["name", "object_repr", "object_id", "celery_task_id", "request_id", "message"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "status_badge",
                    "progress_bar",
                    "outcome",
                    "duration_text",
                    "object_link",
                    "user",
                    "error_text",
                ]
            },
        ),
        (_("Result and arguments"), {"fields": ["result_json", "args_json"]}),
        (
            _("Tracking"),
            {
                "classes": ["collapse"],
                "fields": [
                    "celery_task_id",
                    "vcenter_task",
                    "request_id",
                    "attempts",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "updated_at",
                ],
            },
        ),
    ]
    readonly_fields = [
        "status_badge",
        "progress_bar",
        "outcome",
        "duration_text",
        "object_link",
        "error_text",
        "result_json",
        "args_json",
    ]

    class Media:
        css = {"all": ["audit/admin/tasklog.css"]}
        js = ["audit/admin/tasklog.js"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_finished:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        unfinished = queryset.filter(status__in=UNFINISHED)
        if unfinished.exists():
            self.message_user(
                request,
                _("Tasks still pending or running were kept: %(ids)s.")
                % {"ids": ", ".join(str(pk) for pk in unfinished.values_list("pk", flat=True))},
                messages.WARNING,
            )
        super().delete_queryset(request, queryset.exclude(status__in=UNFINISHED))

    def _status_context(self, extra_context):
        labels = dict(TaskLogStatusChoices.choices)
        return {
            **(extra_context or {}),
            "tasklog_status_labels": {k: str(v) for k, v in labels.items()},
        }

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, self._status_context(extra_context))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(
            request, object_id, form_url, self._status_context(extra_context)
        )

    @admin.display(description=_("user"), ordering="user__username")
    def username(self, obj):
        return obj.user.get_username() if obj.user_id else "-"

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="tasklog-status tasklog-status-{}" data-tasklog-id="{}" '
            'data-tasklog-field="status" data-status="{}" data-tasklog-url="{}">{}</span>',
            obj.status,
            obj.pk,
            obj.status,
            reverse("tasklog-detail", args=[obj.pk]),
            obj.get_status_display(),
        )

    @admin.display(description=_("progress"), ordering="progress")
    def progress_bar(self, obj):
        return format_html(
            '<span class="tasklog-progress"><progress max="100" value="{}" data-tasklog-id="{}" '
            'data-tasklog-field="progress"></progress> <span data-tasklog-id="{}" '
            'data-tasklog-field="progress_text">{}%</span></span>',
            obj.progress,
            obj.pk,
            obj.pk,
            obj.progress,
        )

    @admin.display(description=_("message"), ordering="code")
    def outcome_message(self, obj):
        return obj.msg

    @admin.display(description=_("outcome"))
    def outcome(self, obj):
        return format_html(
            "{} {}",
            _live(obj, "code", obj.code if obj.code is not None else "-"),
            _live(obj, "msg", obj.msg),
        )

    @admin.display(description=_("duration"))
    def duration_text(self, obj):
        seconds = obj.duration
        return _live(obj, "duration", f"{seconds:.1f} s" if seconds is not None else "-")

    @admin.display(description=_("object"), ordering="object_repr")
    def object_link(self, obj):
        return object_admin_link(obj.object_type, obj.object_id, obj.object_repr)

    @admin.display(description=_("error"))
    def error_text(self, obj):
        return format_html(
            '<pre class="tasklog-error" data-tasklog-id="{}" data-tasklog-field="error">{}</pre>',
            obj.pk,
            obj.error or "",
        )

    @admin.display(description=_("result"))
    def result_json(self, obj):
        return _pretty(obj.result)

    @admin.display(description=_("arguments"))
    def args_json(self, obj):
        return _pretty(obj.args)


def _pretty(value):
    if value in (None, "", {}, []):
        return "-"
    return format_html(
        '<pre class="tasklog-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


# Periodic tasks: django-celery-beat's own admin, limited to the tasks meant to run on a
# schedule. Any other registered task (a VM create, a clone...) is run only by the services
# that check the caller's permission for it; a schedule must not be a way around them.
SCHEDULABLE_TASKS = (
    "vcenter.sync_all",
    "audit.reap_stale_tasks",
    "audit.prune_logs",
    "celery.backend_cleanup",  # beat's own
)


class SchedulableTaskWidget(TaskSelectWidget):
    """The registered-task picker, listing the `SCHEDULABLE_TASKS` only."""

    def tasks_as_choices(self):
        return (("", ""), *((name, name) for name in SCHEDULABLE_TASKS))


class ScheduledTaskForm(PeriodicTaskForm):
    """django-celery-beat's form, offering and accepting only the `SCHEDULABLE_TASKS`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regtask"].widget = SchedulableTaskWidget()

    def clean(self):
        data = super().clean()
        if data.get("task") and data["task"] not in SCHEDULABLE_TASKS:
            raise forms.ValidationError(
                _("Only these tasks run on a schedule: %(tasks)s."),
                params={"tasks": ", ".join(SCHEDULABLE_TASKS)},
                code="not_schedulable",
            )
        return data


class ScheduledTaskAdmin(PeriodicTaskAdmin):
    form = ScheduledTaskForm


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, ScheduledTaskAdmin)
