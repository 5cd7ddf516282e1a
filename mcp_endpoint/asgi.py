"""The ASGI front door: `/mcp` and the probes are answered here, everything else by Django's handler.

/mcp is a JSON API for machines: it needs none of the session, CSRF, auth or message middleware
that the admin needs, and Django's full handler costs about as much as the MCP SDK itself. So
requests for exactly `/mcp` are read here (refusing oversized bodies before they are read), handed
to the same `mcp_view` that urls.py routes, and its response is sent back as is. /healthz and
/readyz are answered here too, so that a load balancer's Host (an instance address) is no reason
to fail them.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import HttpResponseBase

from mcp_endpoint import metrics, routing
from mcp_endpoint.cache import server_cache
from mcp_endpoint.propagation import stop_polling
from mcp_endpoint.views import mcp_view
from oneapp_site.health import liveness, readiness

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Any


class McpFrontDoor:
    def __init__(self, django_app: ASGIApp, path: str = "/mcp") -> None:
        self.django_app = django_app
        self.path = path

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] in _PROBES:
            await send_response(await _PROBES[scope["path"]](), send)
            return
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.django_app(scope, receive, send)
            return
        body = await read_body(scope, receive, settings.MCP_MAX_REQUEST_BYTES)
        if body is None:
            await send_response(_refuse(routing.PAYLOAD_TOO_LARGE), send)
            return
        await send_response(await _respond(scope, body), send)


async def _liveness() -> HttpResponseBase:
    return liveness()


@sync_to_async
def _readiness() -> HttpResponseBase:
    # Outside Django's handler: drop a connection gone bad first, as its request signals would.
    connection.close_if_unusable_or_obsolete()
    return readiness()


_PROBES = {"/healthz": _liveness, "/readyz": _readiness}


async def lifespan(receive: Any, send: Any) -> None:
    """Django has no lifespan; at shutdown (after uvicorn let the requests in flight finish), close
    every tenant's upstream pool and stop looking for changes."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                stop_polling()
                await server_cache().aclose()
            except Exception:
                # Raised, it would reach uvicorn's default lifespan mode ("auto"), which logs it at
                # INFO as "lifespan appears unsupported" and then reports a complete shutdown.
                logger.exception("could not close every tenant's MCP server at shutdown")
                await send(
                    {"type": "lifespan.shutdown.failed", "message": "Closing the tenants' servers failed."}
                )
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(scope: Scope, body: bytes) -> HttpResponseBase:
    try:
        return await mcp_view(ASGIRequest(scope, io.BytesIO(body)))
    except DisallowedHost:
        logger.warning("refused a request for a host not in ALLOWED_HOSTS")
        return _refuse(routing.BAD_REQUEST)
    except SuspiciousOperation as exc:
        logger.warning("refused a suspicious request: %s", type(exc).__name__)
        return _refuse(routing.BAD_REQUEST)
    except Exception:
        logger.exception("unexpected error answering /mcp")
        return _refuse(routing.INTERNAL_ERROR)


def _refuse(refusal: routing.Refusal) -> HttpResponseBase:
    """A refusal made here, before or around the view (which counts its own)."""
    metrics.REQUESTS.labels(refusal.code).inc()
    return refusal.response()


async def read_body(scope: Scope, receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it is known to exceed `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return None
            except ValueError:
                pass  # the transport has already refused a malformed length, or reads what arrives
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_response(response: HttpResponseBase, send: Any) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
