"""Which tenant an OAuth resource indicator (RFC 8707) names: `<public origin>/mcp/<client_id>`.

Every token is bound to exactly one such resource, so a token for one tenant is worthless at another.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from tenants.identifiers import is_client_id

MCP_PREFIX = "/mcp/"


def public_origin(request_origin: str) -> str:
    """PUBLIC_BASE_URL, or (when it is not set) the origin the request came to."""
    return settings.PUBLIC_BASE_URL or request_origin.rstrip("/")


def request_origin(request: HttpRequest) -> str:
    return public_origin(request.build_absolute_uri("/"))


def resource_url(origin: str, client_id: str) -> str:
    """The protected resource a tenant is: its MCP URL."""
    return f"{origin}{MCP_PREFIX}{client_id}"


def metadata_url(origin: str, client_id: str) -> str:
    """Where the resource's RFC 9728 metadata is published (the path-component form)."""
    return f"{origin}/.well-known/oauth-protected-resource{MCP_PREFIX}{client_id}"


def tenant_of(resources: list[str], origin: str) -> str | None:
    """The client id of the one tenant resource among `resources`, if it is at this origin; else None."""
    client_id = client_id_in(resources)
    if client_id is None or resources[0] != resource_url(origin, client_id):
        return None
    return client_id


def client_id_in(resources: list[str]) -> str | None:
    """The client id of a token's one resource, `<origin>/mcp/<client_id>` (whatever the origin), or None."""
    if len(resources) != 1:
        return None
    parts = urlsplit(resources[0])
    if parts.query or parts.fragment or not parts.path.startswith(MCP_PREFIX):
        return None
    client_id = parts.path[len(MCP_PREFIX) :]
    return client_id if is_client_id(client_id) else None
