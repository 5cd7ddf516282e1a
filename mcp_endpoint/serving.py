"""One tenant's live MCP server: the SDK's stateless Streamable HTTP manager over that tenant's tools.

The SDK's session manager must be `run()` once on the event loop that serves its requests, and
Django's ASGI handler has no lifespan to do it in; so each `TenantServer` keeps `run()` open in a
task of its own on the loop that built it, until it is retired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_endpoint.tools import build_server
from mcp_endpoint.upstream import OneAppClient
from tenants.models import TenantSettings

logger = logging.getLogger(__name__)

# Host and Origin are checked by Django and the view before a request gets here.
_NO_SDK_HOST_CHECK = TransportSecuritySettings(enable_dns_rebinding_protection=False)

Scope = dict[str, Any]
Message = dict[str, Any]

# The event loop keeps only weak references to tasks: a close task nobody holds could be
# garbage-collected before it has closed anything.
_closing: set[asyncio.Task[None]] = set()


class ServerRetired(Exception):
    """The server was retired before this request reached it; resolve the tenant again."""


class TenantServer:
    """A tenant's MCP server and upstream pool, bound to the event loop that started it."""

    def __init__(self, tenant: TenantSettings) -> None:
        self.tenant = tenant
        self.client_id = tenant.client_id
        self.upstream = OneAppClient(tenant)
        self.mcp = build_server(tenant.client_id, self.upstream, tenant.tools)
        self.mcp.streamable_http_app(
            json_response=True, stateless_http=True, transport_security=_NO_SDK_HOST_CHECK
        )
        self.manager: StreamableHTTPSessionManager = self.mcp.session_manager
        self.loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self._retired = False
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        started = asyncio.Event()
        self._runner = asyncio.create_task(self._run(started), name=f"mcp-manager-{self.client_id}")
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait([waiting, self._runner], return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():  # the manager failed before it was ready: report why
            waiting.cancel()
            await self.upstream.aclose()
            self._runner.result()
            raise RuntimeError(f"the MCP session manager of tenant {self.client_id} stopped while starting")

    async def _run(self, started: asyncio.Event) -> None:
        async with self.manager.run():
            started.set()
            await self._stop.wait()

    async def handle(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Answer one HTTP request through the SDK; returns status, headers and the whole body."""
        if self._stop.is_set():
            raise ServerRetired(self.client_id)
        self._in_flight += 1
        try:
            return await _call_asgi(self.manager.handle_request, scope, body)
        finally:
            self._in_flight -= 1
            if self._retired and self._in_flight == 0:
                self._close_soon()

    def retire(self) -> None:
        """Stop serving once the calls in flight have finished. Safe to call from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing left to release
            loop.call_soon_threadsafe(self._retire_on_loop)

    def _retire_on_loop(self) -> None:
        self._retired = True
        if self._in_flight == 0:
            self._close_soon()

    def _close_soon(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            task = asyncio.get_running_loop().create_task(self.aclose(), name=f"close-mcp-{self.client_id}")
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    async def aclose(self) -> None:
        self._stop.set()
        try:
            if self._runner is not None:
                await self._runner
        finally:  # the pool is released even if the SDK's manager failed or was cancelled
            await self.upstream.aclose()
        logger.debug("closed the MCP server of tenant %s", self.client_id)


async def _call_asgi(app: Any, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run an ASGI app on an already-read request body and collect its (JSON, not streamed) response."""
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    request_sent = False
    finished = asyncio.Event()

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return status, headers, b"".join(chunks)
