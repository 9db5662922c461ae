from rest_framework import serializers

from audit.models import EventLog, RequestLog, TaskLog


class RequestLogSerializer(serializers.ModelSerializer):
    """One API request as recorded, secrets already redacted."""

    class Meta:
        model = RequestLog
        fields = [
            "id",
            "created_at",
            "user",
            "username",
            "method",
            "path",
            "query",
            "status",
            "code",
            "duration_ms",
            "client_ip",
            "user_agent",
            "request_id",
            "body",
        ]
        read_only_fields = fields


class EventLogSerializer(serializers.ModelSerializer):
    """Who did what to which object, with the before/after summaries."""

    class Meta:
        model = EventLog
        fields = [
            "id",
            "created_at",
            "user",
            "username",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "message",
            "request_id",
        ]
        read_only_fields = fields


class BulkDeleteSerializer(serializers.Serializer):
    """`{"ids": [1, 2, 3]}`: the log rows to delete, at most 1000 at a time."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        allow_empty=False,
        max_length=1000,
    )

    def validate_ids(self, ids):
        return sorted(set(ids))


class TaskLogSerializer(serializers.ModelSerializer):
    """A TaskLog with its outcome message in the caller's language."""

    msg = serializers.SerializerMethodField()
    duration = serializers.FloatField(read_only=True)

    class Meta:
        model = TaskLog
        fields = [
            "id",
            "name",
            "status",
            "progress",
            "code",
            "msg",
            "result",
            "error",
            "object_type",
            "object_id",
            "object_repr",
            "user",
            "vcenter_task",
            "celery_task_id",
            "request_id",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "duration",
        ]
        read_only_fields = fields

    def get_msg(self, task_log) -> str:
        return task_log.msg
