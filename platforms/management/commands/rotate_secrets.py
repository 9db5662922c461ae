"""`manage.py rotate_secrets [--dry-run] [--json]`: re-encrypt platform passwords under the newest key.

Rotation: put a new key first in KSTACK_FERNET_KEYS (keep the old ones after it), restart, run
this command, and drop the old keys once it reports no failure.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from platforms import services


class Command(BaseCommand):
    help = "Re-encrypt stored platform passwords under the first key of KSTACK_FERNET_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, change nothing"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the report as JSON"
        )

    def handle(self, *args, dry_run, as_json, **options):
        report = services.rotate_passwords(dry_run=dry_run)
        if as_json:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            verb = "would re-encrypt" if dry_run else "re-encrypted"
            self.stdout.write(
                f"{verb} {len(report['rotated'])} password(s); {report['current']} already "
                "under the newest key"
            )
        if report["failed"]:
            raise CommandError(
                "no configured key decrypts the password of: " + ", ".join(report["failed"])
            )
