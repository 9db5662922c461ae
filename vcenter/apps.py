from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VcenterConfig(AppConfig):
    name = "vcenter"
    verbose_name = _("vCenter")

    def ready(self):
        # Celery's autodiscovery imports `vcenter.tasks`; the other task modules register here.
        from . import device_tasks, schedule, services, vm_tasks  # noqa: F401
