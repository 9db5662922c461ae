"""`manage.py vcenter_sync [platform ...]`: sync inventory now, in this process."""

import json

from django.core.management.base import BaseCommand, CommandError

from kstack_naguan.management.progress import Progress, add_progress_argument
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
        add_progress_argument(parser)

    def handle(self, *args, platforms, as_json, progress=None, **options):
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
        with Progress(self, wanted=progress, as_json=as_json, unit="platform") as bar:
            bar.start("sync", len(selected))
            for platform in selected:
                bar.describe(f"sync {platform.name}")
                failed |= self._sync(platform, as_json, results)
                bar.advance()
        if as_json:
            self.stdout.write(json.dumps(results, indent=2, default=str))
        if failed:
            raise CommandError("at least one sync failed")

    def _sync(self, platform, as_json, results):
        """Sync one platform and add its entry to `results`; True when it failed."""
        try:
            task_log = services.start_sync(platform)
        except services.SyncRunning as exc:
            results.append({"platform": platform.name, "status": "running", "error": str(exc)})
            if not as_json:
                self.stderr.write(f"{platform.name}: {exc}")
            return True
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
        return task_log.status == "failure"
