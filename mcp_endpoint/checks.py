"""System checks of the /mcp endpoint's settings."""

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


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
