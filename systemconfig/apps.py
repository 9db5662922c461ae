from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SystemconfigConfig(AppConfig):
    name = "systemconfig"
    verbose_name = _("System configuration")
