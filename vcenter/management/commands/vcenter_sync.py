"""`manage.py vcenter_sync [platform ...]`: sync inventory now, in this process."""

import json

from django.core.management.base import BaseCommand, CommandError

from platforms.models import CloudPlatform
from vcenter import services


class Command(BaseCommand):
    help = (
        "Synchronise vCenter inventory of the named platforms (name or id), or of all active ones."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "platforms", nargs="*", help="platform names or ids; all active if none"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the results as JSON"
        )

    def handle(self, *args, platforms, as_json, **options):
        selected = []
        for ref in platforms:
            lookup = {"pk": int(ref)} if ref.isdigit() else {"name": ref}
            platform = CloudPlatform.objects.filter(**lookup).first()
            if platform is None:
                raise CommandError(f"no platform {ref!r}")
            selected.append(platform)
        selected = selected or list(services.active_platforms())
        if not selected:
            raise CommandError("no active platform to sync")

        results, failed = [], False
        for platform in selected:
            try:
                task_log = services.start_sync(platform)
            except services.SyncRunning as exc:
                failed = True
                results.append({"platform": platform.name, "status": "running", "error": str(exc)})
                if not as_json:
                    self.stderr.write(f"{platform.name}: {exc}")
                continue
            task_log.refresh_from_db()
            results.append(
                {
                    "platform": platform.name,
                    "task_id": task_log.pk,
                    "status": task_log.status,
                    "code": task_log.code,
                    "result": task_log.result,
                    "error": task_log.error,
                }
            )
            failed |= task_log.status == "failure"
            if not as_json:
                line = f"{platform.name}: {task_log.status} ({task_log.code})"
                if task_log.status == "success":
                    counts = task_log.result["counts"]
                    line += ", " + ", ".join(
                        f"{name} +{c['added']} ~{c['changed']} -{c['removed']}"
                        for name, c in counts.items()
                        if name != "links"
                    )
                else:
                    line += f": {task_log.error}"
                self.stdout.write(line)
        if as_json:
            self.stdout.write(json.dumps(results, indent=2, default=str))
        if failed:
            raise CommandError("at least one sync failed")
