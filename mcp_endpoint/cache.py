"""The in-process cache of live tenants (settings and OneApp pool): sliding TTL, LRU bound, single-flight builds.

A hit takes a lock, a dict lookup and a clock read: no database query. So does a miss for an id
found absent a moment ago (unknown, disabled, or with a token that cannot be decrypted): absences
are remembered briefly and bounded in number; and an id that names no enabled tenant in the list
of known ids (known_ids.py) costs no query either, so a flood of unknown ids costs no query each. A
change to a tenant (saved, deleted, its keys; in any worker, through the change feed) drops both
its entry and its absence once the transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from mcp_endpoint import connections, metrics
from mcp_endpoint.known_ids import KnownIds, list_enabled_ids
from mcp_endpoint.live_tenant import LiveTenant
from mcp_endpoint.quiet_log import QuietLog
from tenants.crypto import TokenDecryptionError
from tenants.models import ClientConfig, TenantSettings
from tenants.signals import tenant_changed

logger = logging.getLogger(__name__)
_quiet = QuietLog(logger, interval=60.0)

Loader = Callable[[str], Awaitable[TenantSettings | None]]


@dataclass
class _Entry:
    live: LiveTenant
    expires_at: float
    built_at: float  # wall-clock time, for staff


@dataclass(frozen=True, slots=True)
class _Absence:
    expires_at: float
    error: Exception | None  # None: unknown or disabled; otherwise why it cannot be served, raised again


class TenantCache:
    def __init__(
        self,
        load: Loader,
        *,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
        build: Callable[[TenantSettings], LiveTenant] = LiveTenant,
        absent_ttl_seconds: float = 30.0,
        max_absent: int = 10_000,
        known: KnownIds | None = None,
    ) -> None:
        self._load = load
        self.known = known
        self._build = build
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.absent_ttl = absent_ttl_seconds
        self.max_absent = max_absent
        self._absent: OrderedDict[str, _Absence] = OrderedDict()
        self._lock = threading.Lock()  # invalidation arrives from other threads
        self._building: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Task[LiveTenant | None]] = {}
        # Ids with a build in flight (on any loop), and those of them whose row changed meanwhile.
        self._builds_in_flight: Counter[str] = Counter()
        self._stale_builds: set[str] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, client_id: str) -> bool:
        return client_id in self._entries

    async def aget(self, client_id: str) -> LiveTenant | None:
        """The live tenant, built on a miss; None for an unknown or disabled tenant."""
        loop = asyncio.get_running_loop()
        now = self._clock()
        with self._lock:
            entry = self._entries.get(client_id)
            if entry is not None and entry.expires_at > now and entry.live.loop is loop:
                entry.expires_at = now + self.ttl
                self._entries.move_to_end(client_id)
                metrics.CACHE_HIT.inc()
                return entry.live
            absence = self._absent.get(client_id)
            if absence is not None and absence.expires_at > now:
                metrics.CACHE_ABSENT.inc()
                if absence.error is not None:
                    raise absence.error
                return None
        if self.known is not None and not await self.known.may_exist(client_id):
            metrics.CACHE_ABSENT.inc()
            return None
        metrics.CACHE_MISS.inc()
        key = (loop, client_id)
        build = self._building.get(key)
        if build is None:
            with self._lock:
                self._builds_in_flight[client_id] += 1
            # A task of its own, so that a requester who goes away does not cancel it for the others.
            build = loop.create_task(self._build_and_store(client_id), name=f"build-tenant-{client_id}")
            self._building[key] = build
            build.add_done_callback(lambda done: self._build_done(key, done))
        return await asyncio.shield(build)

    def _build_done(self, key: tuple[asyncio.AbstractEventLoop, str], build: asyncio.Task[Any]) -> None:
        self._building.pop(key, None)
        client_id = key[1]
        with (
            self._lock
        ):  # the last build of an id takes its bookkeeping with it: an unknown id leaves nothing
            self._builds_in_flight[client_id] -= 1
            if self._builds_in_flight[client_id] <= 0:
                del self._builds_in_flight[client_id]
                self._stale_builds.discard(client_id)
        if not build.cancelled():
            build.exception()  # retrieved here too, so that an error nobody awaited is not reported twice

    async def _build_and_store(self, client_id: str) -> LiveTenant | None:
        while True:
            with self._lock:
                self._stale_builds.discard(client_id)
            try:
                tenant = await self._load(client_id)
            except TokenDecryptionError as exc:
                self._remember_absent(client_id, exc)
                raise
            if tenant is None:  # unknown or disabled now: nothing of it may stay cached
                self._drop(client_id)
                self._remember_absent(client_id, None)
                return None
            live = self._build(tenant)
            await live.start()
            with self._lock:
                # The row changed while it was being read: this copy may be stale.
                stale = client_id in self._stale_builds
                evicted = [] if stale else self._store(client_id, live)
            if stale:
                live.retire()
                continue
            for old in evicted:
                old.retire()
            metrics.CACHE_BUILD.inc()
            metrics.CACHE_EVICTION.inc(len(evicted))
            metrics.CACHED_TENANTS.set(len(self._entries))
            logger.debug("built live tenant %s (%d cached)", client_id, len(self._entries))
            return live

    def _store(self, client_id: str, live: LiveTenant) -> list[LiveTenant]:
        """Insert under the lock; returns the live tenants pushed out (replaced, expired or over the bound)."""
        now = self._clock()
        evicted = []
        if (old := self._entries.pop(client_id, None)) is not None:
            evicted.append(old.live)
        self._entries[client_id] = _Entry(live, now + self.ttl, time.time())
        # Sliding expiry keeps the dict in expiry order too: the oldest is first.
        while self._entries:
            oldest_id, oldest = next(iter(self._entries.items()))
            if oldest.expires_at > now and len(self._entries) <= self.max_entries:
                break
            del self._entries[oldest_id]
            evicted.append(oldest.live)
            logger.debug("evicted live tenant %s", oldest_id)
        return evicted

    def _remember_absent(self, client_id: str, error: Exception | None) -> None:
        with self._lock:
            if client_id in self._stale_builds:  # the row changed while it was read: nothing to remember
                return
            self._absent.pop(client_id, None)
            self._absent[client_id] = _Absence(self._clock() + self.absent_ttl, error)
            while len(self._absent) > self.max_absent:
                self._absent.popitem(last=False)
        if error is not None:  # said once per tenant and minute, not on every request
            _quiet.log(logging.ERROR, client_id, "tenant %s cannot be served: %s", client_id, error)

    def invalidate(self, client_id: str) -> None:
        """Forget a live tenant (and that it was absent); calls in flight finish on it. Safe from any thread."""
        if self.known is not None:
            self.known.add(client_id)
        with self._lock:
            self._absent.pop(client_id, None)
            if client_id in self._builds_in_flight:  # a build reading the row now may read it stale
                self._stale_builds.add(client_id)
        self._drop(client_id)

    def _drop(self, client_id: str) -> None:
        with self._lock:
            entry = self._entries.pop(client_id, None)
        if entry is not None:
            entry.live.retire()
            metrics.CACHED_TENANTS.set(len(self._entries))
            logger.debug("invalidated live tenant %s", client_id)

    def clear(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            self._absent.clear()
            self._stale_builds.update(self._builds_in_flight)
        if self.known is not None:
            self.known.forget()
        metrics.CACHED_TENANTS.set(0)
        for entry in entries:
            entry.live.retire()

    async def aclose(self) -> None:
        """At shutdown: forget every live tenant and close the pools of those on this loop."""
        with self._lock:
            tenants = [entry.live for entry in self._entries.values()]
            self._entries.clear()
        metrics.CACHED_TENANTS.set(0)
        loop = asyncio.get_running_loop()
        closing = [live for live in tenants if live.loop is loop]
        for live, outcome in zip(
            closing,
            await asyncio.gather(*(live.aclose() for live in closing), return_exceptions=True),
            strict=True,
        ):
            if isinstance(outcome, Exception):  # one failure must not leave the other pools open
                logger.warning("could not close the OneApp pool of tenant %s: %r", live.client_id, outcome)
        for live in tenants:
            if live.loop is not loop:
                live.retire()

    def built_at(self, client_id: str) -> float | None:
        """When this process built the cached live tenant (epoch seconds), or None."""
        entry = self._entries.get(client_id)
        return entry.built_at if entry is not None else None


@sync_to_async
def load_tenant(client_id: str) -> TenantSettings | None:
    """The enabled tenant's settings with its unrevoked keys (two queries), or None."""
    connections.drop_if_broken()
    tenant = ClientConfig.objects.filter(client_id=client_id, enabled=True).first()
    if tenant is None:
        return None
    keys = tenant.access_keys.filter(revoked_at__isnull=True).order_by()  # no ordering join
    return tenant.snapshot(tuple(key.stored_key() for key in keys))


_cache: TenantCache | None = None


def tenant_cache() -> TenantCache:
    """The process-wide cache, configured by MCP_SERVER_CACHE_TTL_SECONDS and MCP_SERVER_CACHE_MAX_ENTRIES."""
    global _cache
    if _cache is None:
        _cache = TenantCache(
            load_tenant,
            ttl_seconds=settings.MCP_SERVER_CACHE_TTL_SECONDS,
            max_entries=settings.MCP_SERVER_CACHE_MAX_ENTRIES,
            absent_ttl_seconds=settings.MCP_ABSENT_TENANT_SECONDS,
            known=KnownIds(list_enabled_ids, ttl_seconds=settings.MCP_ABSENT_TENANT_SECONDS),
        )
    return _cache


@receiver(setting_changed)
def _reconfigure(*, setting: str, **kwargs: Any) -> None:
    global _cache
    if setting.startswith(("MCP_SERVER_CACHE_", "MCP_ABSENT_")) and _cache is not None:
        _cache.clear()
        _cache = None


def invalidate(client_id: str) -> None:
    tenant_cache().invalidate(client_id)


@receiver(tenant_changed, dispatch_uid="mcp_endpoint.drop_changed_tenant")
def _drop_changed_tenant(*, client_id: str, tokens_only: bool = False, **kwargs: Any) -> None:
    # Sent after the commit, so the rebuild reads the new row, never an uncommitted or rolled-back one.
    # A change of who may hold OAuth tokens leaves the tenant's settings and pool alone (bearer.py).
    if not tokens_only:
        invalidate(client_id)
