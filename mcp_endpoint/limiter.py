"""Counting for every limit of /mcp, in sliding one-minute windows (the `limits` library's sliding
window counter): in Redis, shared by every worker and instance, when REDIS_URL is set; otherwise in
this worker's memory.

A sliding window counter weighs the previous minute's count by how much of that minute is still
within the last 60 s, and adds this minute's: a burst at the turn of a minute gets no second
allowance (as a fixed window gives), and a request that fits costs one Redis call whatever the
limit (a refused one, a second, for its Retry-After).

When Redis cannot be reached, requests are served uncounted (fail open): the outage is counted in
a metric, said in the log once a minute, and Redis is tried again a second later, by itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as SharedLimiter
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter as LocalLimiter
from limits.util import WindowStats
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from mcp_endpoint import metrics
from mcp_endpoint.quiet_log import QuietLog

logger = logging.getLogger(__name__)
_quiet = QuietLog(logger, interval=60.0)

WINDOW_SECONDS = 60
KEY_PREFIX = "oneapp-mcp"
RETRY_REDIS_AFTER_SECONDS = 1.0  # after a failure, checks skip Redis this long (no wait on each)
POOL_SIZE = 50  # Redis connections per worker; a check waits up to REDIS_TIMEOUT_SECONDS for one
SWEEP_SECONDS = 10.0  # how often this worker's memory drops expired counts
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
T = TypeVar("T")


class PerMinute(RateLimitItemPerMinute):
    """`amount` per minute. The library puts the amount in the key; we do not, so that a changed
    limit applies to the requests already counted instead of starting a new count."""

    def key_for(self, *identifiers: bytes | str | int | float) -> str:
        return "/".join([self.namespace, *map(str, identifiers)])


class Window(NamedTuple):
    held: int  # requests counted in the window, up to the limit
    retry_after: int  # whole seconds (1 to 60) until one more would fit


async def take(limit: int, *identifiers: str) -> int | None:
    """Count one request against `limit` per minute: None when it fits, otherwise the seconds until
    one more would. A request refused is not counted."""
    item, backend = PerMinute(limit), _backend()
    if await backend.hit(item, *identifiers):
        return None
    return _window(item, await backend.stats(item, *identifiers)).retry_after


async def window(limit: int, *identifiers: str) -> Window:
    """The window of `limit` per minute, without counting a request."""
    item = PerMinute(limit)
    return _window(item, await _backend().stats(item, *identifiers))


def _window(item: RateLimitItem, stats: WindowStats) -> Window:
    retry_after = max(1, min(WINDOW_SECONDS, int(stats.reset_time - time.time())))
    return Window(item.amount - stats.remaining, retry_after)


class SweptMemoryStorage(MemoryStorage):
    """The library's memory storage, swept for expired counts every SWEEP_SECONDS instead of 10 ms
    after a hit: under load its own schedule started a thread every 10 ms, each walking every key
    (5 % of a tool call's CPU). Counts stay exact: reading a count drops it once it has expired; the
    sweep only frees the memory of those never read again."""

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook, replaced
        if not self.timer.is_alive():
            self.timer = threading.Timer(SWEEP_SECONDS, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True  # a pending sweep must not hold the process at exit
            self.timer.start()


class _Local:
    """This worker's memory: the library's thread-safe synchronous storage, called directly (it
    never blocks). Its asyncio twin starts a task per check that walks every key: 30 times dearer
    with 2,000 keys."""

    def __init__(self) -> None:
        self.limiter = LocalLimiter(SweptMemoryStorage())

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self.limiter.hit(item, *identifiers)

    async def stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self.limiter.get_window_stats(item, *identifiers)


class _Shared:
    """Redis, through one event loop's own connection pool (an asyncio connection is bound to its loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool = connection_pool(url)
        # Typed as the library's other options (float | str | bool) are not: it hands them to redis-py.
        options: dict[str, Any] = {"connection_pool": self.pool}
        # The library names its schemes its own way; the connection itself comes from the pool.
        scheme = "async+redis+unix://" if url.startswith("unix://") else "async+"
        storage = RedisStorage(
            scheme + url.removeprefix("unix://"), implementation="redispy", key_prefix=KEY_PREFIX, **options
        )
        self.limiter = SharedLimiter(storage)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await _outage.served(lambda: self.limiter.hit(item, *identifiers), True)

    async def stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        uncounted = WindowStats(time.time(), item.amount)
        return await _outage.served(lambda: self.limiter.get_window_stats(item, *identifiers), uncounted)


def connection_pool(url: str) -> BlockingConnectionPool:
    """A worker's connections to Redis (raises ValueError for a URL that is not Redis's)."""
    timeout = settings.REDIS_TIMEOUT_SECONDS
    return BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # Once, at once, on a broken connection (one left from before Redis restarted); redis-py's
        # default, 3 times with back-off on timeouts too, would hold requests up while Redis is away.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class _Outage:
    """Whether Redis is failing, per process: checks then return their fallback, as if nothing was counted."""

    def __init__(self) -> None:
        self.retry_at = 0.0
        self.down = False

    async def served(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self.down and time.monotonic() < self.retry_at:
            metrics.LIMITS_UNCOUNTED.inc()
            return fallback
        try:
            result = await call()
        except REDIS_FAILURES as exc:
            self.down, self.retry_at = True, time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            metrics.LIMITS_UNCOUNTED.inc()
            # str(), as redis-py's repr() names only the kind of error ("network:ConnectionError").
            message = "cannot count the /mcp limits in Redis, serving uncounted: %s: %s"
            _quiet.log(logging.ERROR, "redis", message, type(exc).__name__, exc)
            return fallback
        if self.down:
            self.down = False
            logger.warning("Redis answers again: the /mcp limits are counted again")
        return result


_outage = _Outage()
_local: _Local | None = None
_shared: WeakKeyDictionary[asyncio.AbstractEventLoop, _Shared] = WeakKeyDictionary()


def counts_locally() -> bool:
    """Whether this worker's memory holds the counts (no REDIS_URL): then nothing else adds to them."""
    return not settings.REDIS_URL


def _backend() -> _Local | _Shared:
    global _local
    if counts_locally():
        if _local is None:
            _local = _Local()
        return _local
    url = settings.REDIS_URL
    loop = asyncio.get_running_loop()
    shared = _shared.get(loop)
    if shared is None or shared.url != url:
        shared = _shared[loop] = _Shared(url)
    return shared


def forget() -> None:
    """Start afresh in this process (tests): counts in memory, Redis's outage and its log line are
    forgotten; what Redis holds is left as it is."""
    global _local, _outage, _quiet
    _local, _outage, _quiet = None, _Outage(), QuietLog(logger, interval=60.0)
    _shared.clear()
