"""A tenant as one worker serves it: its settings, its OneApp connection pool, and its calls in flight.

The MCP server is shared by every tenant (mcp_endpoint.tools); what is a tenant's own is here.
A pool belongs to the event loop that opened it, so a `LiveTenant` is bound to that loop, and
when it is retired (its settings changed, or it was evicted) its pool is closed once the calls
in flight on it have finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar

from tenants.models import TenantSettings
from tenants.oneapp.catalog import TOOL_NAMES
from tenants.oneapp.client import OneAppClient

logger = logging.getLogger(__name__)

# The event loop keeps only weak references to tasks: a close task nobody holds could be
# garbage-collected before it has closed anything.
_closing: set[asyncio.Task[None]] = set()

_current: ContextVar[LiveTenant] = ContextVar("oneapp_mcp_tenant")
# Tools the request's credential may not use (an OAuth token's scopes), on top of the tenant's own list.
_withheld: ContextVar[frozenset[str]] = ContextVar("oneapp_mcp_withheld", default=frozenset())


def current_tenant() -> LiveTenant:
    """The tenant of the /mcp request being answered (set by `LiveTenant.serving`)."""
    return _current.get()


def exposed_tools() -> frozenset[str] | None:
    """The tools this request sees and may call; None when every tool is exposed."""
    allowed = _current.get().settings.tools
    withheld = _withheld.get()
    if not withheld:
        return allowed
    return (allowed if allowed is not None else frozenset(TOOL_NAMES)) - withheld


class Retired(Exception):
    """The tenant was retired before this request reached it; resolve it again."""


class LiveTenant:
    def __init__(self, settings: TenantSettings) -> None:
        self.settings = settings
        self.client_id = settings.client_id
        self.upstream = OneAppClient(settings)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._in_flight = 0
        self._retired = False
        self._closed = False

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    @contextlib.asynccontextmanager
    async def serving(self, withheld: frozenset[str] = frozenset()) -> AsyncIterator[None]:
        """Make this the tenant of the current request (without the `withheld` tools), and keep its pool
        open until the request ends."""
        if self._closed:
            raise Retired(self.client_id)
        self._in_flight += 1
        token = _current.set(self)
        withholding = _withheld.set(withheld)
        try:
            yield
        finally:
            _withheld.reset(withholding)
            _current.reset(token)
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
        if not self._closed:
            self._closed = True
            task = asyncio.get_running_loop().create_task(self.aclose(), name=f"close-pool-{self.client_id}")
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    async def aclose(self) -> None:
        self._closed = True
        await self.upstream.aclose()
        logger.debug("closed the OneApp pool of tenant %s", self.client_id)
