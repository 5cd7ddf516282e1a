"""System checks of the site's own settings (the apps check theirs): reported at start, with what to set."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register
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


@register()
def check_public_base_url(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    url: str = settings.PUBLIC_BASE_URL
    parts = urlsplit(url)
    if not url or (parts.scheme in ("http", "https") and parts.netloc and not parts.path and not parts.query):
        return []
    return [
        Error(
            f"PUBLIC_BASE_URL must be an origin such as https://mcp.example.com, not {url!r}.",
            hint="Give the scheme and host (and port, if not the default) that MCP clients use, "
            "with no path: tenants' URLs are <PUBLIC_BASE_URL>/mcp/<client_id>.",
            id="oneapp_site.E002",
        )
    ]


@register(deploy=True)
def check_public_base_url_is_set(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.PUBLIC_BASE_URL:
        return []
    return [
        Warning(
            "PUBLIC_BASE_URL is not set: OAuth resource and issuer URLs are taken from each request's "
            "scheme and Host, which behind a TLS-terminating proxy are the proxy's, not the clients'.",
            hint="Set PUBLIC_BASE_URL to the origin MCP clients connect to, e.g. https://mcp.example.com.",
            id="oneapp_site.W002",
        )
    ]
