from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = _("Access control")

    def ready(self):
        from . import builtin

        # After auth's own receiver has created each app's permissions, grant them to the
        # built-in roles (see rbac/builtin.py for who gets what).
        post_migrate.connect(builtin.grant_builtin, dispatch_uid="rbac.grant_builtin")
