"""System checks of the site's own settings (the apps check theirs): reported at start, with what to set."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        settings.SECRET_KEY  # noqa: B018 - Django refuses to hand out an empty one
    except ImproperlyConfigured:
        return [
            Error(
                "SECRET_KEY is not set: sessions, CSRF and admin sign-in cannot work.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE). Generate one with: "
                'python -c "import secrets; print(secrets.token_urlsafe(50))"',
                id="oneapp_site.E001",
            )
        ]
    return []
