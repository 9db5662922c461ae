"""Walk every route under /api/ in the URL conf and check who gets in.

For each route and each HTTP method its view answers: no token → 401 (901); a signed-in user
with no role → 403 (902), except for the few routes any signed-in user may use, listed below;
a superuser and a holder of the built-in administrator role → neither 401 nor 403. The routes are
read from `django.urls.get_resolver()` at collection time, so a route added later is covered
without being listed here. Path parameters get a dummy id: the permission check runs before the
object lookup, and a 404 (or a 400 for an empty body) is fine for the administrators.
"""

import pytest
from django.urls import URLResolver, get_resolver, path
from django.utils.regex_helper import normalize
from rest_framework.views import APIView

from kstack_naguan import urls as root_urls
from kstack_naguan.api import codes
from kstack_naguan.api.permissions import IsAuthenticated
from tests.conftest import api_client_for
from tests.factories import UserFactory, user_with_builtin_role

SKIPPED_PREFIXES = (
    "api/auth/login",
    "api/auth/refresh",
    "api/auth/logout",
    "api/schema",
    "api/docs",
)

# Routes any signed-in user may use, whatever their roles: their own profile, password and
# menus, and signing out. Everything else needs a permission.
ANY_SIGNED_IN = {
    ("GET", "api/users/me"),
    ("PUT", "api/users/me"),
    ("PATCH", "api/users/me"),
    ("POST", "api/users/me/password"),
    ("GET", "api/menus/mine"),
}

DUMMY_ID = "999999"


def _patterns(patterns, prefix=""):
    """Yield `(regex, pattern)` for every URL pattern, following includes recursively."""
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, regex.removesuffix("$"))
        else:
            yield regex, pattern


def _methods(callback):
    """The HTTP methods a DRF view answers (OPTIONS and HEAD aside)."""
    actions = getattr(callback, "actions", None)
    if actions:
        return sorted(method.upper() for method in actions if method not in ("options", "head"))
    view_class = getattr(callback, "cls", None)
    assert view_class is not None, f"{callback!r} under /api/ is not a DRF view"
    return sorted(
        method.upper()
        for method in view_class.http_method_names
        if method not in ("options", "head") and hasattr(view_class, method)
    )


def api_routes(resolver=None):
    """Every `(method, path template, concrete path)` under /api/, from the URL conf itself."""
    routes = set()
    for regex, pattern in _patterns((resolver or get_resolver()).url_patterns):
        template, params = normalize(regex)[0]
        if not template.startswith("api/") or template.startswith(SKIPPED_PREFIXES):
            continue
        if pattern.name == "api-not-found":  # the catch-all 404, open to all by design
            continue
        path = "/" + template % dict.fromkeys(params, DUMMY_ID)
        for method in _methods(pattern.callback):
            routes.add((method, template % {p: f"{{{p}}}" for p in params}, path))
    return sorted(routes)


ROUTES = api_routes()


def call(client, method, path):
    if method in ("POST", "PUT", "PATCH"):
        return client.generic(method, path, "{}", content_type="application/json")
    return client.generic(method, path)


class ForgottenPermissionView(APIView):
    """A route someone adds later and forgets to protect beyond "signed in"."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return None


urlpatterns = [
    path("api/reports/<int:report_id>", ForgottenPermissionView.as_view()),
    *root_urls.urlpatterns,
]


def test_route_walk_picks_up_a_route_nobody_listed():
    routes = api_routes(get_resolver(__name__))
    assert ("GET", "api/reports/{report_id}", f"/api/reports/{DUMMY_ID}") in routes
    assert set(ROUTES) < set(routes)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_route_walk_would_flag_a_route_open_to_users_without_a_role():
    response = call(api_client_for(UserFactory()), "GET", f"/api/reports/{DUMMY_ID}")
    assert response.status_code not in (401, 403)  # what the walk's 403 assertion would catch


def test_route_walk_finds_the_routes_it_must_cover():
    templates = {(method, template) for method, template, _ in ROUTES}
    assert ANY_SIGNED_IN <= templates
    for must in [("GET", "api/users"), ("DELETE", "api/roles/{pk}"), ("GET", "api/user-roles")]:
        assert must in templates
    assert not any(t.startswith(SKIPPED_PREFIXES) for _, t in templates)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "template", "path"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES]
)
def test_route_needs_a_token_and_a_permission(method, template, path):
    # No token: 401 with the generic code, whatever the route.
    anonymous = call(api_client_for(None), method, path)
    assert anonymous.status_code == 401, anonymous.content
    assert anonymous.json()["code"] == codes.NOT_AUTHENTICATED.number

    # Signed in without any role: 403, unless any signed-in user may use the route.
    no_role = call(api_client_for(UserFactory(username="no-role")), method, path)
    if (method, template) in ANY_SIGNED_IN:
        assert no_role.status_code not in (401, 403), no_role.content
    else:
        assert no_role.status_code == 403, no_role.content
        assert no_role.json()["code"] == codes.PERMISSION_DENIED.number

    # The superuser and the built-in administrator role get past authentication and permission.
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    administrator = user_with_builtin_role("administrator", username="administrator")
    for user in (superuser, administrator):
        response = call(api_client_for(user), method, path)
        assert response.status_code not in (401, 403), (user.username, response.content)
