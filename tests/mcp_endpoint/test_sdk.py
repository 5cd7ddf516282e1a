"""Protocol requests the server does not serve get a prompt JSON-RPC error, never an open-ended wait."""

import json

import httpx
import pytest

from tests.helpers import ACME_KEY

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.mark.usefixtures("oneapp_tenant")
def test_a_subscriptions_listen_request_is_refused_as_an_unknown_method_not_held_open(live_server_url):
    # Served, a listen stream would never end: the SDK is handed a body, not a connection, so it
    # would never hear the client hang up.
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "subscriptions/listen",
        "params": {"_meta": MODERN_META, "notifications": {"toolsListChanged": True}},
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
        "X-Client-ID": "acme",
        "Authorization": f"Bearer {ACME_KEY}",
    }

    response = httpx.post(live_server_url + "/mcp", content=json.dumps(body), headers=headers, timeout=10)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601  # method not found
