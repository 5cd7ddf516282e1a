from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.models import ClientConfig


class Command(BaseCommand):
    help = "Re-encrypt every stored upstream token with the first key of TOKEN_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = total = 0
        token = ClientConfig.token_field()
        with transaction.atomic():
            for tenant in ClientConfig.objects.select_for_update().exclude(authorization=""):
                total += 1
                if token.rotate(tenant):
                    tenant.save(update_fields=["authorization", "updated_at"])
                    rotated += 1
        self.stdout.write(
            f"Re-encrypted {rotated} token(s) with the primary key; {total - rotated} already used it."
        )
