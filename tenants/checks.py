"""System checks: bad encryption settings are reported at start, not on the first request."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from tenants.crypto import GENERATE_KEY_HINT, key_problems


@register()
def check_token_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    keys = list(getattr(settings, "TOKEN_ENCRYPTION_KEYS", []))
    if not keys:
        return [
            Error(
                "TOKEN_ENCRYPTION_KEYS is not set: upstream tokens cannot be stored or read.",
                hint="Set TOKEN_ENCRYPTION_KEYS to one or more comma-separated Fernet keys. "
                + GENERATE_KEY_HINT,
                id="tenants.E001",
            )
        ]
    return [Error(problem, hint=GENERATE_KEY_HINT, id="tenants.E002") for problem in key_problems(keys)]


AUDIT_LOG_SETTINGS = ("AUDIT_LOG_RETENTION_DAYS", "AUDIT_LOG_BUFFER_RECORDS", "AUDIT_LOG_FLUSH_SECONDS")


@register()
def check_audit_log_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(f"{name} is {getattr(settings, name)}: it must be a positive number.", id="tenants.E003")
        for name in AUDIT_LOG_SETTINGS
        if getattr(settings, name) <= 0
    ]
