"""Micro-benchmarks of tenant resolution: a cache hit, and a cold build. Prints JSON.

Runs against the database configured in the environment (bench/run.py prepares one).
"""

from __future__ import annotations

import json
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")
django.setup()

from asgiref.sync import async_to_sync  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mcp_endpoint.cache import ServerCache, load_tenant  # noqa: E402

HITS = 100_000
COLD_BUILDS = 200


async def measure() -> dict[str, float]:
    cache = ServerCache(load_tenant, ttl_seconds=300, max_entries=1000)
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
    cache.clear()
    return {"hit_us": hit_us, "cold_ms": statistics.median(cold) * 1000}


def queries_of(hits: int) -> int:
    """Database queries made by one cold build followed by `hits` cache hits."""

    async def build_then_hit() -> None:
        cache = ServerCache(load_tenant, ttl_seconds=300, max_entries=1000)
        for _ in range(1 + hits):
            await cache.aget("acme")
        cache.clear()

    # async_to_sync runs the ORM's sync part on this thread, on the connection counted here.
    with CaptureQueriesContext(connection) as queries:
        async_to_sync(build_then_hit)()
    return len(queries)


def main() -> None:
    results = async_to_sync(measure)()
    results["cold_queries"] = queries_of(0)
    results["hit_queries"] = queries_of(1) - results["cold_queries"]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
