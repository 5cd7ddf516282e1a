"""POST /mcp: route by X-Client-ID, then let the tenant's MCP server (the official SDK) answer."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from mcp_endpoint import guards, metrics, routing
from mcp_endpoint.cache import invalidate, server_cache
from mcp_endpoint.propagation import ensure_polling
from mcp_endpoint.serving import ServerRetired
from tenants.crypto import TokenDecryptionError

logger = logging.getLogger(__name__)


@csrf_exempt
async def mcp_view(request: HttpRequest) -> HttpResponse:
    response = await _route(request)
    metrics.REQUESTS.labels(response.outcome).inc()
    return response


async def _route(request: HttpRequest) -> HttpResponse:
    request.get_host()  # raises DisallowedHost (400) for a Host not in ALLOWED_HOSTS
    if request.method != "POST":
        response = routing.METHOD_NOT_ALLOWED.response()
        response["Allow"] = "POST"
        return response
    client_id = routing.route_client_id(request.headers.get("X-Client-ID"))
    if isinstance(client_id, routing.Refusal):
        return client_id.response()
    if not _origin_allowed(request):
        return routing.FORBIDDEN_ORIGIN.response()
    if _declared_length(request) > settings.MCP_MAX_REQUEST_BYTES:
        return routing.PAYLOAD_TOO_LARGE.response()
    return await _answer(request, client_id)


async def _answer(request: HttpRequest, client_id: str) -> HttpResponse:
    ensure_polling(invalidate)
    counted = False
    for _ in range(3):  # a server retired between lookup and use is looked up again
        try:
            server = await server_cache().aget(client_id)
        except TokenDecryptionError as exc:
            logger.error("tenant %s cannot be served: %s", client_id, exc)
            return routing.TENANT_UNAVAILABLE.response()
        if server is None:
            return routing.unknown_client(client_id).response()
        # The key is checked against each server's tenant (a retirement may be its revocation), but
        # the request is counted against the rate limit only once, however often it is looked up.
        refusal = guards.check_access_key(request.headers.get("Authorization"), server.tenant)
        if refusal is None and not counted:
            counted = True
            refusal = await guards.check_rate(server.tenant)
        if refusal is not None:
            return refusal.response()
        if request.content_type != "application/json":
            # The SDK's 2025 transport refuses any other media type, but its 2026 entry only checks a
            # prefix (so "application/jsonp" reached OneApp): one rule for both, before the SDK.
            return routing.UNSUPPORTED_MEDIA_TYPE.response()
        try:
            status, headers, body = await server.handle(request.scope, request.body)
        except ServerRetired:
            continue
        response = HttpResponse(body, status=status)
        for name, value in headers:
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        response.outcome = f"MCP_{status}"
        return response
    return routing.TENANT_UNAVAILABLE.response()


def _origin_allowed(request: HttpRequest) -> bool:
    """No Origin (not a browser), or one listed in MCP_ALLOWED_ORIGINS.

    Our own origin is not implied: under DNS rebinding a hostile page *is* "our" origin.
    """
    origin = request.headers.get("Origin")
    return origin is None or origin in settings.MCP_ALLOWED_ORIGINS


def _declared_length(request: HttpRequest) -> int:
    # Through the front door (mcp_endpoint.asgi) the body was already refused while being read.
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
