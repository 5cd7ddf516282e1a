"""The SDK's own MCP client, pointed at our /mcp with a tenant's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import ACME_KEY

MODES = ["auto", "legacy"]  # the 2026-07-28 per-request revision, and the 2025 initialize handshake


@asynccontextmanager
async def connect(
    base_url: str,
    client_id: str = "acme",
    mode: str = "auto",
    headers: dict[str, str] | None = None,
    key: str = ACME_KEY,
    in_url: bool = False,
) -> AsyncIterator[Client]:
    """An MCP client session to our /mcp, as a configured client would open it; with `in_url`, to the
    tenant's own URL /mcp/<client_id>, without X-Client-ID."""
    tenant = {} if in_url else {"X-Client-ID": client_id}
    sent = {**tenant, "Authorization": f"Bearer {key}", **(headers or {})}
    url = f"{base_url}/mcp/{client_id}" if in_url else base_url + "/mcp"
    async with httpx2.AsyncClient(headers=sent) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client
