from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tenants.keys import parse_shown_prefix, shown_prefix
from tenants.models import AccessKey


class Command(BaseCommand):
    help = "Revoke an access key by its prefix; it stops working at once on every worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "prefix", help="The key's prefix as admin shows it, omk_ab12cd34 or just ab12cd34 (not the key)."
        )

    def handle(self, *args: Any, prefix: str, **options: Any) -> None:
        stored_prefix = parse_shown_prefix(prefix)
        if stored_prefix is None:
            # Not echoed: what was typed may be a whole key.
            raise CommandError("Give the key's prefix, such as omk_ab12cd34 or ab12cd34.")
        with transaction.atomic():
            access_key = (
                AccessKey.objects.select_for_update()
                .select_related("tenant")
                .filter(prefix=stored_prefix)
                .first()
            )
            if access_key is None:
                raise CommandError(f"No access key has the prefix {shown_prefix(stored_prefix)}.")
            described = f"{access_key} of tenant {access_key.tenant.client_id}"
            if access_key.revoked_at is not None:
                self.stdout.write(
                    f"{described} was already revoked on {access_key.revoked_at:%Y-%m-%d %H:%M %Z}."
                )
                return
            # A save, so the signals record a TenantChange and every worker drops its cached server.
            access_key.revoke()
        self.stdout.write(f"Revoked {described}.")
