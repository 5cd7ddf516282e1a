"""Answers a model can use (issue 14), over real HTTP in both protocol eras: complete tool metadata,
the project's version and only the capabilities served, clean JSON-RPC errors for what is not
served, and short validation errors that say what to send."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenants.oneapp.catalog import CATALOG
from tests.helpers import ACME_KEY, CORE

pytestmark = pytest.mark.usefixtures("oneapp_tenant")

ERAS = ["2026-07-28", "2025-11-25"]
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
PROJECT_VERSION = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"][
    "version"
]


def rpc(url: str, era: str, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
    """One JSON-RPC request to /mcp as tenant acme, in the given protocol era (stateless)."""
    params = dict(params or {})
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "X-Client-ID": "acme",
        "Authorization": f"Bearer {ACME_KEY}",
        "MCP-Protocol-Version": era,
    }
    if era == "2026-07-28":
        headers["Mcp-Method"] = method
        if "name" in params or "uri" in params:
            headers["Mcp-Name"] = params.get("name") or params["uri"]
        params["_meta"] = MODERN_META
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return httpx.post(url + "/mcp", content=json.dumps(body), headers=headers, timeout=30)


def call(url: str, era: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    response = rpc(url, era, "tools/call", {"name": tool, "arguments": arguments})
    assert response.status_code == 200, response.text
    return response.json()["result"]


# 1. Tool metadata


@pytest.mark.parametrize("era", ERAS)
def test_every_tool_has_a_title_and_all_four_annotation_hints_on_the_wire(live_server_url, era):
    tools = rpc(live_server_url, era, "tools/list").json()["result"]["tools"]

    assert [tool["name"] for tool in tools] == [spec.name for spec in CATALOG]
    for tool, spec in zip(tools, CATALOG, strict=True):
        assert tool["title"] == spec.title and tool["title"].strip()
        hints = tool["annotations"]
        assert set(hints) >= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
        assert all(isinstance(hints[name], bool) for name in hints if name.endswith("Hint"))
        assert hints["readOnlyHint"] is (spec.name != "moai_visapp_foto")
        assert hints["destructiveHint"] is False  # nothing deletes or overwrites
        assert hints["openWorldHint"] is True  # OneApp is outside this server


def test_titles_are_distinct_and_not_the_names():
    titles = [spec.title for spec in CATALOG]
    assert len(set(titles)) == len(titles)
    assert all(spec.title != spec.name and "_" not in spec.title for spec in CATALOG)


# 2. Version and capabilities


def test_the_handshake_answers_the_project_version_and_only_the_tools_capability(live_server_url):
    initialize = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    result = rpc(live_server_url, "2025-11-25", "initialize", initialize).json()["result"]

    assert result["serverInfo"] == {"name": "oneapp-mcp", "version": PROJECT_VERSION}
    assert PROJECT_VERSION  # and it is not empty
    assert set(result["capabilities"]) == {"tools"}


def test_discovery_answers_the_project_version_and_only_the_tools_capability(live_server_url):
    result = rpc(live_server_url, "2026-07-28", "server/discover").json()["result"]

    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"] == PROJECT_VERSION
    assert set(result["capabilities"]) == {"tools"}


# 3. Protocol edges


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("prompts/get", {"name": "no-such-prompt"}),
        ("prompts/list", {}),
        ("resources/read", {"uri": "file:///etc/passwd"}),
        ("resources/list", {}),
        ("resources/templates/list", {}),
        ("no/such/method", {}),
    ],
)
def test_what_is_not_served_is_method_not_found_without_a_traceback(
    live_server_url, caplog, era, method, params
):
    caplog.set_level(logging.INFO)

    response = rpc(live_server_url, era, method, params)

    assert response.json()["error"]["code"] == -32601
    assert response.status_code == (404 if era == "2026-07-28" else 200)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]


@pytest.mark.parametrize("era", ERAS)
def test_a_tools_call_without_a_name_is_invalid_params(live_server_url, caplog, era):
    response = rpc(live_server_url, era, "tools/call", {"arguments": {}})

    assert response.json()["error"]["code"] == -32602
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]


@pytest.mark.parametrize("era", ERAS)
def test_an_unknown_tool_is_invalid_params_without_a_traceback(live_server_url, caplog, era):
    # The spec (2025-06-18 and later, Tools, "Error Handling") makes an unknown tool a protocol
    # error, -32602; the SDK 2.3.0 alone answers a result with isError.
    caplog.set_level(logging.INFO)

    response = rpc(live_server_url, era, "tools/call", {"name": "no_such_tool", "arguments": {}})

    assert response.status_code == (400 if era == "2026-07-28" else 200)
    assert response.json()["error"] == {"code": -32602, "message": "Unknown tool: no_such_tool"}
    assert "result" not in response.json()
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING or record.exc_info]


# 4. Validation errors


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("tool", "arguments", "lines"),
    [
        ("core_list_sucursales_by_zona", {}, ["zone_id: required"]),
        ("core_list_sucursales_by_zona", {"zone_id": "x"}, ["zone_id: must be an integer ≥ 1"]),
        ("core_list_sucursales_by_zona", {"zone_id": 0}, ["zone_id: must be an integer ≥ 1"]),
        ("core_list_sucursales_by_zona", {"zone_id": True}, ["zone_id: must be an integer ≥ 1"]),
        ("core_list_sucursales_by_zona", {"zone_id": 1.5}, ["zone_id: must be an integer ≥ 1"]),
        (
            "core_list_sucursales_by_zona",
            {"zone_id": "x", "zona": 3},
            ["zone_id: must be an integer ≥ 1", "zona: unknown argument"],
        ),
        ("checklist_list_checks", {"limit": 500}, ["limit: must be an integer from 1 to 100"]),
        ("checklist_list_checks", {"search": 5}, ["search: must be text"]),
        ("checklist_list_checks", {"search": "x" * 201}, ["search: must be at most 200 characters"]),
        ("visual_area_categorias", {"areas_id": []}, ["areas_id: must be a list of 1 to 100 items"]),
        ("visual_area_categorias", {"areas_id": 3}, ["areas_id: must be a list of 1 to 100 items"]),
        ("visual_area_categorias", {"areas_id": [1, -2]}, ["areas_id[1]: must be an integer ≥ 1"]),
        (
            "checklist_list_cuestionarios",
            {"check_id": 1, "from_date": "31/01/2024", "end_date": "2024-02-30"},
            [
                "from_date: must be a date YYYY-MM-DD, e.g. 2024-01-31",
                "end_date: not a real calendar date; use YYYY-MM-DD, e.g. 2024-01-31",
            ],
        ),
        (
            "checklist_list_cuestionarios",
            {"check_id": 1, "from_date": "2024-02-01", "end_date": "2024-01-01"},
            ["from_date must not be after end_date"],
        ),
        (
            "moai_visapp_foto",
            {"foto_url": "ftp://x/y.jpg", "criterios": [""]},
            ["foto_url: must be an http:// or https:// URL", "criterios[0]: must not be empty"],
        ),
    ],
)
def test_validation_errors_are_one_short_line_per_problem(
    live_server_url, fake_oneapp, era, tool, arguments, lines
):
    result = call(live_server_url, era, tool, arguments)

    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text == f"Error executing tool {tool}: " + "\n".join(lines)
    assert "pydantic" not in text and "http" not in text.replace("http://", "").replace("https://", "")
    assert "validation error" not in text and "type=" not in text
    assert fake_oneapp.received == []  # nothing reached OneApp


@pytest.mark.parametrize("era", ERAS)
def test_a_numeric_string_is_accepted_for_an_integer_as_before(live_server_url, fake_oneapp, era):
    # pydantic's lax mode, as the README says: "3" is read as 3.
    result = call(live_server_url, era, "core_list_sucursales_by_zona", {"zone_id": "3"})

    assert "isError" not in result or result["isError"] is False
    assert fake_oneapp.received[-1].path == CORE + "/core/zonas/3/sucursales"
