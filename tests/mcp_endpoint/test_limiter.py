"""Where the limits are counted (mcp_endpoint.limiter): in Redis, shared, when REDIS_URL is set, failing
open while Redis is away; otherwise in each worker's memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from mcp_endpoint import limiter
from mcp_endpoint.limiter import SWEEP_SECONDS, SweptMemoryStorage
from tests.live_server import ROOT
from tests.redis_server import RedisServer, needs_redis


@pytest.fixture(autouse=True)
async def _connections_closed() -> AsyncIterator[None]:
    yield
    # This test's event loop ends with it: its Redis connections are closed first, not left to the
    # garbage collector (which warns about each).
    shared = limiter._shared.get(asyncio.get_running_loop())
    if shared is not None:
        await shared.pool.disconnect()


def uncounted() -> float:
    return REGISTRY.get_sample_value("oneapp_mcp_limits_uncounted_total") or 0.0


async def takes(backend: limiter._Local | limiter._Shared, limit: int, count: int) -> list[bool]:
    """Whether each of `count` requests fit in `limit` per minute, counted through `backend`."""
    return [await backend.hit(limiter.PerMinute(limit), "rate", "acme") for _ in range(count)]


async def test_two_workers_on_one_redis_share_each_count(settings, redis_url):
    settings.REDIS_URL = redis_url
    first, second = limiter._Shared(redis_url), limiter._Shared(redis_url)  # as two workers hold them

    assert await takes(first, 3, 2) + await takes(second, 3, 2) == [True, True, True, False]
    assert await takes(first, 3, 1) == [False]
    for shared in (first, second):
        await shared.pool.disconnect()
    with redis.Redis.from_url(redis_url) as server:
        assert all(key.startswith(b"oneapp-mcp:") for key in server.scan_iter())


async def test_without_redis_each_worker_counts_for_itself():
    first, second = limiter._Local(), limiter._Local()
    assert await takes(first, 3, 4) == [True, True, True, False]
    assert await takes(second, 3, 4) == [True, True, True, False]


async def test_a_changed_limit_applies_to_the_requests_already_counted(settings, redis_url):
    settings.REDIS_URL = redis_url
    *fitted, refused = [await limiter.take(3, "rate", "acme") for _ in range(4)]
    assert fitted == [None, None, None] and 1 <= refused <= 60
    assert await limiter.take(4, "rate", "acme") is None
    assert await limiter.take(2, "rate", "acme") is not None
    assert (await limiter.window(4, "rate", "acme")).held == 4


@needs_redis
async def test_a_unix_socket_url_counts_there_too(settings, tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        settings.REDIS_URL = server.unix_url
        assert [await limiter.take(1, "rate", "acme") is None for _ in range(2)] == [True, False]
        with redis.Redis.from_url(server.url) as client:
            assert client.keys("oneapp-mcp:*")
    finally:
        server.kill()


@pytest.fixture
def own_redis(tmp_path, monkeypatch) -> Iterator[RedisServer]:
    """A Redis server the test may kill; limit checks try it again at once after a failure."""
    monkeypatch.setattr(limiter, "RETRY_REDIS_AFTER_SECONDS", 0.0)
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@needs_redis
async def test_with_redis_killed_requests_are_served_counted_in_the_metric_said_once_and_counting_resumes(
    settings, own_redis, caplog
):
    settings.REDIS_URL = own_redis.url
    caplog.set_level(logging.INFO, logger="mcp_endpoint")
    assert [await limiter.take(2, "rate", "acme") is None for _ in range(3)] == [True, True, False]

    own_redis.kill()
    before = uncounted()
    assert [await limiter.take(2, "rate", "acme") for _ in range(5)] == [None] * 5
    assert uncounted() - before == 5
    said = [r for r in caplog.records if r.name == "mcp_endpoint.limiter"]
    assert [r.levelno for r in said] == [logging.ERROR]  # one line a minute, however many requests
    assert "serving uncounted" in said[0].getMessage()

    own_redis.start()  # same port, empty (no persistence): counting starts afresh
    assert [await limiter.take(2, "rate", "acme") is None for _ in range(3)] == [True, True, False]
    assert uncounted() - before == 5
    assert "Redis answers again" in caplog.records[-1].getMessage()


async def test_a_redis_that_never_answers_costs_one_timeout_and_is_skipped_for_a_while(settings, caplog):
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        settings.REDIS_TIMEOUT_SECONDS = 0.2
        before = uncounted()

        assert [await limiter.take(1, "rate", "acme") for _ in range(3)] == [None] * 3

        silent.setblocking(False)
        tried = []
        with contextlib.suppress(BlockingIOError):
            while True:
                tried.append(silent.accept()[0])
        for connection in tried:
            connection.close()
    assert len(tried) == 1  # the two checks after the first did not wait for Redis again
    assert uncounted() - before == 3
    assert "Timeout" in caplog.text


def test_a_redis_cache_url_alone_shares_the_limits_and_the_cache(redis_url):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from django.core.cache import caches; cache = caches['default']; cache.set('probe', 'shared', 10); "
        "print(s.REDIS_URL, type(cache).__name__, cache.get('probe'))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oneapp_site.settings",
        "ENV_FILE": "",
        "CACHE_URL": redis_url,
    }
    env.pop("REDIS_URL", None)
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert ran.stdout.split() == [redis_url, "RedisCache", "shared"]
    with redis.Redis.from_url(redis_url) as server:
        assert server.exists(":1:probe")  # in Redis, where every instance reads it


async def test_the_outage_log_names_redis_without_its_password(settings, caplog):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.REDIS_URL = f"redis://:canary-redis-password@127.0.0.1:{port}/0"

    assert await limiter.take(1, "rate", "acme") is None

    [said] = [r.getMessage() for r in caplog.records if r.name == "mcp_endpoint.limiter"]
    assert f"127.0.0.1:{port}" in said and "canary-redis-password" not in said


def test_the_worker_memory_is_swept_seldom_and_its_counts_stay_exact():
    storage = SweptMemoryStorage()
    storage.timer.join()  # the library's first sweep, 10 ms after start
    storage.incr("expired", expiry=0.01)
    storage.incr("live", expiry=60)
    # One sweep scheduled, far off, on a thread that does not hold the process at exit.
    assert storage.timer.is_alive() and storage.timer.daemon and storage.timer.interval == SWEEP_SECONDS
    time.sleep(0.05)
    assert storage.get("expired") == 0  # exact before any sweep: reading drops an expired count
    storage.incr("expired-unread", expiry=0.01)
    time.sleep(0.05)
    storage.timer.cancel()
    storage._MemoryStorage__expire_events()  # what the sweep runs
    assert "expired-unread" not in storage.storage and storage.get("live") == 1
