"""A client that has only a tenant's URL, end to end against uvicorn: the SDK's own OAuth provider finds
the authorization server from the 401, registers (DCR), sends the member through sign-in and consent
(scripted HTTP), and then lists and calls tools that reach the fake OneApp with the tenant's token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tenants.models import Membership
from tests.helpers import CORE
from tests.oauth_member import PASSWORD, REDIRECT, Member, connect, provider


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
