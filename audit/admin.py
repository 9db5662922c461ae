from django.contrib import admin

from .models import EventLog, RequestLog, TaskLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are written by the portal, never typed in."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
    list_display = ["created_at", "username", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "username", "message"]
    date_hierarchy = "created_at"


@admin.register(TaskLog)
class TaskLogAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "name",
        "status",
        "progress",
        "code",
        "object_repr",
        "created_at",
        "finished_at",
    ]
    list_filter = ["name", "status"]
    search_fields = ["object_repr", "object_id", "celery_task_id", "request_id"]
    date_hierarchy = "created_at"
