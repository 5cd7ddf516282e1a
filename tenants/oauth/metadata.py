"""RFC 9728 metadata of a tenant's protected resource, /.well-known/oauth-protected-resource/mcp/<id>:
the toolkit's view, told which resource it describes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from oauth2_provider.views import OAuthProtectedResourceMetadataView

from tenants.models import ClientConfig
from tenants.oauth.resources import request_origin, resource_url


class TenantResourceMetadataView(OAuthProtectedResourceMetadataView):
    tenant: ClientConfig

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        tenant = ClientConfig.objects.filter(client_id=kwargs["client_id"], enabled=True).first()
        if tenant is None:
            return JsonResponse({"error": "No such MCP resource."}, status=404)
        self.tenant = tenant
        response: HttpResponseBase = super().get(request, *args, **kwargs)
        return response

    def get_resource(self, request: HttpRequest) -> str:
        return resource_url(request_origin(request), self.tenant.client_id)

    def get_authorization_servers(self, request: HttpRequest) -> list[str]:
        return [request_origin(request)]

    def get_resource_name(self) -> str:
        return f"OneApp MCP: {self.tenant.name}"
