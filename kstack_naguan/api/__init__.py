"""Shared API machinery: the `{"code", "msg", "data"}` envelope and everything that keeps it.

`codes` is the registry of response codes; `responses.ApiResponse` and `exceptions.ApiError`
carry a code out of a view; `renderers.EnvelopeRenderer` wraps whatever a view returns;
`exceptions.envelope_exception_handler` turns every DRF and Django error into the envelope;
`pagination.EnvelopePagination` shapes lists; `permissions` holds the permission classes the API
and the admin share; `viewsets.EnvelopeModelViewSet` binds per-action codes to a model's routes.
"""
