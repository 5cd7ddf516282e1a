from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.audit import prune


class Command(BaseCommand):
    help = "Delete audit log rows older than the retention period (AUDIT_LOG_RETENTION_DAYS); safe to run from cron."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            help="Keep this many days instead of AUDIT_LOG_RETENTION_DAYS (default %(default)s).",
            default=settings.AUDIT_LOG_RETENTION_DAYS,
        )
        parser.add_argument(
            "--batch", type=int, default=10_000, help="Rows deleted per statement (default %(default)s)."
        )

    def handle(self, *args: Any, days: int, batch: int, **options: Any) -> None:
        if days < 1 or batch < 1:
            raise CommandError("--days and --batch must be at least 1.")
        total = prune(timedelta(days=days), batch)
        self.stdout.write(f"Deleted {total} audit log row{'' if total == 1 else 's'} older than {days} days.")
