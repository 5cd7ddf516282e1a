import os
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tenants import legacy
from tenants.models import ClientConfig

OUTCOMES = ("created", "updated", "unchanged", "skipped")
DRY_RUN_WORDING = {"created": "would create", "updated": "would update", "skipped": "would skip"}


class Command(BaseCommand):
    help = "Import tenants from the legacy CLIENTS_CONFIG or single-tenant environment variables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            metavar="PATH",
            help="Read the CLIENTS_CONFIG JSON (plain, or gzip + base64) from this file "
            "instead of the environment.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would happen and write nothing."
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite existing tenants whose values differ; without it they are skipped.",
        )

    def handle(self, *args: Any, file: str | None, dry_run: bool, update: bool, **options: Any) -> None:
        try:
            tenants = self._read(file)
        except legacy.LegacyConfigError as error:
            raise CommandError(
                "Nothing was imported. Fix every problem below and run the command again:\n"
                + "\n".join(f"  {problem}" for problem in error.problems)
            ) from None

        counts: Counter[str] = Counter()
        with transaction.atomic():
            existing = self._existing([tenant.client_id for tenant in tenants])
            for tenant in tenants:
                outcome, detail = self._apply(tenant, existing.get(tenant.client_id), update, dry_run)
                counts[outcome] += 1
                verb = DRY_RUN_WORDING.get(outcome, outcome) if dry_run else outcome
                self.stdout.write(f"{verb} {tenant.client_id}{detail}")
        self.stdout.write(self._summary(counts, dry_run))

    def _read(self, file: str | None) -> list[legacy.LegacyTenant]:
        """The validated tenants from --file, CLIENTS_CONFIG, or the single-tenant variables."""
        if file:
            return legacy.parse_clients_config(self._read_file(file), file)
        # An empty CLIENTS_CONFIG counts as unset, as it did in the legacy deployment.
        if os.environ.get("CLIENTS_CONFIG"):
            if legacy.has_single_tenant_vars(os.environ):
                self.stderr.write(
                    "CLIENTS_CONFIG is set, so the single-tenant variables are ignored (as they were before)."
                )
            return legacy.parse_clients_config(os.environ["CLIENTS_CONFIG"], "CLIENTS_CONFIG")
        if legacy.has_single_tenant_vars(os.environ):
            return legacy.parse_single_tenant(os.environ)
        # A tenant made only of defaults would route real clients to the wrong place.
        raise CommandError(
            "Nothing to import: set CLIENTS_CONFIG, or at least one of "
            + ", ".join(legacy.ENV_VARS.values())
            + ", or pass --file."
        )

    def _read_file(self, file: str) -> str:
        try:
            # utf-8-sig: a file saved by a Windows editor may start with a byte order mark.
            return Path(file).read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"Cannot read {file}: it is not UTF-8 text.") from None

    def _existing(self, client_ids: list[str]) -> dict[str, ClientConfig]:
        # Locked, so that nobody changes a tenant between the comparison and the write.
        rows = ClientConfig.objects.select_for_update().filter(client_id__in=client_ids)
        return {tenant.client_id: tenant for tenant in rows}

    def _apply(
        self, wanted: legacy.LegacyTenant, current: ClientConfig | None, update: bool, dry_run: bool
    ) -> tuple[str, str]:
        """Create, update or leave one tenant; return the outcome and a detail for its line."""
        if current is None:
            if not dry_run:
                self._save(wanted.new_instance())
            return "created", ""
        if not update:
            return "skipped", ": exists, use --update"
        changed = legacy.changed_fields(current, wanted)
        if not changed:
            return "unchanged", ""
        if not dry_run:
            model_fields = ["authorization" if name == "token" else name for name in changed]
            for model_field in model_fields:
                setattr(current, model_field, wanted.values[model_field])
            # Only the changed columns: comparing decrypted the token, and saving it unchanged
            # would still re-encrypt it into a new ciphertext.
            self._save(current, update_fields=[*model_fields, "updated_at"])
        return "updated", f" ({', '.join(changed)})"

    def _save(self, tenant: ClientConfig, update_fields: list[str] | None = None) -> None:
        # Through the model, one row at a time, so that validation runs and save signals fire.
        try:
            tenant.full_clean()
        except ValidationError as error:
            # Only a concurrent change can get here: every entry was validated before.
            problems = legacy.field_problems(tenant.client_id, error, legacy.CONFIG_KEYS)
            raise CommandError("Nothing was imported:\n" + "\n".join(problems)) from None
        tenant.save(update_fields=update_fields)

    def _summary(self, counts: Counter[str], dry_run: bool) -> str:
        if dry_run:
            return (
                f"Dry run, nothing was written: would create {counts['created']}, "
                f"update {counts['updated']}, skip {counts['skipped']}; "
                f"{counts['unchanged']} unchanged."
            )
        return "Done: " + ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES) + "."
