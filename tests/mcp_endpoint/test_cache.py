"""TenantCache: sliding TTL, LRU bound, single-flight builds, invalidation on commit, and safe eviction.

Time is a fake clock, never a sleep. Where a real `LiveTenant` is needed, its OneApp is the fake
upstream on 127.0.0.1 and tool calls go through the SDK while it serves, as the view sends them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test.utils import CaptureQueriesContext

from mcp_endpoint import cache as cache_module
from mcp_endpoint import live_tenant, sdk
from mcp_endpoint.cache import TenantCache, load_tenant, tenant_cache
from mcp_endpoint.live_tenant import LiveTenant, Retired
from tenants.models import ClientConfig, TenantSettings
from tests.fake_upstream import FakeOneApp
from tests.helpers import CANARY_TOKEN, tenant_settings

TTL = 300.0


def settings_for(client_id: str, url: str = "https://core.example.test", **fields: Any) -> TenantSettings:
    return tenant_settings(client_id, url, **fields)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Loader:
    """Reads a tenant from `tenants` (every id is known unless removed); can be held at a gate."""

    def __init__(self) -> None:
        self.tenants: dict[str, TenantSettings] = {}
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.unknown: set[str] = set()

    async def __call__(self, client_id: str) -> TenantSettings | None:
        self.calls.append(client_id)
        # Read first, then wait: a slow read returns the row as it was when it was read.
        tenant = None if client_id in self.unknown else self.tenants.get(client_id, settings_for(client_id))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return tenant


class FakeServer:
    """Stands in for LiveTenant where only the cache's bookkeeping is under test."""

    def __init__(self, tenant: TenantSettings) -> None:
        self.tenant = tenant
        self.loop: asyncio.AbstractEventLoop | None = None
        self.retired = 0

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    def retire(self) -> None:
        self.retired += 1


class Builds:
    def __init__(self, factory: Callable[[TenantSettings], Any] = FakeServer) -> None:
        self.factory = factory
        self.servers: list[Any] = []

    def __call__(self, tenant: TenantSettings) -> Any:
        server = self.factory(tenant)
        self.servers.append(server)
        return server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def loader() -> Loader:
    return Loader()


@pytest.fixture
def builds() -> Builds:
    return Builds()


@pytest.fixture
def make_cache(loader: Loader, clock: FakeClock, builds: Builds) -> Callable[..., TenantCache]:
    def make(**kwargs: Any) -> TenantCache:
        options: dict[str, Any] = {"ttl_seconds": TTL, "max_entries": 1000, "clock": clock, "build": builds}
        options.update(kwargs)
        return TenantCache(options.pop("load", loader), **options)

    return make


@pytest.fixture
async def real_servers():
    """Builds real LiveTenants, and closes every one of them after the test."""
    real = Builds(LiveTenant)
    yield real
    for server in real.servers:
        if server.loop is asyncio.get_running_loop():
            await server.aclose()


@pytest.fixture
def global_cache(monkeypatch: pytest.MonkeyPatch, builds: Builds) -> TenantCache:
    """The process-wide cache, reading real rows, with fake servers."""
    cache = TenantCache(load_tenant, ttl_seconds=TTL, max_entries=1000, build=builds)
    monkeypatch.setattr(cache_module, "_cache", cache)
    return cache


def tool_call(
    name: str = "core_list_sucursales", arguments: dict[str, Any] | None = None
) -> tuple[dict, bytes]:
    """An ASGI scope and JSON-RPC body for one stateless tools/call, as the view hands them over."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments or {}},
        }
    ).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"mcp-protocol-version", b"2025-06-18"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return scope, body


async def handle(live: LiveTenant, scope: dict, body: bytes) -> tuple[int, list, bytes]:
    """As the view answers a request for this tenant."""
    async with live.serving():
        return await sdk.exchange(scope, body)


def tool_result(response_body: bytes) -> dict[str, Any]:
    message = json.loads(response_body)
    assert "error" not in message, message
    return message["result"]


async def serving_is_allowed(server: LiveTenant) -> bool:
    try:
        async with server.serving():
            return True
    except Retired:
        return False


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run until `condition` holds: for work handed to other tasks or threads."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


# Hits, expiry and the LRU bound.


async def test_a_miss_builds_the_server_and_a_hit_returns_the_same_one(make_cache, loader, builds):
    cache = make_cache()

    first = await cache.aget("acme")
    second = await cache.aget("acme")

    assert second is first
    assert loader.calls == ["acme"]
    assert builds.servers == [first]
    assert first.tenant.client_id == "acme"
    assert "acme" in cache


async def test_an_entry_not_hit_for_the_ttl_expires_and_is_rebuilt(make_cache, loader, clock):
    cache = make_cache()
    first = await cache.aget("acme")

    clock.advance(TTL + 1)
    second = await cache.aget("acme")

    assert second is not first
    assert loader.calls == ["acme", "acme"]
    assert first.retired == 1


async def test_an_entry_is_still_served_just_before_its_ttl_runs_out(make_cache, loader, clock):
    cache = make_cache()
    first = await cache.aget("acme")

    clock.advance(TTL - 1)

    assert await cache.aget("acme") is first
    assert loader.calls == ["acme"]


async def test_each_hit_slides_the_expiry_forward(make_cache, loader, clock):
    cache = make_cache()
    first = await cache.aget("acme")

    for _ in range(5):  # 5 × 0.8 TTL: well past one TTL since the build, never one TTL since a hit
        clock.advance(TTL * 0.8)
        assert await cache.aget("acme") is first

    assert loader.calls == ["acme"]
    assert first.retired == 0


def test_the_process_cache_takes_its_ttl_and_bound_from_settings(settings):
    assert tenant_cache().ttl == settings.MCP_SERVER_CACHE_TTL_SECONDS
    assert tenant_cache().max_entries == settings.MCP_SERVER_CACHE_MAX_ENTRIES

    settings.MCP_SERVER_CACHE_TTL_SECONDS = 60.0
    settings.MCP_SERVER_CACHE_MAX_ENTRIES = 3

    assert tenant_cache().ttl == 60.0
    assert tenant_cache().max_entries == 3


async def test_when_full_the_least_recently_used_tenant_is_evicted_not_a_recently_hit_one(
    make_cache, loader, clock
):
    cache = make_cache(max_entries=2)
    acme = await cache.aget("acme")
    clock.advance(1)
    globex = await cache.aget("globex")
    clock.advance(1)
    assert await cache.aget("acme") is acme  # acme is now the most recently used

    clock.advance(1)
    initech = await cache.aget("initech")

    assert "globex" not in cache
    assert globex.retired == 1
    assert "acme" in cache and "initech" in cache
    assert acme.retired == 0
    assert len(cache) == 2
    assert await cache.aget("acme") is acme
    assert await cache.aget("initech") is initech
    assert loader.calls == ["acme", "globex", "initech"]


# Single-flight builds.


async def test_concurrent_cold_requests_for_one_tenant_build_its_server_once(make_cache, loader, builds):
    cache = make_cache()
    loader.gate = asyncio.Event()
    requests = [asyncio.create_task(cache.aget("acme")) for _ in range(20)]
    await loader.entered.wait()

    loader.gate.set()
    servers = await asyncio.gather(*requests)

    assert loader.calls == ["acme"]
    assert len(builds.servers) == 1
    assert all(server is builds.servers[0] for server in servers)


async def test_a_cancelled_requester_does_not_cancel_the_build_for_the_others(make_cache, loader, builds):
    cache = make_cache()
    loader.gate = asyncio.Event()
    first, second, third = (asyncio.create_task(cache.aget("acme")) for _ in range(3))
    await loader.entered.wait()

    first.cancel()
    loader.gate.set()

    assert await second is await third is builds.servers[0]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert loader.calls == ["acme"]
    assert "acme" in cache


async def test_a_build_cancelled_with_its_only_requester_still_completes_and_is_cached(
    make_cache, loader, builds
):
    cache = make_cache()
    loader.gate = asyncio.Event()
    request = asyncio.create_task(cache.aget("acme"))
    await loader.entered.wait()

    request.cancel()
    loader.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await request

    assert await cache.aget("acme") is builds.servers[0]
    assert loader.calls == ["acme"]


async def test_a_failed_build_reaches_every_requester_and_is_not_cached(make_cache, builds):
    calls = []

    async def failing_load(client_id: str) -> TenantSettings:
        calls.append(client_id)
        await asyncio.sleep(0)
        raise RuntimeError("database unavailable")

    cache = make_cache(load=failing_load)
    results = await asyncio.gather(*(cache.aget("acme") for _ in range(5)), return_exceptions=True)

    assert all(isinstance(result, RuntimeError) for result in results)
    assert calls == ["acme"]
    assert "acme" not in cache
    with pytest.raises(RuntimeError):
        await cache.aget("acme")
    assert calls == ["acme", "acme"]  # tried again, not served from a cached failure
    assert builds.servers == []


# Invalidation and races with it.


async def test_a_build_that_raced_with_an_invalidation_is_not_cached_stale(make_cache, loader, builds):
    cache = make_cache()
    loader.tenants["acme"] = settings_for("acme", authorization="Bearer old-token")
    loader.gate = asyncio.Event()
    request = asyncio.create_task(cache.aget("acme"))
    await loader.entered.wait()  # the old row has been read

    loader.tenants["acme"] = settings_for("acme", authorization="Bearer new-token")
    cache.invalidate("acme")  # what a commit of the change does, from whichever thread
    loader.gate.set()
    server = await request

    assert loader.calls == ["acme", "acme"]
    assert server.tenant.authorization == "Bearer new-token"
    assert await cache.aget("acme") is server
    stale = builds.servers[0]
    assert stale is not server
    assert stale.retired == 1


async def test_invalidating_a_tenant_retires_its_server_and_the_next_request_rebuilds_it(make_cache, loader):
    cache = make_cache()
    first = await cache.aget("acme")

    cache.invalidate("acme")

    assert "acme" not in cache
    assert first.retired == 1
    assert await cache.aget("acme") is not first
    assert loader.calls == ["acme", "acme"]


async def test_invalidating_one_tenant_leaves_the_others_cached(make_cache):
    cache = make_cache()
    acme = await cache.aget("acme")
    globex = await cache.aget("globex")

    cache.invalidate("acme")

    assert "acme" not in cache
    assert await cache.aget("globex") is globex
    assert globex.retired == 0
    assert acme.retired == 1


def test_saving_a_tenant_drops_its_entry_when_the_transaction_commits_not_before(
    transactional_db, make_tenant, global_cache
):
    tenant = make_tenant("acme")
    server = async_to_sync(global_cache.aget)("acme")

    with transaction.atomic():
        tenant.name = "Acme renamed"
        tenant.save()
        assert "acme" in global_cache  # nothing is committed yet: the cached server is still right
        assert server.retired == 0

    assert "acme" not in global_cache
    assert server.retired == 1


def test_deleting_a_tenant_drops_its_entry_when_the_transaction_commits(
    make_tenant, global_cache, django_capture_on_commit_callbacks
):
    tenant = make_tenant("acme")
    server = async_to_sync(global_cache.aget)("acme")

    with django_capture_on_commit_callbacks(execute=True):
        tenant.delete()
        assert "acme" in global_cache

    assert "acme" not in global_cache
    assert server.retired == 1
    assert async_to_sync(global_cache.aget)("acme") is None


def test_a_rolled_back_save_drops_nothing(transactional_db, make_tenant, global_cache):
    tenant = make_tenant("acme")
    server = async_to_sync(global_cache.aget)("acme")

    with pytest.raises(RuntimeError), transaction.atomic():
        tenant.name = "Never committed"
        tenant.save()
        raise RuntimeError("roll back")

    assert "acme" in global_cache
    assert server.retired == 0


def test_saving_another_tenant_leaves_this_one_cached(
    make_tenant, global_cache, django_capture_on_commit_callbacks
):
    make_tenant("acme")
    globex = make_tenant("globex")
    server = async_to_sync(global_cache.aget)("acme")

    with django_capture_on_commit_callbacks(execute=True):
        globex.name = "Globex renamed"
        globex.save()

    assert "acme" in global_cache
    assert server.retired == 0


# Unknown and disabled tenants, and the database.


def test_an_unknown_tenant_gets_none_and_nothing_is_cached(db, global_cache, builds):
    assert async_to_sync(global_cache.aget)("nobody") is None
    assert "nobody" not in global_cache
    assert builds.servers == []


def test_a_disabled_tenant_gets_none(make_tenant, global_cache, builds):
    make_tenant("acme", enabled=False)

    assert async_to_sync(global_cache.aget)("acme") is None
    assert builds.servers == []


def test_a_tenant_disabled_after_being_cached_is_dropped_on_save(
    make_tenant, global_cache, django_capture_on_commit_callbacks
):
    tenant = make_tenant("acme")
    server = async_to_sync(global_cache.aget)("acme")

    with django_capture_on_commit_callbacks(execute=True):
        tenant.enabled = False
        tenant.save()

    assert "acme" not in global_cache
    assert server.retired == 1
    assert async_to_sync(global_cache.aget)("acme") is None


def test_a_cache_hit_makes_no_database_query(make_tenant):
    make_tenant("acme")
    connection = connections[DEFAULT_DB_ALIAS]
    counts: list[int] = []

    async def miss_then_hit() -> tuple[LiveTenant, LiveTenant]:
        # One event loop for both requests, so the second is a true hit.
        first = await tenant_cache().aget("acme")
        counts.append(len(queries))
        second = await tenant_cache().aget("acme")
        counts.append(len(queries))
        await first.aclose()
        return first, second

    # async_to_sync runs the loader's query on this thread, inside the test's transaction.
    with CaptureQueriesContext(connection) as queries:
        first, second = async_to_sync(miss_then_hit)()

    assert second is first
    # The known ids, the tenant and its keys for the first miss; nothing for the hit.
    assert counts == [3, 3]


def test_the_loader_returns_the_decrypted_settings_of_an_enabled_tenant(make_tenant):
    make_tenant("acme", core_base_url="https://core.acme.test/", http_timeout_ms=1234)

    tenant = async_to_sync(load_tenant)("acme")

    assert tenant == TenantSettings(
        client_id="acme",
        core_base_url="https://core.acme.test",
        client_base_url="https://front.example.test",
        authorization=CANARY_TOKEN,
        client_header="acme",
        http_timeout_ms=1234,
    )


# Event loops and threads.


async def test_an_entry_built_on_another_event_loop_is_not_reused_on_this_one(make_cache, loader):
    cache = make_cache()
    other_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=other_loop.run_forever, daemon=True)
    thread.start()
    try:
        built_there = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(cache.aget("acme"), other_loop)
        )

        built_here = await cache.aget("acme")
    finally:
        other_loop.call_soon_threadsafe(other_loop.stop)
        thread.join()
        other_loop.close()

    assert built_there.loop is other_loop
    assert built_here is not built_there
    assert built_here.loop is asyncio.get_running_loop()
    assert loader.calls == ["acme", "acme"]
    assert built_there.retired == 1  # replaced, so released
    assert await cache.aget("acme") is built_here


async def test_retire_from_another_thread_closes_the_pool_on_its_own_loop(fake_oneapp):
    server = LiveTenant(settings_for("acme", fake_oneapp.url))
    await server.start()
    loop = asyncio.get_running_loop()
    closed_on = []
    close_pool = server.upstream.aclose

    async def recording_close() -> None:
        closed_on.append((asyncio.get_running_loop(), threading.get_ident()))
        await close_pool()

    server.upstream.aclose = recording_close

    thread = threading.Thread(target=server.retire)
    thread.start()
    thread.join()
    await eventually(lambda: server.upstream.is_closed)

    assert closed_on == [(loop, threading.get_ident())]
    with pytest.raises(Retired):
        await handle(server, *tool_call())


def test_retiring_a_tenant_whose_loop_has_closed_does_nothing():
    server = LiveTenant(settings_for("acme"))
    asyncio.run(server.start())
    assert server.loop is not None and server.loop.is_closed()  # the case under test

    server.retire()  # no error (a closed loop refuses call_soon_threadsafe): nothing left to release there

    assert not live_tenant._closing  # no close of the pool was scheduled anywhere
    assert not server.upstream.is_closed
    # It was not marked retired either: a request that still held it would be served, not refused.
    assert asyncio.run(serving_is_allowed(server)) is True


# Real servers: eviction during a call, and isolation between tenants.


@pytest.mark.parametrize("evict", ["invalidate", "lru"])
async def test_evicting_a_server_lets_a_call_in_flight_finish_then_closes_its_pool(
    evict, make_cache, loader, real_servers, fake_oneapp
):
    fake_oneapp.reply("/core/sucursales", body=[{"id": 1, "nombre": "Centro"}], delay=0.5)
    loader.tenants["acme"] = settings_for("acme", fake_oneapp.url)
    loader.tenants["globex"] = settings_for("globex", fake_oneapp.url)
    cache = make_cache(build=real_servers, max_entries=1)
    server = await cache.aget("acme")
    call = asyncio.create_task(handle(server, *tool_call("core_list_sucursales")))
    await eventually(lambda: len(fake_oneapp.received) == 1)  # the upstream call is under way

    if evict == "invalidate":
        cache.invalidate("acme")
    else:
        await cache.aget("globex")  # over the bound of 1: acme goes
    await asyncio.sleep(0)  # let the retirement run on this loop

    assert "acme" not in cache
    assert not server.upstream.is_closed  # still in use by the call
    status, _, body = await call
    assert status == 200
    result = tool_result(body)
    assert result["isError"] is False
    assert result["structuredContent"] == {"result": [{"id": 1, "nombre": "Centro"}]}
    await eventually(lambda: server.upstream.is_closed)
    with pytest.raises(Retired):
        await handle(server, *tool_call())
    assert await cache.aget("acme") is not server


@pytest.fixture
async def loader_connections_closed():
    """Outside a request nothing closes the loader thread's connection; PostgreSQL would keep it open."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def two_tenants(transactional_db, make_tenant, fake_oneapp: FakeOneApp) -> list[ClientConfig]:
    # Committed rows, so that the loader can read them from its own thread.
    return [
        make_tenant(
            client_id,
            core_base_url=fake_oneapp.url,
            client_base_url=fake_oneapp.url,
            authorization=f"Bearer token-of-{client_id}",
        )
        for client_id in ("acme", "globex")
    ]


@pytest.mark.usefixtures("loader_connections_closed")
async def test_two_tenants_never_share_a_pool_or_a_credential(
    two_tenants, make_cache, real_servers, fake_oneapp
):
    cache = make_cache(load=load_tenant, build=real_servers)

    acme = await cache.aget("acme")
    globex = await cache.aget("globex")
    for server in (acme, globex, acme):
        status, _, body = await handle(server, *tool_call("core_list_sucursales"))
        assert status == 200
        assert tool_result(body)["isError"] is False

    assert acme is not globex
    assert acme.upstream is not globex.upstream
    sent = [(request.headers["authorization"], request.headers["client"]) for request in fake_oneapp.received]
    assert sent == [
        ("Bearer token-of-acme", "acme"),
        ("Bearer token-of-globex", "globex"),
        ("Bearer token-of-acme", "acme"),
    ]


async def nobody(client_id: str) -> TenantSettings | None:
    return None


async def test_unknown_ids_leave_no_entry_build_or_stale_mark_behind():
    cache = TenantCache(nobody, ttl_seconds=300, max_entries=10)

    for n in range(200):
        assert await cache.aget(f"unknown{n}") is None

    assert len(cache) == 0
    assert cache._building == {}
    assert not cache._builds_in_flight
    assert cache._stale_builds == set()


async def test_a_change_during_a_build_still_marks_it_stale_and_the_mark_goes_with_the_build():
    loaded = []

    async def slow_load(client_id: str) -> TenantSettings | None:
        loaded.append(client_id)
        if len(loaded) == 1:
            cache.invalidate(client_id)  # the row changes while this build reads it
        return None

    cache = TenantCache(slow_load, ttl_seconds=300, max_entries=10)
    cache.invalidate("acme")  # no build in flight: nothing to mark
    assert cache._stale_builds == set()

    assert await cache.aget("acme") is None

    assert cache._stale_builds == set() and not cache._builds_in_flight
