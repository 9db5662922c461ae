"""The portal's URL configuration: the admin, the JSON API under /api/, schema and docs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

api_patterns = [
    path("", include("accounts.api.urls")),
    path("", include("rbac.api.urls")),
    path("", include("platforms.api.urls")),
    path("", include("systemconfig.api.urls")),
    path("", include("audit.api.urls")),
    path("vcenter/", include("vcenter.api.urls")),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Anything else under /api/ is an enveloped 404, in DEBUG too (Django's debug page lists
    # every route and is HTML).
    re_path(r"^", views.not_found, name="api-not-found"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path(
        f"{settings.MEDIA_URL.lstrip('/')}<path:path>",
        serve,
        {"document_root": settings.MEDIA_ROOT},
    ),
]

handler400 = "kstack_naguan.views.bad_request"
handler404 = "kstack_naguan.views.not_found"
handler500 = "kstack_naguan.views.server_error"
