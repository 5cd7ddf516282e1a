"""The SDK's own MCP client, pointed at our /mcp with a tenant's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

MODES = ["auto", "legacy"]  # the 2026-07-28 per-request revision, and the 2025 initialize handshake


@asynccontextmanager
async def connect(
    base_url: str, client_id: str = "acme", mode: str = "auto", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"X-Client-ID": client_id, **(headers or {})}) as http:
        transport = streamable_http_client(base_url + "/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client
