from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tenants.models import AccessKey, ClientConfig

DEFAULT_NAME = "created with manage.py"
MAX_EXPIRES_DAYS = 36_500  # a century; beyond that the date arithmetic would overflow long before use


class Command(BaseCommand):
    help = "Issue an access key for a tenant: the key alone goes to stdout, everything else to stderr."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id", help="The tenant's client id (case-insensitive).")
        parser.add_argument(
            "--name",
            default=DEFAULT_NAME,
            help=f"Who or what will use the key, for staff (default: “{DEFAULT_NAME}”).",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            metavar="N",
            help="The key stops working N days from now (N ≥ 1). Without it the key does not expire.",
        )

    def handle(self, *args: Any, client_id: str, name: str, expires_days: int | None, **options: Any) -> None:
        client_id = ClientConfig._meta.get_field("client_id").to_python(client_id)
        name = name.strip()
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
            raise CommandError(
                f"--expires-days must be between 1 and {MAX_EXPIRES_DAYS}, not {expires_days}."
            )
        tenant = ClientConfig.objects.filter(client_id=client_id).first()
        if tenant is None:
            raise CommandError(f"No tenant has the client id “{client_id}”.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None

        try:
            access_key, key = AccessKey.issue(tenant, name, expires_at)
        except ValidationError as error:
            problems = [f"{field}: {' '.join(errors)}" for field, errors in error.message_dict.items()]
            raise CommandError("No key was created: " + "; ".join(problems)) from None

        expiry = f"expires {expires_at:%Y-%m-%d %H:%M %Z}" if expires_at else "does not expire"
        self._tell(f"Created access key {access_key.display_prefix} “{name}” for {tenant}; it {expiry}.")
        if not tenant.enabled:
            self._tell(f"Tenant {client_id} is disabled: the key works only once it is enabled again.")
        self._tell(
            "Store the key below now: it is shown only this once and cannot be recovered.",
            self.style.WARNING,
        )
        # The one place a key is ever printed, alone on stdout, so that `KEY=$(manage.py ...)` captures it.
        self.stdout.write(key, style_func=str)

    def _tell(self, message: str, style_func: Any = str) -> None:
        """Everything but the key goes to stderr, plain unless styled (stderr is red by default)."""
        self.stderr.write(message, style_func=style_func)
