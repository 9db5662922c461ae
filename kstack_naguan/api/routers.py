"""A router whose routes answer with or without a trailing slash."""

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """`users` and `users/` both reach the list; the SPA need not care."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
