from django.urls import path

from . import views

urlpatterns = [
    path("system-config", views.SystemConfigView.as_view(), name="systemconfig-detail"),
    path("system-config/", views.SystemConfigView.as_view()),
    path("system-config/logo", views.SystemConfigLogoView.as_view(), name="systemconfig-logo"),
    path("system-config/logo/", views.SystemConfigLogoView.as_view()),
]
