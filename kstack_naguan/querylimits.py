"""The longest query-string value the portal takes, in the API and in the admin.

No name, path or search term is longer than `MAX_QUERY_VALUE_LENGTH`, and SQLite refuses LIKE
patterns past 50,000 bytes, so a longer search or filter value is refused before it reaches a
query: the API answers it as a bad filter (`kstack_naguan.api.viewsets`), the admin with 400
(`AdminQueryLimitMiddleware`).
"""

from django.http import HttpResponseBadRequest

MAX_QUERY_VALUE_LENGTH = 1000


def overlong_query_values(params):
    """The names of the query parameters in `params` (a QueryDict) with a value too long."""
    return sorted(
        name
        for name, values in params.lists()
        if any(len(value) > MAX_QUERY_VALUE_LENGTH for value in values)
    )


class AdminQueryLimitMiddleware:
    """Answer 400 to an admin page asked for with an overlong search or filter value."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        """Refuse the request when an admin page is asked for with an overlong value."""
        if request.path.startswith("/admin/"):
            too_long = overlong_query_values(request.GET)
            if too_long:
                return HttpResponseBadRequest(
                    f"{', '.join(too_long)}: at most {MAX_QUERY_VALUE_LENGTH} characters.",
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)
