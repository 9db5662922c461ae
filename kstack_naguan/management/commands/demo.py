"""`manage.py demo`: the portal on a simulated vCenter, ready to log in to.

Migrates (the `.env` with generated secrets is written before, by `make demo`), creates the `admin`
superuser (password from KSTACK_ADMIN_PASSWORD, else generated and printed once), starts the
simulator, registers and syncs it as a platform, then serves on 127.0.0.1:PORT until Ctrl-C
or SIGTERM; either way the simulator is stopped and its folder removed.
"""

import os
import secrets
import signal
import sys

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the portal on a simulated vCenter with embedded defaults (SQLite, eager Celery)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--no-serve", action="store_true", help="prepare and sync, then exit")

    def handle(self, *args, port, no_serve, **options):
        from kstack_naguan.testing.vcsim import Simulator
        from platforms.models import CloudPlatform, PlatformType
        from systemconfig.models import SystemConfig
        from vcenter import services

        # Database and the administrator.
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        password = self._ensure_admin()

        # A configuration row, so the SPA and the admin have a name to show.
        if SystemConfig.current() is None:
            SystemConfig.objects.create()

        # The simulator, registered as a platform and synced.
        sim = Simulator(username="administrator@vsphere.local", password=secrets.token_urlsafe(12))
        # SIGTERM (a service manager's stop, `kill`) ends the command as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
        sim.start()
        try:
            vcenter_type, _ = PlatformType.objects.get_or_create(name="vCenter")
            platform = CloudPlatform.objects.filter(name="vcsim-demo").first() or CloudPlatform(
                name="vcsim-demo", platform_type=vcenter_type
            )
            platform.host, platform.port, platform.protocol = sim.host, sim.port, sim.protocol
            platform.username, platform.password = sim.username, sim.password
            platform.verify_tls = False
            platform.remarks = "The demo's simulated vCenter (vcsim); its port changes per run."
            platform.save()
            task_log = services.start_sync(platform)
            task_log.refresh_from_db()
            self.stdout.write(f"Simulator at {sim.url}, sync: {task_log.status} ({task_log.code})")

            self.stdout.write(
                self.style.SUCCESS(f"Portal: http://127.0.0.1:{port}/admin/  API: /api/docs/")
            )
            if password:
                self.stdout.write(f"Log in as admin / {password}")
            if not no_serve:
                # DEBUG stays off (no debug pages); --insecure serves the admin's static files.
                call_command(
                    "runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True
                )
        finally:
            sim.stop()

    def _ensure_admin(self):
        """Create `admin` if missing; return the password to print, or None if not new."""
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            if os.environ.get("KSTACK_ADMIN_PASSWORD"):
                user = user_model.objects.get(username="admin")
                user.set_password(os.environ["KSTACK_ADMIN_PASSWORD"])
                user.save(update_fields=["password"])
            return None
        password = os.environ.get("KSTACK_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@example.com", password)
        return (
            password if not os.environ.get("KSTACK_ADMIN_PASSWORD") else "(KSTACK_ADMIN_PASSWORD)"
        )
