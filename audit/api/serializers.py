from rest_framework import serializers

from audit.models import TaskLog
from kstack_naguan.api import codes


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
        if task_log.code in codes.REGISTRY:
            return codes.get(task_log.code).msg
        return task_log.message
