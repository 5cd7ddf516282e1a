"""A client that has only a tenant's URL, end to end against uvicorn: the SDK's own OAuth provider finds
the authorization server from the 401, registers (DCR), sends the member through sign-in and consent
(scripted HTTP), or reads its Client ID Metadata Document (CIMD), and then lists and calls tools that reach the fake OneApp with the tenant's token."""

from __future__ import annotations

import httpx
import pytest
import urllib3
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from mcp.client.auth import OAuthFlowError
from oauth2_provider.cimd import SafeMetadataFetcher, _validate_client_id_url
from oauth2_provider.models import AccessToken, Application

from mcp_endpoint.audit_trail import audit_buffer
from tenants.audit import ToolCall
from tenants.models import Membership
from tests.helpers import CORE
from tests.oauth_member import PASSWORD, REDIRECT, Member, MemoryStorage, connect, provider


@pytest.fixture
def member(oneapp_tenant):
    user = User.objects.create_user("ana", password=PASSWORD)
    Membership.objects.create(user=user, tenant=oneapp_tenant)
    return user


async def test_a_member_signs_in_with_dcr_and_the_tools_reach_oneapp(live_server_url, member, fake_oneapp):
    fake_oneapp.reply(CORE + "/core/sucursales", body={"data": [{"id": 3}]})
    url = live_server_url + "/mcp/acme"
    ana = Member("ana")
    async with connect(url, provider(url, ana)) as client:
        tools = await client.list_tools()
        result = await client.call_tool("core_list_sucursales", {})

    assert "moai_visapp_foto" in {tool.name for tool in tools.tools}
    assert result.structured_content == {"data": [{"id": 3}]}
    [call] = fake_oneapp.received
    assert call.headers["authorization"] == "Bearer canary-upstream-token-7f3a9c1e2b"
    consent = ana.pages[-1].text
    assert "Tenant acme" in consent and "Test MCP client" in consent and REDIRECT in consent
    # The audit log names the member and the client that acted for them.
    assert await sync_to_async(audit_buffer().flush)() == 1
    row = await ToolCall.objects.aget()
    assert (row.caller_kind, row.caller, row.caller_name, row.caller_client) == (
        "oauth",
        str(member.pk),
        "ana",
        "Test MCP client",
    )


class LoopbackFetcher(SafeMetadataFetcher):
    """The toolkit's CIMD fetcher, with one difference: a document's https URL is read from the test's
    server on 127.0.0.1 (a test has no public https host). The URL checks and the document's are its own."""

    document_server = ""

    def fetch(self, client_id: str) -> tuple[dict, int]:
        parsed = _validate_client_id_url(client_id)
        with urllib3.PoolManager() as http:
            response = http.request("GET", self.document_server + parsed.path, preload_content=False)
            return self._read_document(response)


async def test_a_member_signs_in_with_a_client_id_metadata_document(
    live_server_url, member, fake_oneapp, settings
):
    client_id = "https://client.example.test/oauth/client.json"
    fake_oneapp.reply(
        "/oauth/client.json",
        body={
            "client_id": client_id,
            "client_name": "CIMD test client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    LoopbackFetcher.document_server = fake_oneapp.url
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CIMD_METADATA_FETCHER": f"{__name__}.LoopbackFetcher",
    }
    url = live_server_url + "/mcp/acme"
    ana = Member("ana")
    async with connect(url, provider(url, ana, client_metadata_url=client_id)) as client:
        result = await client.call_tool("core_list_sucursales", {})

    assert not result.is_error
    assert "CIMD test client" in ana.pages[-1].text
    assert await Application.objects.filter(client_id=client_id).aexists()
    assert not await Application.objects.exclude(client_id=client_id).aexists()  # no DCR


def refresh(live_server_url: str, refresh_token: str, client_id: str) -> httpx.Response:
    return httpx.post(
        live_server_url + "/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "resource": live_server_url + "/mcp/acme",
        },
    )


async def signed_in_storage(live_server_url: str) -> MemoryStorage:
    url = live_server_url + "/mcp/acme"
    storage = MemoryStorage()
    async with connect(url, provider(url, Member("ana"), storage=storage)) as client:
        await client.list_tools()
    assert storage.tokens is not None and storage.client_info is not None
    return storage


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_family(live_server_url, member):
    storage = await signed_in_storage(live_server_url)
    client_id = storage.client_info.client_id

    first = await sync_to_async(refresh)(live_server_url, storage.tokens.refresh_token, client_id)
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != storage.tokens.refresh_token
    assert rotated["scope"] == "read write"

    replay = await sync_to_async(refresh)(live_server_url, storage.tokens.refresh_token, client_id)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # Reuse protection: the stolen family's newest token is dead too.
    after = await sync_to_async(refresh)(live_server_url, rotated["refresh_token"], client_id)
    assert after.status_code == 400


async def test_a_removed_member_cannot_refresh(live_server_url, member):
    storage = await signed_in_storage(live_server_url)
    await Membership.objects.filter(user=member).adelete()

    response = await sync_to_async(refresh)(
        live_server_url, storage.tokens.refresh_token, storage.client_info.client_id
    )

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_a_non_member_gets_the_refusal_page_and_the_client_no_token(live_server_url, oneapp_tenant):
    await sync_to_async(User.objects.create_user)("eve", password=PASSWORD)
    url = live_server_url + "/mcp/acme"
    eve = Member("eve")
    refused = pytest.RaisesExc(OAuthFlowError, match="no redirect back to the client: the last page was 403")
    with pytest.RaisesGroup(refused, flatten_subgroups=True):
        async with connect(url, provider(url, eve)) as client:
            await client.list_tools()
    assert eve.pages[-1].status_code == 403
    assert "You are not a member of this OneApp client" in eve.pages[-1].text
    assert not await AccessToken.objects.filter(user__username="eve").aexists()
