"""What staff may ask of this worker's serving side, without `tenants` importing it.

`mcp_endpoint` registers how to answer when it starts. Dropping a tenant's cached state needs no
such hook: it follows every recorded change (tenants/signals.py), in every worker.
"""

from __future__ import annotations

from collections.abc import Callable

_cached_since: Callable[[str], float | None] = lambda client_id: None  # noqa: E731 - nothing serves yet


def register(cached_since: Callable[[str], float | None]) -> None:
    """Set how to tell since when (epoch seconds) this worker holds a tenant, or None if it does not."""
    global _cached_since
    _cached_since = cached_since


def cached_since(client_id: str) -> float | None:
    return _cached_since(client_id)
