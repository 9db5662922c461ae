"""Base views that bind each action of a model's routes to its response codes."""

import logging

from django.db import DatabaseError
from django.http import Http404
from rest_framework import status as http_status
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError

from kstack_naguan.querylimits import MAX_QUERY_VALUE_LENGTH, overlong_query_values

from .exceptions import ApiError, database_error, validation_error
from .permissions import scope_queryset

logger = logging.getLogger(__name__)


def _check_query_lengths(params):
    """Refuse (as a bad filter) any query-string value over `MAX_QUERY_VALUE_LENGTH`."""
    too_long = overlong_query_values(params)
    if too_long:
        message = f"At most {MAX_QUERY_VALUE_LENGTH} characters."
        raise ValidationError({name: [message] for name in too_long})


class EnvelopeMixin:
    """Per-action codes for success (`success_codes`) and for an unknown id (`not_found_codes`).

    The renderer reads `success_codes[action]` for responses that name no code; `get_object`
    raises the action's not-found code with a 404 instead of the generic one. Reads answer a bad
    filter with `query_failed_code` (400) and a failing database with `query_db_error_code`
    (500, defaulting to `query_failed_code`); unset, the generic 908 and 999 apply.
    """

    success_codes: dict = {}
    not_found_codes: dict = {}
    query_failed_code = None
    query_db_error_code = None

    def filter_queryset(self, queryset):
        try:
            _check_query_lengths(self.request.query_params)
            return super().filter_queryset(queryset)
        except ValidationError as exc:
            if self.query_failed_code is None:
                raise
            raise validation_error(self.query_failed_code, exc.detail) from None

    def handle_exception(self, exc):
        # A read that the database failed answers the view's code. (Wrapping `list` and
        # `retrieve` here instead would give list-only viewsets a detail route.)
        if isinstance(exc, DatabaseError) and self.action in ("list", "retrieve"):
            code = self.query_db_error_code or self.query_failed_code
            if code is not None:
                logger.error("reading %s failed", type(self).__name__, exc_info=exc)
                exc = database_error(code)
        return super().handle_exception(exc)

    def get_queryset(self):
        """The view's queryset narrowed to what the caller may see (`permissions.scope_queryset`)."""
        user = getattr(getattr(self, "request", None), "user", None)
        return scope_queryset(user, super().get_queryset())

    def get_object(self):
        try:
            return super().get_object()
        except (Http404, OverflowError):  # SQLite overflows on an id past 64 bits
            code = self.not_found_codes.get(self.action)
            if code is None:
                raise Http404 from None
            raise ApiError(code, http_status.HTTP_404_NOT_FOUND) from None


class EnvelopeModelViewSet(EnvelopeMixin, viewsets.ModelViewSet):
    """A model viewset whose answers carry the codes declared on the subclass."""

    def destroy(self, request, *args, **kwargs):
        response = super().destroy(request, *args, **kwargs)
        response.status_code = http_status.HTTP_200_OK
        return response


class EnvelopeReadOnlyViewSet(EnvelopeMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only model viewset whose answers carry the codes declared on the subclass."""
