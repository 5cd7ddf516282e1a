"""tools/list answers replayed (mcp_endpoint/list_replay.py), over real HTTP: the same bytes as the
SDK's own answer with the request's id, per allow-list and protocol version, and the SDK still
answering what is not replayed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mcp_endpoint import list_replay, tracing
from tests.helpers import ACME_KEY, GLOBEX_KEY, give_key

ERAS = ["2026-07-28", "2025-11-25", "2025-06-18"]
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def list_tools(
    url: str, era: str, request_id: Any, client_id: str = "acme", key: str = ACME_KEY, **params: Any
) -> httpx.Response:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "X-Client-ID": client_id,
        "Authorization": f"Bearer {key}",
        "MCP-Protocol-Version": era,
    }
    if era == "2026-07-28":
        headers["Mcp-Method"] = "tools/list"
        params["_meta"] = MODERN_META
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}
    response = httpx.post(url + "/mcp", content=json.dumps(body), headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


def with_id(body: bytes, request_id: Any, era: str) -> bytes:
    """`body` with another id, encoded as each era's SDK entry encodes (2026: json.dumps; else pydantic)."""
    encoded = json.dumps(request_id, ensure_ascii=era == "2026-07-28", separators=(",", ":")).encode()
    head, _, rest = body.partition(b',"result":')
    return head.rsplit(b'"id":', 1)[0] + b'"id":' + encoded + b',"result":' + rest


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("era", ERAS)
def test_a_replayed_list_is_the_sdks_answer_byte_for_byte_under_its_own_id(live_server_url, era):
    first = list_tools(live_server_url, era, 1)  # answered by the SDK, and kept
    assert len(list_replay._results) == 1

    for request_id in (2, "req-é", 1):
        again = list_tools(live_server_url, era, request_id)
        assert again.content == with_id(first.content, request_id, era)
        assert again.json()["id"] == request_id
    assert len(list_replay._results) == 1  # nothing new was kept: the SDK was not asked again


@pytest.mark.usefixtures("oneapp_tenant")
def test_each_protocol_version_keeps_its_own_answer(live_server_url):
    modern = list_tools(live_server_url, "2026-07-28", 1).json()["result"]
    handshake = list_tools(live_server_url, "2025-06-18", 1).json()["result"]

    assert len(list_replay._results) == 2
    assert modern["resultType"] == "complete" and "_meta" in modern  # the 2026 stamp
    assert "resultType" not in handshake
    assert list_tools(live_server_url, "2025-06-18", 2).json()["result"] == handshake
    assert list_tools(live_server_url, "2026-07-28", 2).json()["result"] == modern


def test_tenants_with_different_tools_never_get_each_others_list(live_server_url, oneapp_tenant, make_tenant):
    narrow = make_tenant(
        "globex",
        core_base_url=oneapp_tenant.core_base_url,
        client_base_url=oneapp_tenant.client_base_url,
        allowed_tools=["core_list_sucursales"],
    )
    give_key(narrow, GLOBEX_KEY)

    for request_id in (1, 2):  # the second round is replayed
        everything = list_tools(live_server_url, "2026-07-28", request_id).json()["result"]["tools"]
        one = list_tools(live_server_url, "2026-07-28", request_id, "globex", GLOBEX_KEY).json()["result"]
        assert [tool["name"] for tool in one["tools"]] == ["core_list_sucursales"]
        assert len(everything) == 18


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("era", ["2026-07-28", "2025-06-18"])
def test_a_list_with_a_cursor_is_answered_by_the_sdk_and_not_kept(live_server_url, era):
    response = list_tools(live_server_url, era, 1, cursor="abc")

    assert "result" in response.json() or "error" in response.json()
    assert list_replay._results == {}


def test_nothing_is_replayed_while_tracing_so_traces_keep_the_sdks_spans(monkeypatch):
    monkeypatch.setattr(tracing, "active", lambda: True)

    assert list_replay.key_of("tools/list", None, "2026-07-28") is None
    assert list_replay.key_of("tools/list", {"_meta": MODERN_META}, "2026-07-28") is None
