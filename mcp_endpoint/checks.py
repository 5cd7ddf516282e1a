"""System checks of the /mcp endpoint's settings."""

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from mcp_endpoint.limiter import connection_pool
from tenants.models import MAX_RESPONSE_BUDGET_CHARS, MIN_RESPONSE_BUDGET_CHARS


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
def check_trace_export(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.TRACING_ENABLED:
        return []
    errors = []
    endpoint = urlsplit(settings.OTEL_TRACES_ENDPOINT)
    if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
        errors.append(
            Error(
                "OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is not an http(s) URL.",
                hint="Set the collector's OTLP/HTTP URL, such as http://collector:4318, or unset it "
                "to export no traces.",
                id="mcp_endpoint.E002",
            )
        )
    if settings.OTEL_TRACES_PROTOCOL != "http/protobuf":
        errors.append(
            Error(
                f"OTEL_EXPORTER_OTLP_PROTOCOL {settings.OTEL_TRACES_PROTOCOL!r} is not supported: "
                "traces are exported over OTLP/HTTP with protobuf only.",
                hint="Set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (or leave it unset) and point the "
                "endpoint at the collector's HTTP port (4318 by default).",
                id="mcp_endpoint.E003",
            )
        )
    return errors


@register()
def check_response_budget(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    # The range a tenant's own budget may take in admin: below it the truncation note leaves no room.
    budget = settings.MCP_RESPONSE_BUDGET_CHARS
    if MIN_RESPONSE_BUDGET_CHARS <= budget <= MAX_RESPONSE_BUDGET_CHARS:
        return []
    return [
        Error(
            f"MCP_RESPONSE_BUDGET_CHARS is {budget}: a tool result must be allowed "
            f"{MIN_RESPONSE_BUDGET_CHARS} to {MAX_RESPONSE_BUDGET_CHARS} characters.",
            hint="Set MCP_RESPONSE_BUDGET_CHARS from 2000 to 1000000, or leave it unset for 80000 "
            "(about 20,000 tokens).",
            id="mcp_endpoint.E004",
        )
    ]


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
                    id="mcp_endpoint.E005",
                )
            )
    if settings.REDIS_TIMEOUT_SECONDS <= 0:
        errors.append(
            Error(
                "REDIS_TIMEOUT_SECONDS must be more than 0.",
                hint="How long one limit check may wait for Redis, in seconds, e.g. 0.5.",
                id="mcp_endpoint.E005",
            )
        )
    return errors
