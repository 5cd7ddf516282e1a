"""System checks of the /mcp endpoint's settings."""

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from mcp_endpoint.limiter import connection_pool


@register()
def check_access_keys_required(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.MCP_REQUIRE_ACCESS_KEY:
        return []
    return [
        Warning(
            "MCP_REQUIRE_ACCESS_KEY is off: anyone who knows or guesses a client id can use that "
            "tenant's OneApp credentials through /mcp.",
            hint="Issue keys (manage.py create_access_key CLIENT_ID), give them to the clients, "
            "then set MCP_REQUIRE_ACCESS_KEY=true.",
            id="mcp_endpoint.W001",
        )
    ]


@register()
def check_metrics_networks(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            errors.append(
                Error(
                    f"METRICS_ALLOWED_NETWORKS: {network!r} is not a network.",
                    hint="Use CIDR notation such as 10.0.0.0/8 or ::1/128, comma-separated.",
                    id="mcp_endpoint.E001",
                )
            )
    return errors


@register()
def check_redis(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.REDIS_URL:
        try:
            connection_pool(settings.REDIS_URL)  # parses the URL, connects to nothing
        except ValueError as exc:  # its messages name the scheme, port or database, never a password
            errors.append(
                Error(
                    f"REDIS_URL is not a Redis URL: {exc}",
                    hint="Use redis://[:password@]host:port/db, rediss://… (TLS) or unix:///path/to/socket; "
                    "leave it empty to count the /mcp limits in each worker.",
                    id="mcp_endpoint.E002",
                )
            )
    if settings.REDIS_TIMEOUT_SECONDS <= 0:
        errors.append(
            Error(
                "REDIS_TIMEOUT_SECONDS must be more than 0.",
                hint="How long one limit check may wait for Redis, in seconds, e.g. 0.5.",
                id="mcp_endpoint.E002",
            )
        )
    return errors
