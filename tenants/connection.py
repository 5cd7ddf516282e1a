"""Test tenants' OneApp connections for staff: one real call each, with the saved credentials.

The call goes through `OneAppClient`, as a tool call would (same headers, timeout and redaction),
on a pool of its own that is closed afterwards: the cached MCP servers are left alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.template.defaultfilters import pluralize

from tenants.crypto import TokenDecryptionError
from tenants.models import ClientConfig, TenantSettings
from tenants.oneapp.client import OneAppClient, UpstreamError

logger = logging.getLogger(__name__)

PROBE_PATH = "/core/sucursales"  # read-only, needs no arguments, and every tenant has branches


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    tenant: ClientConfig
    ok: bool
    detail: str  # plain words, safe to show: never the token

    def __str__(self) -> str:
        return f"{self.tenant}: {'OK' if self.ok else 'FAILED'} — {self.detail}"


def check_connections(tenants: Sequence[ClientConfig]) -> list[ConnectionResult]:
    """Call OneApp for every tenant at once, so that N slow tenants take one timeout, not N."""
    results: dict[int, ConnectionResult] = {}
    ready: list[tuple[ClientConfig, TenantSettings]] = []
    for tenant in tenants:
        try:
            ready.append((tenant, tenant.snapshot()))
        except TokenDecryptionError:
            results[tenant.pk] = ConnectionResult(
                tenant,
                False,
                "the stored token cannot be decrypted (check TOKEN_ENCRYPTION_KEYS); OneApp was not called.",
            )
    for result in async_to_sync(_acheck_all)(ready):
        results[result.tenant.pk] = result
    return [results[tenant.pk] for tenant in tenants]


async def _acheck_all(ready: list[tuple[ClientConfig, TenantSettings]]) -> list[ConnectionResult]:
    return list(await asyncio.gather(*(acheck_connection(tenant, settings) for tenant, settings in ready)))


async def acheck_connection(tenant: ClientConfig, settings: TenantSettings) -> ConnectionResult:
    client = OneAppClient(settings)
    started = time.monotonic()
    try:
        # The client's timeout is one deadline for the whole call (it reports as UpstreamError).
        _, body = await client.request("GET", "core", PROBE_PATH, {})
    except UpstreamError as exc:
        return _failed(tenant, str(exc))  # already plain, and redacted of the token
    except Exception as exc:  # a diagnostic reports every failure rather than a 500
        return _failed(tenant, f"the call failed unexpectedly ({type(exc).__name__}).")
    finally:
        await client.aclose()
    ms = round((time.monotonic() - started) * 1000)
    logger.info("connection test tenant=%s ok=True ms=%d", tenant.client_id, ms)
    count = _list_length(body)
    if count is None:
        return ConnectionResult(tenant, True, f"OneApp answered in {ms} ms")
    return ConnectionResult(tenant, True, f"{count} sucursal{pluralize(count, 'es')} in {ms} ms")


def _failed(tenant: ClientConfig, detail: str) -> ConnectionResult:
    logger.info("connection test tenant=%s ok=False: %s", tenant.client_id, detail)
    return ConnectionResult(tenant, False, detail)


def _list_length(body: Any) -> int | None:
    """The length of a JSON list, or of the first list inside a JSON object ({"data": [...]})."""
    if isinstance(body, list):
        return len(body)
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list):
                return len(value)
    return None
