from django.apps import AppConfig
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _


class SystemconfigConfig(AppConfig):
    name = "systemconfig"
    verbose_name = _("System configuration")

    def ready(self):
        from django.contrib import admin
        from django.db.models.signals import post_delete, post_save

        from . import services
        from .models import SystemConfig

        # The admin's header and <title> show the configured name, read (cached) at render time.
        admin.site.site_header = lazy(services.site_name, str)()
        admin.site.site_title = lazy(services.site_name, str)()
        post_save.connect(
            services.forget_site_name, sender=SystemConfig, dispatch_uid="systemconfig.saved"
        )
        post_delete.connect(
            services.forget_site_name, sender=SystemConfig, dispatch_uid="systemconfig.deleted"
        )
