"""The 18 tools (mcp_endpoint/tools.py) end to end: the SDK's client, our /mcp under uvicorn, and a real
fake OneApp on 127.0.0.1; and what the adapter over the SDK's tool internals relies on (not exported by
`mcp.server.mcpserver`: an upgrade may change it without notice)."""

import asyncio
import json
from importlib.metadata import version
from pathlib import Path

import httpx2
import pytest
from asgiref.sync import sync_to_async
from mcp import MCPError
from pydantic import ValidationError

from mcp_endpoint.tools import TOOLS
from tenants.models import ClientConfig
from tenants.oneapp.catalog import CATALOG, TOOL_NAMES
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, GLOBEX_KEY, give_key
from tests.mcp_client import MODES, connect

pytestmark = pytest.mark.usefixtures("oneapp_tenant")


# tool, arguments, method, path, raw query, JSON body
CONTRACT = [
    ("core_list_sucursales", {}, "GET", CORE + "/core/sucursales", "", None),
    ("core_list_zonas", {}, "GET", CORE + "/core/zonas", "", None),
    ("core_list_zonas", {"zone_id": 3}, "GET", CORE + "/core/zonas", "zone_id=3", None),
    ("core_list_subgerencias", {}, "GET", CORE + "/core/subgerencias", "", None),
    ("core_list_zonas_by_subgerencia", {"id": 7}, "GET", CORE + "/core/subgerencias/7/zonas", "", None),
    ("core_list_sucursales_by_zona", {"zone_id": 4}, "GET", CORE + "/core/zonas/4/sucursales", "", None),
    ("checklist_list_checks", {}, "GET", "/front/api/checklist/data/checks", "", None),
    (
        "checklist_list_checks",
        {"page": 2, "limit": 10, "search": "aseo baño"},
        "GET",
        "/front/api/checklist/data/checks",
        "page=2&limit=10&search=aseo+ba%C3%B1o",
        None,
    ),
    (
        "checklist_list_ambitos",
        {"check_id": 5},
        "GET",
        "/front/api/checklist/data/ambitos",
        "check_id=5",
        None,
    ),
    (
        "checklist_list_ambitos",
        {"check_id": 5, "page": 1, "limit": 100},
        "GET",
        "/front/api/checklist/data/ambitos",
        "check_id=5&page=1&limit=100",
        None,
    ),
    (
        "checklist_list_preguntas",
        {"check_id": 5},
        "GET",
        "/front/api/checklist/data/preguntas",
        "check_id=5",
        None,
    ),
    (
        "checklist_list_cuestionarios",
        {"check_id": 5, "from_date": "2024-01-01", "end_date": "2024-01-31", "page": 3, "limit": 20},
        "GET",
        "/front/api/checklist/data/cuestionarios",
        "check_id=5&from_date=2024-01-01&end_date=2024-01-31&page=3&limit=20",
        None,
    ),
    (
        "checklist_list_asignaciones",
        {"cuestionario_id": 9, "limit": 3},
        "GET",
        "/front/api/checklist/data/asignaciones",
        "cuestionario_id=9&limit=3",
        None,
    ),
    (
        "checklist_list_respuestas",
        {"cuestionario_id": 9},
        "GET",
        "/front/api/checklist/data/respuestas",
        "cuestionario_id=9",
        None,
    ),
    (
        "checklist_list_respuestas",
        {"cuestionario_id": 9, "asignacion_id": 2, "page": 1, "limit": 5},
        "GET",
        "/front/api/checklist/data/respuestas",
        "cuestionario_id=9&asignacion_id=2&page=1&limit=5",
        None,
    ),
    ("visual_areas", {}, "GET", CORE + "/visual/area", "", None),
    ("visual_areas", {"area_id": 3}, "GET", CORE + "/visual/area", "id=3", None),
    ("visual_categorias", {"category_id": 8}, "GET", CORE + "/visual/category", "id=8", None),
    (
        "visual_area_categorias",
        {"areas_id": [1, 2, 3]},
        "GET",
        CORE + "/visual/category/areas",
        "areas=1,2,3",
        None,
    ),
    ("visual_razones", {}, "GET", CORE + "/visual/reason", "", None),
    ("visual_razones", {"reason_id": 6}, "GET", CORE + "/visual/reason", "reason_id=6", None),
    (
        "visual_area_categoria_razones",
        {"categories_id": [4, 5]},
        "GET",
        CORE + "/visual/reason/categories",
        "categories=4,5",
        None,
    ),
    (
        "moai_visapp_foto",
        {"foto_url": "https://img.example.test/a.jpg", "criterios": ["limpieza", "orden"]},
        "POST",
        CORE + "/visual/moai",
        "",
        {"foto_url": "https://img.example.test/a.jpg", "criterios": ["limpieza", "orden"]},
    ),
    ("moai_visapp_foto_info", {}, "GET", CORE + "/visual/moai", "", None),
]


def test_the_contract_table_covers_all_18_tools():
    assert {row[0] for row in CONTRACT} == set(TOOL_NAMES)
    assert len(TOOL_NAMES) == 18


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("tool", "arguments", "method", "path", "query", "body"), CONTRACT)
async def test_each_tool_sends_exactly_the_contract_request_upstream(
    live_server_url, fake_oneapp, mode, tool, arguments, method, path, query, body
):
    fake_oneapp.reply("*", body={"data": [{"id": 1, "nombre": "Sucursal Ñuñoa"}]})
    async with connect(live_server_url, mode=mode) as client:
        result = await client.call_tool(tool, arguments)

    assert result.is_error is False
    [received] = fake_oneapp.received
    assert (received.method, received.path, received.query) == (method, path, query)
    assert received.headers["content-type"] == "application/json"
    assert received.headers["authorization"] == CANARY_TOKEN
    assert received.headers["client"] == "acme"
    assert (received.json() if received.body else None) == body
    assert json.loads(result.content[0].text) == {"data": [{"id": 1, "nombre": "Sucursal Ñuñoa"}]}
    assert result.structured_content == {"data": [{"id": 1, "nombre": "Sucursal Ñuñoa"}]}


async def test_a_json_array_is_returned_as_text_and_wrapped_as_structured_content(
    live_server_url, fake_oneapp
):
    fake_oneapp.reply(CORE + "/core/sucursales", body=[{"id": 1}, {"id": 2}])
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert json.loads(result.content[0].text) == [{"id": 1}, {"id": 2}]
    assert result.structured_content == {"result": [{"id": 1}, {"id": 2}]}


async def test_tenant_without_token_or_client_header_sends_neither(live_server_url, fake_oneapp):
    await ClientConfig.objects.filter(client_id="acme").aupdate(authorization="", client_header="")
    async with connect(live_server_url) as client:
        await client.call_tool("core_list_sucursales", {})
    [received] = fake_oneapp.received
    assert "authorization" not in received.headers and "client" not in received.headers


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_has_the_18_tools_with_spanish_descriptions_schemas_and_annotations(
    live_server_url, mode
):
    async with connect(live_server_url, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert sorted(tools) == sorted(TOOL_NAMES)
    assert tools["core_list_sucursales"].description == (
        "Obtiene la lista completa de sucursales registradas para el cliente autenticado."
    )
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.annotations.read_only_hint is (tool.name != "moai_visapp_foto")
    limit = tools["checklist_list_checks"].input_schema["properties"]["limit"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)
    assert tools["checklist_list_cuestionarios"].input_schema["required"] == [
        "check_id",
        "from_date",
        "end_date",
    ]


@pytest.mark.parametrize(
    ("tool", "arguments", "complaint"),
    [
        ("core_list_zonas_by_subgerencia", {}, "id: required"),
        ("core_list_zonas_by_subgerencia", {"id": "siete"}, "id: must be an integer ≥ 1"),
        ("core_list_zonas_by_subgerencia", {"id": -1}, "id: must be an integer ≥ 1"),
        ("core_list_zonas_by_subgerencia", {"id": True}, "id: must be an integer ≥ 1"),
        ("checklist_list_checks", {"page": 0}, "page: must be an integer from 1 to 1000000"),
        ("checklist_list_checks", {"limit": 0}, "limit: must be an integer from 1 to 100"),
        ("checklist_list_checks", {"limit": 101}, "limit: must be an integer from 1 to 100"),
        ("checklist_list_checks", {"search": "x" * 201}, "search: must be at most 200 characters"),
        ("checklist_list_checks", {"pgae": 2}, "pgae: unknown argument"),
        (
            "checklist_list_cuestionarios",
            {"check_id": 1, "from_date": "01/02/2024", "end_date": "2024-02-01"},
            "from_date: must be a date YYYY-MM-DD",
        ),
        (
            "checklist_list_cuestionarios",
            {"check_id": 1, "from_date": "2024-02-30", "end_date": "2024-03-01"},
            "real calendar date",
        ),
        (
            "checklist_list_cuestionarios",
            {"check_id": 1, "from_date": "2024-03-01", "end_date": "2024-02-01"},
            "must not be after",
        ),
        ("visual_area_categorias", {"areas_id": []}, "areas_id: must be a list of 1 to 100 items"),
        ("visual_area_categorias", {"areas_id": [1, "dos"]}, "areas_id[1]: must be an integer ≥ 1"),
        ("visual_area_categorias", {"areas_id": 5}, "areas_id: must be a list of 1 to 100 items"),
        ("moai_visapp_foto", {"foto_url": "ftp://x.test/a.jpg", "criterios": ["a"]}, "http:// or https://"),
        ("moai_visapp_foto", {"foto_url": "https://x.test/a.jpg"}, "criterios"),
        (
            "moai_visapp_foto",
            {"foto_url": "https://x.test/a.jpg", "criterios": [1]},
            "criterios[0]: must be text",
        ),
    ],
)
async def test_invalid_arguments_are_refused_with_a_clear_message_before_any_upstream_call(
    live_server_url, fake_oneapp, tool, arguments, complaint
):
    async with connect(live_server_url) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    assert complaint in result.content[0].text
    assert fake_oneapp.received == []


async def test_a_list_sent_as_a_json_string_is_accepted(live_server_url, fake_oneapp):
    # Some clients (Claude Desktop among them) send list arguments as JSON text.
    async with connect(live_server_url) as client:
        result = await client.call_tool("visual_area_categorias", {"areas_id": "[1, 2]"})
    assert result.is_error is False
    assert fake_oneapp.received[0].query == "areas=1,2"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            {"status": 401, "body": {"error": "token expired"}},
            'OneApp answered 401 Unauthorized: {"error": "token expired"}',
        ),
        (
            {"status": 502, "body": b"<html>Bad gateway</html>", "content_type": "text/html"},
            "OneApp answered 502 Bad Gateway: <html>Bad gateway</html>",
        ),
        (
            {"status": 200, "body": b"not json", "content_type": "text/plain"},
            "OneApp answered 200 with a body that is not JSON.",
        ),
    ],
)
async def test_upstream_faults_become_tool_errors(live_server_url, fake_oneapp, reply, message):
    fake_oneapp.reply(CORE + "/core/sucursales", **reply)
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert result.is_error is True
    assert result.content[0].text == f"Error executing tool core_list_sucursales: {message}"


async def test_an_upstream_timeout_becomes_a_tool_error_naming_the_timeout(live_server_url, fake_oneapp):
    await ClientConfig.objects.filter(client_id="acme").aupdate(http_timeout_ms=200)
    fake_oneapp.reply(CORE + "/core/sucursales", delay=1.0)
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert result.is_error is True
    assert "OneApp did not answer within 200 ms." in result.content[0].text


async def test_an_unreachable_upstream_becomes_a_tool_error(live_server_url, fake_oneapp):
    fake_oneapp.stop()
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert result.is_error is True
    assert "Could not connect to OneApp at 127.0.0.1:" in result.content[0].text
    assert "connection refused" in result.content[0].text


async def test_a_changed_token_is_used_by_the_next_call(live_server_url, fake_oneapp):
    async with connect(live_server_url) as client:
        await client.call_tool("core_list_sucursales", {})
        tenant = await ClientConfig.objects.aget(client_id="acme")
        tenant.authorization = "Bearer rotated-token"
        await tenant.asave()
        await client.call_tool("core_list_sucursales", {})
    assert [r.headers["authorization"] for r in fake_oneapp.received] == [
        CANARY_TOKEN,
        "Bearer rotated-token",
    ]


async def test_a_tenant_disabled_while_cached_is_refused_at_once(live_server_url):
    async with connect(live_server_url) as client:
        await client.list_tools()
    tenant = await ClientConfig.objects.aget(client_id="acme")
    tenant.enabled = False
    await tenant.asave()
    async with httpx2.AsyncClient() as http:
        response = await http.post(live_server_url + "/mcp", headers={"X-Client-ID": "acme"}, json={})
    assert response.status_code == 403
    assert response.json()["code"] == "UNKNOWN_CLIENT"


async def test_two_tenants_never_share_a_server_or_a_credential(live_server_url, fake_oneapp, make_tenant):
    globex = await sync_to_async(make_tenant)(
        "globex",
        core_base_url=fake_oneapp.url + CORE,
        client_base_url=fake_oneapp.url,
        authorization="Bearer globex",
    )
    await sync_to_async(give_key)(globex, GLOBEX_KEY)
    keys = {"acme": ACME_KEY, "globex": GLOBEX_KEY}

    async def call(client_id: str) -> None:
        async with connect(live_server_url, client_id=client_id, key=keys[client_id]) as client:
            await client.call_tool("core_list_sucursales", {})

    await asyncio.gather(*(call(client_id) for client_id in ["acme", "globex"] * 5))
    sent = {(r.headers["client"], r.headers["authorization"]) for r in fake_oneapp.received}
    assert sent == {("acme", CANARY_TOKEN), ("globex", "Bearer globex")}


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_outside_the_allow_list_is_absent_and_refused_as_unknown(
    live_server_url, fake_oneapp, mode
):
    tenant = await ClientConfig.objects.aget(client_id="acme")
    tenant.allowed_tools = ["core_list_zonas", "moai_visapp_foto"]
    tenant.read_only = True
    await tenant.asave()
    async with connect(live_server_url, mode=mode) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        with pytest.raises(MCPError) as refused:
            await client.call_tool("core_list_sucursales", {})
        with pytest.raises(MCPError) as writing:
            await client.call_tool(
                "moai_visapp_foto", {"foto_url": "https://x.test/a.jpg", "criterios": ["a"]}
            )
        with pytest.raises(MCPError) as absent:
            await client.call_tool("no_such_tool", {})
    assert names == ["core_list_zonas"]
    # Hidden tools are refused exactly as a tool that does not exist (-32602, invalid params).
    assert (refused.value.error.code, refused.value.error.message) == (
        -32602,
        "Unknown tool: core_list_sucursales",
    )
    assert (writing.value.error.code, writing.value.error.message) == (
        -32602,
        "Unknown tool: moai_visapp_foto",
    )
    assert absent.value.error.code == -32602
    assert fake_oneapp.received == []


SERVED = {tool.name: tool for tool in TOOLS}
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"


def test_the_installed_sdk_is_the_pinned_one_the_adapter_was_checked_against():
    pinned = next(line for line in REQUIREMENTS.read_text().splitlines() if line.startswith("mcp=="))
    assert version("mcp") == pinned.removeprefix("mcp==") == "2.3.0", (
        "The MCP SDK changed: re-check mcp_endpoint/tools.py (FuncMetadata, ArgModelBase), then update this pin."
    )


def test_every_catalog_tool_is_served_with_its_own_schema_and_argument_model():
    assert list(SERVED) == [spec.name for spec in CATALOG]
    for spec in CATALOG:
        tool = SERVED[spec.name]
        assert tool.parameters == spec.arguments.model_json_schema(by_alias=True)
        assert set(tool.fn_metadata.arg_model.model_fields) == set(spec.arguments.model_fields)


def test_the_sdk_validates_with_the_catalog_rules_unknown_arguments_included():
    metadata = SERVED["core_list_sucursales_by_zona"].fn_metadata
    assert metadata.validate_arguments({"zone_id": 7}) == {"zone_id": 7}
    for refused in ({"zone_id": 0}, {"zone_id": True}, {"zone_id": 7, "zona": 7}, {}):
        with pytest.raises(ValidationError):
            metadata.validate_arguments(refused)


def test_the_sdk_decodes_a_list_sent_as_a_json_string_as_clients_send_them():
    metadata = SERVED["visual_area_categorias"].fn_metadata
    assert metadata.validate_arguments({"areas_id": "[1, 2]"}) == {"areas_id": [1, 2]}
