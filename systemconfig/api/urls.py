from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^system-config/?$", views.SystemConfigView.as_view(), name="systemconfig-detail"),
    re_path(
        r"^system-config/logo/?$", views.SystemConfigLogoView.as_view(), name="systemconfig-logo"
    ),
]
