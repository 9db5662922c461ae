from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VcenterConfig(AppConfig):
    name = "vcenter"
    verbose_name = _("vCenter")
