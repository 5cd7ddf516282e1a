"""OAuth access tokens at a tenant's URL (mcp_endpoint/bearer.py) over real HTTP: the 401 challenge that
starts a client's sign-in, and every way a token is refused; then what a token's scopes let it do, and
that a warm token is checked without any database query."""

from __future__ import annotations

import hashlib
import json
import time

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import AccessToken

from mcp_endpoint.cache import tenant_cache
from tenants.models import ClientConfig, Membership
from tests.helpers import ACME_KEY, CALL_TOOL, CORE, INITIALIZE, JSON_HEADERS, give_key
from tests.live_server import UvicornProcess
from tests.oauth_member import PASSWORD, issue_token

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
WRITE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "moai_visapp_foto",
        "arguments": {"foto_url": "https://x.test/a.jpg", "criterios": ["a"]},
    },
}


@pytest.fixture
def ana(oneapp_tenant):
    user = User.objects.create_user("ana", password=PASSWORD)
    Membership.objects.create(user=user, tenant=oneapp_tenant)
    return user


def token_for(user, url: str, client_id: str = "acme", **options) -> str:
    return issue_token(user, f"{url}/mcp/{client_id}", **options)


def post(url: str, token: str | None, body: dict = CALL_TOOL, path: str = "/mcp/acme", **headers: str):
    sent = {**JSON_HEADERS, **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.post(url + path, headers=sent, content=json.dumps(body))


def challenge(url: str, error: bool) -> str:
    prefix = 'error="invalid_token",' if error else ""
    return f'Bearer {prefix}scope="read write",resource_metadata="{url}/.well-known/oauth-protected-resource/mcp/acme"'


def assert_refused_token(response: httpx.Response, url: str, fake_oneapp) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge(url, error=True)
    assert response.json()["code"] == "INVALID_TOKEN"
    assert fake_oneapp.received == []


def test_no_credential_gets_the_challenge_that_starts_a_sign_in(live_server_url, oneapp_tenant, fake_oneapp):
    response = post(live_server_url, None, INITIALIZE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge(live_server_url, error=False)
    assert response.json()["code"] == "AUTHENTICATION_REQUIRED"


def test_the_challenge_names_the_public_origin_when_one_is_set(live_server_url, oneapp_tenant, settings):
    settings.PUBLIC_BASE_URL = "https://mcp.example.com"
    response = post(live_server_url, None, INITIALIZE)
    assert challenge("https://mcp.example.com", error=False) == response.headers["www-authenticate"]


def test_a_valid_token_reaches_oneapp_with_the_tenants_token(live_server_url, ana, fake_oneapp):
    response = post(live_server_url, token_for(ana, live_server_url))
    assert response.status_code == 200, response.text
    assert fake_oneapp.received[0].headers["authorization"] == ClientConfig.objects.get().authorization


@pytest.mark.parametrize("token", ["not-a-token", "x" * 2000])
def test_an_unknown_token_is_refused(live_server_url, ana, fake_oneapp, token):
    assert_refused_token(post(live_server_url, token), live_server_url, fake_oneapp)


def test_an_expired_token_is_refused(live_server_url, ana, fake_oneapp):
    token = token_for(ana, live_server_url, seconds=-1)
    assert_refused_token(post(live_server_url, token), live_server_url, fake_oneapp)


def test_a_token_for_another_tenant_is_refused(live_server_url, ana, make_tenant, fake_oneapp):
    globex = make_tenant("globex")
    Membership.objects.create(user=ana, tenant=globex)
    token = token_for(ana, live_server_url, "globex")
    assert post(live_server_url, token, path="/mcp/globex", body=INITIALIZE).status_code == 200
    assert_refused_token(post(live_server_url, token), live_server_url, fake_oneapp)


def test_a_token_for_another_origin_is_refused(live_server_url, ana, fake_oneapp):
    token = issue_token(ana, "https://elsewhere.example/mcp/acme")
    assert_refused_token(post(live_server_url, token), live_server_url, fake_oneapp)


def test_a_token_at_mcp_is_refused_as_a_wrong_key(live_server_url, ana, fake_oneapp):
    token = token_for(ana, live_server_url)
    response = post(live_server_url, token, path="/mcp", **{"X-Client-ID": "acme"})
    assert (response.status_code, response.json()["code"]) == (401, "INVALID_ACCESS_KEY")
    assert fake_oneapp.received == []


def test_a_token_with_a_contradicting_x_client_id_is_refused(live_server_url, ana, fake_oneapp):
    response = post(live_server_url, token_for(ana, live_server_url), **{"X-Client-ID": "globex"})
    assert (response.status_code, response.json()["code"]) == (400, "CLIENT_ID_MISMATCH")


def test_a_wrong_access_key_at_the_tenant_url_is_not_sent_to_oauth(live_server_url, ana, fake_oneapp):
    response = post(live_server_url, "omk_acme0key_" + "w" * 43)
    assert (response.status_code, response.json()["code"]) == (401, "INVALID_ACCESS_KEY")
    assert "resource_metadata" not in response.headers["www-authenticate"]


def revoke(user) -> None:
    AccessToken.objects.get(user=user).revoke()


def remove_membership(user) -> None:
    Membership.objects.filter(user=user).delete()


def deactivate(user) -> None:
    user.is_active = False
    user.save()


@pytest.mark.parametrize("withdraw", [revoke, remove_membership, deactivate])
def test_a_warm_token_stops_at_once_when_withdrawn(live_server_url, ana, fake_oneapp, withdraw):
    token = token_for(ana, live_server_url)
    assert post(live_server_url, token).status_code == 200
    fake_oneapp.received.clear()

    withdraw(ana)

    assert_refused_token(post(live_server_url, token), live_server_url, fake_oneapp)


def test_revoking_a_token_keeps_the_tenants_settings_and_pool(live_server_url, ana, fake_oneapp):
    token, other = token_for(ana, live_server_url), token_for(ana, live_server_url)
    assert post(live_server_url, token).status_code == 200
    live = tenant_cache()._entries["acme"].live

    AccessToken.objects.get(token_checksum=hashlib.sha256(other.encode()).hexdigest()).revoke()

    assert post(live_server_url, token).status_code == 200
    assert tenant_cache()._entries["acme"].live is live
    assert fake_oneapp.connections == 1  # the same keep-alive connection to OneApp


def test_a_disabled_tenant_refuses_its_tokens(live_server_url, ana, fake_oneapp):
    token = token_for(ana, live_server_url)
    assert post(live_server_url, token).status_code == 200
    ClientConfig.objects.filter(client_id="acme").update(enabled=False)
    tenant_cache().clear()  # as the change feed does (update() sends no signal)

    response = post(live_server_url, token)

    assert (response.status_code, response.json()["code"]) == (403, "UNKNOWN_CLIENT")


def test_a_non_member_s_token_is_refused(live_server_url, oneapp_tenant, fake_oneapp):
    stranger = User.objects.create_user("eve", password=PASSWORD)
    assert_refused_token(
        post(live_server_url, token_for(stranger, live_server_url)), live_server_url, fake_oneapp
    )


def test_without_the_write_scope_the_writing_tool_is_hidden_and_never_called(
    live_server_url, ana, fake_oneapp
):
    token = token_for(ana, live_server_url, scope="read")

    listed = post(live_server_url, token, LIST_TOOLS).json()["result"]["tools"]
    called = post(live_server_url, token, WRITE).json()["error"]

    assert "moai_visapp_foto" not in {tool["name"] for tool in listed}
    assert called == {"code": -32602, "message": "Unknown tool: moai_visapp_foto"}  # as for any unknown tool
    assert fake_oneapp.received == []


def test_with_the_write_scope_the_writing_tool_is_listed_and_called(live_server_url, ana, fake_oneapp):
    token = token_for(ana, live_server_url)
    listed = post(live_server_url, token, LIST_TOOLS).json()["result"]["tools"]
    assert "moai_visapp_foto" in {tool["name"] for tool in listed}
    assert post(live_server_url, token, WRITE).json()["result"]["isError"] is False
    assert [call.path for call in fake_oneapp.received] == [CORE + "/visual/moai"]


def test_the_tenant_s_read_only_switch_still_hides_the_writing_tool(live_server_url, ana, fake_oneapp):
    ClientConfig.objects.filter(client_id="acme").update(read_only=True)
    listed = post(live_server_url, token_for(ana, live_server_url), LIST_TOOLS).json()["result"]["tools"]
    assert "moai_visapp_foto" not in {tool["name"] for tool in listed}


def test_an_access_key_at_the_tenant_url_is_served_as_at_mcp(live_server_url, oneapp_tenant):
    assert post(live_server_url, ACME_KEY, INITIALIZE).status_code == 200


def test_a_warm_token_is_checked_without_any_database_query(db, make_tenant, fake_oneapp):
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url + "/core-api", client_base_url=fake_oneapp.url)
    give_key(tenant, ACME_KEY)
    user = User.objects.create_user("ana", password=PASSWORD)
    Membership.objects.create(user=user, tenant=tenant)
    token = issue_token(user, "http://testserver/mcp/acme")
    client = AsyncClient()
    headers = {"Accept": JSON_HEADERS["Accept"], "Authorization": f"Bearer {token}"}
    queries = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS])
    sql: list[list[str]] = []

    async def run() -> None:
        for _ in range(2):
            start = len(queries)
            response = await client.post(
                "/mcp/acme", CALL_TOOL, content_type="application/json", headers=headers
            )
            assert response.status_code == 200
            sql.append([query["sql"] for query in queries.captured_queries[start:]])
        await (await tenant_cache().aget("acme")).aclose()

    with queries:
        async_to_sync(run)()

    assert len(sql[0]) > 0  # the tenant, and the token with its membership
    assert sql[1] == []


@pytest.fixture
def two_workers(transactional_db, tmp_path):
    server = UvicornProcess(tmp_path / "uvicorn.log", workers=2, MCP_CHANGE_POLL_SECONDS="1")
    yield server.url
    server.stop()


@pytest.mark.parametrize("withdraw", [revoke, remove_membership, deactivate])
def test_a_withdrawn_token_stops_on_every_worker_within_2_seconds(two_workers, ana, fake_oneapp, withdraw):
    token = token_for(ana, two_workers)
    # Each worker has its own OneApp pool: a second upstream connection means both have served the
    # token (and so both hold it checked). Which worker takes a connection is the kernel's choice.
    deadline = time.monotonic() + 20
    while fake_oneapp.connections < 2:
        assert time.monotonic() < deadline, "one worker answered every call for 20 s"
        assert post(two_workers, token).status_code == 200

    withdrawn_at = time.monotonic()
    withdraw(ana)  # in this process, which is neither worker

    last_served_after = 0.0
    while time.monotonic() - withdrawn_at < 4:
        if post(two_workers, token).status_code == 200:
            last_served_after = time.monotonic() - withdrawn_at
        time.sleep(0.02)
    print(f"\nwithdrawn token last served {last_served_after * 1000:.0f} ms after the change")
    assert last_served_after < 2.0
