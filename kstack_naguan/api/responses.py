"""A DRF `Response` that carries its response code to the envelope renderer."""

from rest_framework import status as http_status
from rest_framework.response import Response

from . import codes


class ApiResponse(Response):
    """A response whose body becomes `{"code": code, "msg": ..., "data": data}`."""

    def __init__(self, code, data=None, status=http_status.HTTP_200_OK, headers=None):
        super().__init__(data=data, status=status, headers=headers)
        self.api_code = code if isinstance(code, codes.Code) else codes.get(code)


def accepted(task_log, code=None):
    """Answer 202 for a long operation handed to Celery, with the TaskLog that follows it."""
    data = {"task_id": task_log.pk, "status": task_log.status}
    return ApiResponse(code or codes.TASK_ACCEPTED, data, status=http_status.HTTP_202_ACCEPTED)
