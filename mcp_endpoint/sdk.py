"""The MCP SDK's part of a /mcp request: it is handed the request and its body, and gives back the answer.

The SDK speaks the protocol (both the 2025 handshake era and the 2026-07-28 single-exchange
form), through its stateless Streamable HTTP session manager over the one shared `OneAppServer`.
A manager must `run()` on the event loop that serves its requests and Django has no lifespan to
do it in, so each event loop (one per worker in production; tests use several) starts its own
on first use, in a task that lives until `aclose_all()` at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from mcp_endpoint.tools import OneAppServer

logger = logging.getLogger(__name__)

# Host and Origin are checked by the view before a request gets here.
_NO_SDK_HOST_CHECK = TransportSecuritySettings(enable_dns_rebinding_protection=False)

Scope = dict[str, Any]
Message = dict[str, Any]
Headers = list[tuple[bytes, bytes]]


@dataclass
class _Running:
    manager: StreamableHTTPSessionManager
    stop: asyncio.Event
    task: asyncio.Task[None]


_running: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Running] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def exchange(scope: Scope, body: bytes) -> tuple[int, Headers, bytes]:
    """Answer one HTTP request through the SDK: status, headers and the whole (JSON) body."""
    manager = await _manager()
    return await _call_asgi(manager.handle_request, scope, body)


async def _manager() -> StreamableHTTPSessionManager:
    loop = asyncio.get_running_loop()
    running = _running.get(loop)
    if running is not None:
        return running.manager
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        if (running := _running.get(loop)) is None:
            running = await _start()
            _running[loop] = running
    return running.manager


async def _start() -> _Running:
    server = OneAppServer()
    server.streamable_http_app(json_response=True, stateless_http=True, transport_security=_NO_SDK_HOST_CHECK)
    manager = server.session_manager
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with manager.run():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run(), name="mcp-session-manager")
    waiting = asyncio.ensure_future(started.wait())
    await asyncio.wait([waiting, task], return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():  # the manager failed before it was ready: report why
        waiting.cancel()
        task.result()
        raise RuntimeError("the MCP session manager stopped while starting")
    return _Running(manager, stop, task)


async def aclose() -> None:
    """Stop this event loop's session manager (at shutdown, after the requests in flight)."""
    running = _running.pop(asyncio.get_running_loop(), None)
    if running is not None:
        running.stop.set()
        await running.task


async def _call_asgi(app: Any, scope: Scope, body: bytes) -> tuple[int, Headers, bytes]:
    """Run an ASGI app on an already-read request body and collect its (JSON, not streamed) response."""
    status = 500
    headers: Headers = []
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
