"""Prometheus metrics of /mcp, and the /metrics view that exposes them.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR to an empty directory shared by the
workers (prometheus-client's multiprocess mode); /metrics then sums every worker's values.
Tenant labels only ever carry configured client ids, never a raw header value.
"""

from __future__ import annotations

import ipaddress
import os
import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from mcp_endpoint.exchange import bearer_credential

REQUESTS = Counter("oneapp_mcp_requests", "Requests to /mcp by outcome.", ["outcome"])
TOOL_CALLS = Counter(
    "oneapp_mcp_tool_calls", "Tool calls by tenant, tool and outcome.", ["tenant", "tool", "outcome"]
)
UPSTREAM_SECONDS = Histogram(
    "oneapp_mcp_upstream_seconds",
    "Time of one OneApp call, by tool.",
    ["tool"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_EVENTS = Counter(
    "oneapp_mcp_server_cache",
    "Tenant cache hits, misses, absent ids remembered, builds and evictions.",
    ["event"],
)
AUDIT_RECORDS = Counter(
    "oneapp_mcp_audit_records",
    "Audit log records: written, or dropped because the buffer was full or the database failed.",
    ["result"],
)
CACHED_TENANTS = Gauge(
    "oneapp_mcp_cached_tenants", "Tenants whose MCP server is cached.", multiprocess_mode="livesum"
)
LIMITS_UNCOUNTED = Counter(
    "oneapp_mcp_limits_uncounted",
    "Limit checks that Redis could not answer, whose requests were served uncounted (fail open).",
)

# Bound once: a labelled child costs a dict lookup per use, these are on every request.
CACHE_HIT = CACHE_EVENTS.labels("hit")
CACHE_MISS = CACHE_EVENTS.labels("miss")
CACHE_ABSENT = CACHE_EVENTS.labels("absent")  # a miss answered from the memory of an absent tenant
CACHE_BUILD = CACHE_EVENTS.labels("build")
CACHE_EVICTION = CACHE_EVENTS.labels("eviction")
AUDIT_WRITTEN = AUDIT_RECORDS.labels("written")
AUDIT_DROPPED_FULL = AUDIT_RECORDS.labels("dropped_buffer_full")
AUDIT_DROPPED_DATABASE = AUDIT_RECORDS.labels("dropped_database")


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _allowed(request: HttpRequest) -> bool:
    """From an allowed network (METRICS_ALLOWED_NETWORKS), or with the METRICS_TOKEN bearer token."""
    token = settings.METRICS_TOKEN
    if token:
        presented = bearer_credential(request.headers.get("Authorization")) or ""
        if secrets.compare_digest(presented.encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    # On a dual-stack socket (uvicorn --host ::) IPv4 clients arrive as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
