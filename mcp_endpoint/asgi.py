"""The ASGI front door: `/mcp` and the probes are answered here, everything else by Django's handler.

/mcp is a JSON API for machines: it needs none of the session, CSRF, auth or message middleware
that the admin needs, and Django's full handler costs about as much as the MCP SDK itself. So
requests for `/mcp` and for a tenant's `/mcp/<client_id>` are read here (refusing oversized bodies before they are read), turned
into an `McpRequest` once, answered by the same `views.answer` that urls.py reaches, and the
`Answer` is sent back as it is. /healthz and /readyz are answered here too, so that a load
balancer's Host (an instance address) is no reason to fail them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async

from mcp_endpoint import connections, cors, refusals, sdk, tracing
from mcp_endpoint.audit_trail import stop_auditing
from mcp_endpoint.cache import tenant_cache
from mcp_endpoint.exchange import Answer, McpRequest, body_too_large, is_mcp_path
from mcp_endpoint.health import liveness, readiness
from mcp_endpoint.propagation import stop_polling
from mcp_endpoint.views import answer, counted, counted_gone

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Any


class McpFrontDoor:
    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] in _PROBES:
            await send_answer(await _PROBES[scope["path"]](), send)
            return
        if scope["type"] != "http" or not is_mcp_path(scope["path"]):
            await self.django_app(scope, receive, send)
            return
        body = await read_body(scope, receive)
        if body is None:
            result: Answer | None = counted(refusals.PAYLOAD_TOO_LARGE.answer())
        else:
            result = await _answer_unless_gone(scope, body, receive)
        if result is not None:
            # Every answer that leaves, errors included, so that a listed browser origin can read it.
            await send_answer(cors.readable_by(scope["headers"], result), send)


async def _liveness() -> Answer:
    return liveness()


@sync_to_async
def _readiness() -> Answer:
    # Outside Django's handler, on the thread of /mcp's tenant loads: keep its connection if healthy.
    connections.drop_if_broken()
    return readiness()


_PROBES = {"/healthz": _liveness, "/readyz": _readiness}


async def lifespan(receive: Any, send: Any) -> None:
    """Django has no lifespan. At start, begin tracing if configured: here, in each worker process,
    as its exporting thread belongs to the process that runs it. At shutdown (after uvicorn let the
    requests in flight finish), close every tenant's upstream pool, stop looking for changes, write
    the audit records still buffered, and export the spans still waiting."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if tracing.start():
                sdk.trace_tenants()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                stop_polling()
                await tenant_cache().aclose()
                await sync_to_async(stop_auditing, thread_sensitive=False)()
                await asyncio.to_thread(tracing.stop)
            except Exception:
                # Raised, it would reach uvicorn's default lifespan mode ("auto"), which logs it at
                # INFO as "lifespan appears unsupported" and then reports a complete shutdown.
                logger.exception("could not close every tenant's OneApp pool at shutdown")
                await send(
                    {"type": "lifespan.shutdown.failed", "message": "Closing the tenants' pools failed."}
                )
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer_unless_gone(scope: Scope, body: bytes, receive: Any) -> Answer | None:
    """The answer; or None when the client hangs up first, whose OneApp call is then cancelled.

    uvicorn tells a hang-up only to whoever waits on `receive`, and does not cancel the request.
    """
    request = asyncio.current_task()
    if request is None:  # not under a server's task (never under uvicorn): nothing to cancel
        return await _answer(scope, body)
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        request.cancel()

    watcher = asyncio.get_running_loop().create_task(watch(), name="watch-mcp-client")
    try:
        result: Answer | None = await _answer(scope, body)
    except asyncio.CancelledError:
        if not gone:
            # uvicorn cancels what still runs when its graceful shutdown times out: an answer that
            # says so, instead of its 500 and a traceback (its OneApp call was cancelled with it).
            request.uncancel()
            logger.warning("a /mcp request was cancelled unfinished: the server is stopping")
            return counted(refusals.SHUTTING_DOWN.answer())
        result = None
    finally:
        watcher.cancel()
    if gone:
        request.uncancel()
        counted_gone()
        return None
    return result


async def _answer(scope: Scope, body: bytes) -> Answer:
    try:
        return await answer(McpRequest.from_scope(scope, body))
    except Exception:
        logger.exception("unexpected error answering /mcp")
        return counted(refusals.INTERNAL_ERROR.answer())


async def read_body(scope: Scope, receive: Any) -> bytes | None:
    """The whole request body, or None as soon as it is known to be too large."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if body_too_large(int(value)):
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
        if body_too_large(size):
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_answer(result: Answer, send: Any) -> None:
    await send({"type": "http.response.start", "status": result.status, "headers": result.asgi_headers()})
    await send({"type": "http.response.body", "body": result.body})
