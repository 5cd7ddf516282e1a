"""Micro-benchmarks of tenant resolution: a cache hit, a cold build, and memory with many tenants.

Runs against the database configured in the environment (bench/run.py prepares one). Prints JSON.
With BENCH_UPSTREAM set (a fast fake OneApp), also the resident memory of a cached tenant that
holds an idle keep-alive connection to it, as a tenant in steady service does.
Usage: python bench/micro.py [TENANTS]
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")
django.setup()

from asgiref.sync import async_to_sync, sync_to_async  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mcp_endpoint.cache import TenantCache, load_tenant  # noqa: E402
from tenants.models import ClientConfig  # noqa: E402

HITS = 100_000
COLD_BUILDS = 200
MAX_ENTRIES = 1000


async def resolution_times() -> dict[str, float]:
    cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=MAX_ENTRIES)
    await cache.aget("acme")
    started = time.perf_counter()
    for _ in range(HITS):
        await cache.aget("acme")
    hit_us = (time.perf_counter() - started) / HITS * 1e6

    cold = []
    for _ in range(COLD_BUILDS):
        cache.invalidate("acme")
        started = time.perf_counter()
        await cache.aget("acme")
        cold.append(time.perf_counter() - started)
    await cache.aclose()
    return {"hit_us": hit_us, "cold_ms": statistics.median(cold) * 1000}


def queries_of(hits: int) -> int:
    """Database queries made by one cold build followed by `hits` cache hits."""

    async def build_then_hit() -> None:
        cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=MAX_ENTRIES)
        for _ in range(1 + hits):
            await cache.aget("acme")
        await cache.aclose()

    # async_to_sync runs the ORM's sync part on this thread, on the connection counted here.
    with CaptureQueriesContext(connection) as queries:
        async_to_sync(build_then_hit)()
    return len(queries)


@sync_to_async
def configure_tenants(count: int) -> list[str]:
    ids = [f"t{n:05d}" for n in range(count)]
    ClientConfig.objects.bulk_create(
        [ClientConfig(client_id=i, name=i, authorization=f"Bearer token-{i}", client_header=i) for i in ids],
        batch_size=1000,
    )
    return ids


async def memory_with_many_tenants(count: int) -> dict[str, float]:
    """Serve `count` tenants through a cache of MAX_ENTRIES: memory must stop growing at the cap."""
    ids = await configure_tenants(count)
    cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=MAX_ENTRIES)
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    for client_id in ids[:MAX_ENTRIES]:
        await cache.aget(client_id)
    await asyncio.sleep(0.05)
    gc.collect()
    at_cap = tracemalloc.get_traced_memory()[0] - baseline
    for client_id in ids[MAX_ENTRIES:]:
        await cache.aget(client_id)
    await asyncio.sleep(0.2)  # let the retired servers close
    gc.collect()
    after_all = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    cached = len(cache)
    await cache.aclose()
    return {
        "tenants": count,
        "max_entries": MAX_ENTRIES,
        "cached_after": cached,
        "bytes_per_tenant": at_cap / MAX_ENTRIES,
        "mib_at_cap": at_cap / 2**20,
        "mib_after_all": after_all / 2**20,
    }


def rss_bytes() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def resident_memory_per_connected_tenant(upstream: str, count: int = 500) -> dict[str, float]:
    """RSS growth per cached tenant after one OneApp call each, whose connection stays open and idle."""
    ids = await sync_to_async(_tenants_at)(upstream, count)
    cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=count)

    async def call(client_id: str) -> None:
        live = await cache.aget(client_id)
        assert live is not None
        await live.upstream.request("GET", "core", "/core-api/core/sucursales", {})

    await call(ids[0])  # imports, first-use caches and the TLS context are not per tenant
    gc.collect()
    before = rss_bytes()
    for client_id in ids[1:]:
        await call(client_id)
    gc.collect()
    grown = rss_bytes() - before
    await cache.aclose()
    return {"connected_tenants": count - 1, "rss_bytes_per_connected_tenant": grown / (count - 1)}


def _tenants_at(upstream: str, count: int) -> list[str]:
    ids = [f"c{n:05d}" for n in range(count)]
    ClientConfig.objects.bulk_create(
        [
            ClientConfig(
                client_id=i,
                name=i,
                core_base_url=upstream,
                client_base_url=upstream,
                authorization=f"Bearer token-{i}",
                client_header=i,
            )
            for i in ids
        ],
        batch_size=1000,
    )
    return ids


def main() -> None:
    tenants = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    results = async_to_sync(resolution_times)()
    results["cold_queries"] = queries_of(0)
    results["hit_queries"] = queries_of(1) - results["cold_queries"]
    if upstream := os.environ.get("BENCH_UPSTREAM"):  # first: RSS only grows, so measure it on a fresh heap
        results.update(async_to_sync(resident_memory_per_connected_tenant)(upstream))
    results.update(async_to_sync(memory_with_many_tenants)(tenants))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
