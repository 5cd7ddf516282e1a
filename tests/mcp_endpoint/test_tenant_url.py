"""POST /mcp/<client_id> over real HTTP (mcp_endpoint/views.py): the tenant named by the URL, served through
the same front door as /mcp, with the contract's refusals and one of its own for a contradicting X-Client-ID."""

import json

import httpx
import pytest

from mcp_endpoint.cache import tenant_cache
from tenants.models import ClientConfig
from tests.helpers import ACME_KEY, CORE, INITIALIZE, JSON_HEADERS
from tests.mcp_client import MODES, connect

KEYED = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}"}
INVALID = b'{"error": "Client ID must contain only alphanumeric characters (a-z, 0-9).", "code": "INVALID_CLIENT_ID"}'
MISMATCH = (
    b'{"error": "The X-Client-ID header names another client than the URL /mcp/<client_id> does. '
    b'Send the same client id, or leave the header out.", "code": "CLIENT_ID_MISMATCH"}'
)


def unknown_in_url(client_id: str) -> bytes:
    return (
        b'{"error": "Unknown client ID: ' + client_id.encode() + b'. Check the client id in the URL.", '
        b'"code": "UNKNOWN_CLIENT"}'
    )


def post(url: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + path, headers={**KEYED, **(headers or {})}, content=json.dumps(INITIALIZE))


@pytest.mark.parametrize("mode", MODES)
async def test_the_sdk_client_reaches_oneapp_through_the_tenant_url_alone(
    live_server_url, oneapp_tenant, fake_oneapp, mode
):
    fake_oneapp.reply(CORE + "/core/sucursales", body={"data": [{"id": 7}]})
    async with connect(live_server_url, "acme", mode=mode, in_url=True) as client:
        tools = await client.list_tools()
        result = await client.call_tool("core_list_sucursales", {})

    assert "core_list_sucursales" in {tool.name for tool in tools.tools}
    assert result.structured_content == {"data": [{"id": 7}]}
    [call] = fake_oneapp.received
    assert (call.path, call.headers["authorization"]) == (
        CORE + "/core/sucursales",
        oneapp_tenant.authorization,
    )


@pytest.mark.parametrize(
    ("path", "headers", "status", "body"),
    [
        ("/mcp/ac-me", {}, 403, INVALID),
        ("/mcp/ACME", {}, 403, INVALID),  # a URL is taken as written: the ids are lowercase
        ("/mcp/" + "a" * 65, {}, 403, INVALID),
        ("/mcp/%20acme", {}, 403, INVALID),
        ("/mcp/nobody", {}, 403, unknown_in_url("nobody")),
        ("/mcp/acme", {"X-Client-ID": "globex"}, 400, MISMATCH),
        ("/mcp/acme", {"X-Client-ID": "acme,acme"}, 400, MISMATCH),
        ("/mcp/acme", {"X-Client-ID": "ac-me"}, 400, MISMATCH),
    ],
)
def test_the_tenant_url_refusals_reach_nothing(
    live_server_url, oneapp_tenant, fake_oneapp, path, headers, status, body
):
    response = post(live_server_url, path, headers)

    assert (response.status_code, response.content) == (status, body)
    assert response.headers["content-type"] == "application/json"
    assert fake_oneapp.received == []
    assert len(tenant_cache()) == 0


@pytest.mark.parametrize("header", ["acme", "ACME", ""])
def test_an_x_client_id_naming_the_same_tenant_or_nothing_is_accepted(live_server_url, oneapp_tenant, header):
    response = post(live_server_url, "/mcp/acme", {"X-Client-ID": header})
    assert response.status_code == 200
    assert response.json()["result"]["serverInfo"]["name"] == "oneapp-mcp"


def test_a_disabled_tenant_is_an_unknown_client_at_its_url(live_server_url, oneapp_tenant):
    ClientConfig.objects.filter(client_id="acme").update(enabled=False)
    response = post(live_server_url, "/mcp/acme")
    assert (response.status_code, response.content) == (403, unknown_in_url("acme"))


def test_the_tenant_url_without_a_credential_is_401(live_server_url, oneapp_tenant):
    response = httpx.post(live_server_url + "/mcp/acme", headers=JSON_HEADERS, content=json.dumps(INITIALIZE))
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/mcp/acme/", "/mcp/acme/x"])
def test_deeper_paths_are_not_tenant_urls(live_server_url, oneapp_tenant, path):
    assert post(live_server_url, path).status_code == 404


async def test_the_django_routed_view_serves_the_tenant_url_too(async_client, oneapp_tenant):
    response = await async_client.post(
        "/mcp/acme",
        data=json.dumps(INITIALIZE),
        content_type="application/json",
        headers={"Accept": JSON_HEADERS["Accept"], "Authorization": f"Bearer {ACME_KEY}"},
    )
    assert response.status_code == 200
