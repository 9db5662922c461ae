"""`manage.py prune_logs [--days N] [--json]`: delete logs older than the retention period."""

import json

from django.core.management.base import BaseCommand, CommandError

from audit import services
from kstack_naguan.management.progress import Progress, add_progress_argument


class Command(BaseCommand):
    help = (
        "Delete request, event and finished task logs older than N days (default: the system "
        "configuration's log retention days)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="keep this many days of logs")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the result as JSON"
        )
        add_progress_argument(parser)

    def handle(self, *args, days, as_json, progress=None, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        with Progress(self, wanted=progress, as_json=as_json) as bar:
            result = services.prune_logs(days, progress=bar)
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        deleted = result["deleted"]
        if result["cutoff"] is None:
            self.stdout.write("log retention is 0 days: nothing is pruned")
            return
        self.stdout.write(
            f"deleted logs older than {result['days']} days ({result['cutoff']}): "
            f"{deleted['requests']} requests, {deleted['events']} events, "
            f"{deleted['tasks']} tasks"
        )
