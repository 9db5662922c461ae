"""The log APIs: request (1700s), event (1800s) and task (1900s) logs.

Each answers a list with filters and a get (x30; x31 for a bad filter or a failing database;
x11 for an unknown id), and deletes one row (`DELETE .../{id}`) or many (`POST .../bulk-delete`
with `{"ids": [...]}`) with x10, x11 when any id is unknown (nothing is deleted then) and x12 when
the database fails. A task log that has not finished cannot be deleted (911, 409).
"""

import logging
from collections.abc import Mapping

from django.db import DatabaseError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework import status as http_status
from rest_framework.decorators import action

from audit import services
from audit.filters import EventLogFilterSet, RequestLogFilterSet, TaskLogFilterSet
from audit.models import EventLog, RequestLog, TaskLog, TaskLogStatusChoices
from kstack_naguan.api import codes
from kstack_naguan.api.exceptions import ApiError, validation_error
from kstack_naguan.api.responses import ApiResponse
from kstack_naguan.api.viewsets import EnvelopeMixin

from .serializers import (
    BulkDeleteSerializer,
    EventLogSerializer,
    RequestLogSerializer,
    TaskLogSerializer,
)

logger = logging.getLogger(__name__)


class LogViewSet(
    EnvelopeMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """List, get and delete the rows of one log; subclasses name the model and their codes."""

    query_ok = query_failed = not_found = deleted_code = delete_error = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.success_codes = {
            "list": cls.query_ok.number,
            "retrieve": cls.query_ok.number,
            "destroy": cls.deleted_code.number,
            "bulk_delete": cls.deleted_code.number,
        }
        cls.not_found_codes = {"retrieve": cls.not_found.number, "destroy": cls.not_found.number}
        cls.query_failed_code = cls.query_failed
        opts = cls.queryset.model._meta
        cls.action_permissions = {"bulk_delete": [f"{opts.app_label}.delete_{opts.model_name}"]}

    def destroy(self, request, *args, **kwargs):
        return self._delete(request, [self.get_object().pk])

    @extend_schema(request=BulkDeleteSerializer, responses={200: None})
    @action(detail=False, methods=["post"], url_path="bulk-delete")
    def bulk_delete(self, request):
        """Delete every row in `ids`, or none if any of them is unknown."""
        data = request.data if isinstance(request.data, Mapping) else {}
        serializer = BulkDeleteSerializer(data=data)
        if not serializer.is_valid():
            raise validation_error(codes.INVALID_INPUT, serializer.errors)
        ids = serializer.validated_data["ids"]
        found = set(self.get_queryset().filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise ApiError(self.not_found, http_status.HTTP_404_NOT_FOUND, {"missing": missing})
        return self._delete(request, ids)

    def check_deletable(self, ids):
        """Refuse to delete rows that must stay; every row may go unless a subclass says so."""

    def _delete(self, request, ids):
        self.check_deletable(ids)
        try:
            deleted = services.delete_logs(request.user, self.queryset.model, ids)
        except DatabaseError:
            logger.exception("deleting %s failed", self.queryset.model._meta.label)
            raise ApiError(self.delete_error, http_status.HTTP_500_INTERNAL_SERVER_ERROR) from None
        return ApiResponse(self.deleted_code, {"deleted": deleted, "ids": ids})


class RequestLogViewSet(LogViewSet):
    """API requests as the middleware recorded them (1710-1731)."""

    queryset = RequestLog.objects.all()
    serializer_class = RequestLogSerializer
    filterset_class = RequestLogFilterSet
    search_fields = ["path", "username", "request_id"]
    ordering_fields = ["created_at", "id", "status", "duration_ms", "path", "username"]
    query_ok, query_failed = codes.REQUEST_LOG_QUERY_OK, codes.REQUEST_LOG_QUERY_FAILED
    not_found, deleted_code = codes.REQUEST_LOG_NOT_FOUND, codes.REQUEST_LOG_DELETED
    delete_error = codes.REQUEST_LOG_DELETE_ERROR


class EventLogViewSet(LogViewSet):
    """Who did what to which object (1810-1831)."""

    queryset = EventLog.objects.all()
    serializer_class = EventLogSerializer
    filterset_class = EventLogFilterSet
    search_fields = ["object_repr", "object_id", "username", "message"]
    ordering_fields = ["created_at", "id", "action", "object_type", "username"]
    query_ok, query_failed = codes.EVENT_LOG_QUERY_OK, codes.EVENT_LOG_QUERY_FAILED
    not_found, deleted_code = codes.EVENT_LOG_NOT_FOUND, codes.EVENT_LOG_DELETED
    delete_error = codes.EVENT_LOG_DELETE_ERROR


class TaskLogViewSet(LogViewSet):
    """Celery tasks and their outcome (1910-1931); unfinished ones cannot be deleted."""

    queryset = TaskLog.objects.all()
    serializer_class = TaskLogSerializer
    filterset_class = TaskLogFilterSet
    search_fields = ["name", "object_repr", "object_id", "celery_task_id"]
    ordering_fields = ["created_at", "id", "status", "name", "finished_at"]
    query_ok, query_failed = codes.TASK_LOG_QUERY_OK, codes.TASK_LOG_QUERY_FAILED
    not_found, deleted_code = codes.TASK_LOG_NOT_FOUND, codes.TASK_LOG_DELETED
    delete_error = codes.TASK_LOG_DELETE_ERROR

    def check_deletable(self, ids):
        unfinished = list(
            TaskLog.objects.filter(pk__in=ids)
            .exclude(status__in=[TaskLogStatusChoices.SUCCESS, TaskLogStatusChoices.FAILURE])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if unfinished:
            raise ApiError(
                codes.CONFLICT,
                http_status.HTTP_409_CONFLICT,
                {"unfinished": unfinished},
                detail="A task that is pending or running cannot be deleted; wait until it ends.",
            )
