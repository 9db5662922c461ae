from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit logs")

    def ready(self):
        from . import schedule  # noqa: F401  (connects the beat_init handler)
