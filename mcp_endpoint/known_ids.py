"""Which client ids name an enabled tenant: an id never seen before is refused without a query.

The tenant cache remembers an absent id for a while, but a flood of ids that are each new would
still cost a database lookup each (0.6 of a tool call's CPU). One query lists the enabled ids
instead, at most once per `ttl` and only when a miss asks; a change to a tenant (the change feed,
in every worker) adds its id at once, so a tenant created or enabled elsewhere is looked up at
its first request, as before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from asgiref.sync import sync_to_async

from mcp_endpoint import connections
from tenants.models import ClientConfig


class KnownIds:
    def __init__(
        self,
        list_ids: Callable[[], Coroutine[Any, Any, set[str]]],
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_ids = list_ids
        self.ttl = ttl_seconds
        self._clock = clock
        self._ids: set[str] | None = None
        self._fresh_until = 0.0
        self._listing: dict[asyncio.AbstractEventLoop, asyncio.Task[set[str]]] = {}
        self._applied: asyncio.Task[set[str]] | None = None
        self._added_while_listing: set[str] = set()
        self._lock = threading.Lock()  # changes arrive from the change poller's thread

    async def may_exist(self, client_id: str) -> bool:
        """False only when the id names no enabled tenant in a list at most `ttl` old."""
        ids = self._ids
        if ids is None or self._clock() >= self._fresh_until:
            ids = await self._relist()
        return client_id in ids

    def add(self, client_id: str) -> None:
        """A tenant changed (maybe created or enabled): look it up at its next request."""
        with self._lock:
            self._added_while_listing.add(client_id)
            if self._ids is not None:
                self._ids.add(client_id)

    def forget(self) -> None:
        self._ids = None

    async def _relist(self) -> set[str]:
        # One query however many misses wait for it.
        loop = asyncio.get_running_loop()
        listing = self._listing.get(loop)
        if listing is None:
            # A change is signalled after its commit: a listing that starts now sees it, one that
            # runs already may not, so what is added meanwhile is kept on top of its result.
            with self._lock:
                self._added_while_listing = set()
            listing = loop.create_task(self._list_ids(), name="list-known-tenant-ids")
            self._listing[loop] = listing
            listing.add_done_callback(lambda _: self._listing.pop(loop, None))
        ids = await asyncio.shield(listing)
        if listing is not self._applied:  # the first waiter to wake applies it
            self._applied = listing
            with self._lock:
                self._ids = ids = ids | self._added_while_listing
            self._fresh_until = self._clock() + self.ttl
        return self._ids if self._ids is not None else ids


@sync_to_async
def list_enabled_ids() -> set[str]:
    connections.drop_if_broken()
    return set(ClientConfig.objects.filter(enabled=True).values_list("client_id", flat=True))
