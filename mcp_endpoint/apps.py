from django.apps import AppConfig


class McpEndpointConfig(AppConfig):
    name = "mcp_endpoint"
    verbose_name = "MCP endpoint"

    def ready(self) -> None:
        from mcp_endpoint import bearer, cache, checks  # noqa: F401 - connects the receivers, registers the checks
        from tenants import serving

        serving.register(lambda client_id: cache.tenant_cache().built_at(client_id))
