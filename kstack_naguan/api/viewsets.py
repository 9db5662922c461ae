"""Base views that bind each action of a model's routes to its response codes."""

from django.http import Http404
from rest_framework import status as http_status
from rest_framework import viewsets

from .exceptions import ApiError
from .permissions import scope_queryset


class EnvelopeMixin:
    """Per-action codes for success (`success_codes`) and for an unknown id (`not_found_codes`).

    The renderer reads `success_codes[action]` for responses that name no code; `get_object`
    raises the action's not-found code with a 404 instead of the generic one.
    """

    success_codes: dict = {}
    not_found_codes: dict = {}

    def get_queryset(self):
        """The view's queryset narrowed to what the caller may see (`permissions.scope_queryset`)."""
        user = getattr(getattr(self, "request", None), "user", None)
        return scope_queryset(user, super().get_queryset())

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            code = self.not_found_codes.get(self.action)
            if code is None:
                raise
            raise ApiError(code, http_status.HTTP_404_NOT_FOUND) from None


class EnvelopeModelViewSet(EnvelopeMixin, viewsets.ModelViewSet):
    """A model viewset whose answers carry the codes declared on the subclass."""

    def destroy(self, request, *args, **kwargs):
        response = super().destroy(request, *args, **kwargs)
        response.status_code = http_status.HTTP_200_OK
        return response


class EnvelopeReadOnlyViewSet(EnvelopeMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only model viewset whose answers carry the codes declared on the subclass."""
