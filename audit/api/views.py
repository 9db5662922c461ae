from audit.models import TaskLog
from kstack_naguan.api import codes
from kstack_naguan.api.viewsets import EnvelopeReadOnlyViewSet

from .serializers import TaskLogSerializer


class TaskLogViewSet(EnvelopeReadOnlyViewSet):
    """Task logs: list and get (1930; 1911 for an unknown id)."""

    # TODO(#4): filters, delete, and the request and event log APIs.
    queryset = TaskLog.objects.all()
    serializer_class = TaskLogSerializer
    ordering_fields = ["created_at", "id", "status"]
    success_codes = {
        "list": codes.TASK_LOG_QUERY_OK.number,
        "retrieve": codes.TASK_LOG_QUERY_OK.number,
    }
    not_found_codes = {"retrieve": codes.TASK_LOG_NOT_FOUND.number}
