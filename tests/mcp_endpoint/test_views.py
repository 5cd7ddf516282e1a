"""POST /mcp over real HTTP (mcp_endpoint/views.py): the X-Client-ID contract byte for byte, then the host,
method, origin, body and tenant refusals."""

import json

import httpx
import pytest

from mcp_endpoint import exchange
from mcp_endpoint.cache import tenant_cache
from tenants.models import ClientConfig
from tests.helpers import ACME_KEY, INITIALIZE, JSON_HEADERS, WRONG_SECRET_KEY, mcp_headers

MCP_HEADERS = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}"}

MISSING = b'{"error": "Missing X-Client-ID header. Provide client identifier.", "code": "MISSING_CLIENT_ID"}'
DUPLICATE = (
    b'{"error": "Multiple X-Client-ID headers detected. Provide exactly one.", "code": "DUPLICATE_CLIENT_ID"}'
)
INVALID = b'{"error": "Client ID must contain only alphanumeric characters (a-z, 0-9).", "code": "INVALID_CLIENT_ID"}'


def unknown(client_id: str) -> bytes:
    return (
        b'{"error": "Unknown client ID: ' + client_id.encode() + b'. Check X-Client-ID header value.", '
        b'"code": "UNKNOWN_CLIENT"}'
    )


def post(
    url: str, headers: list[tuple[str, str]] | dict[str, str], body: bytes | None = None
) -> httpx.Response:
    all_headers = [*MCP_HEADERS.items(), *(headers.items() if isinstance(headers, dict) else headers)]
    return httpx.post(url + "/mcp", headers=all_headers, content=body or json.dumps(INITIALIZE).encode())


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ([], 403, MISSING),
        ([("X-Client-ID", "")], 403, MISSING),
        ([("X-Client-ID", "acme"), ("X-Client-ID", "acme")], 400, DUPLICATE),
        ([("X-Client-ID", "acme,globex")], 400, DUPLICATE),
        ([("X-Client-ID", "ac_me")], 403, INVALID),
        ([("X-Client-ID", "../../etc/passwd")], 403, INVALID),
        ([("X-Client-ID", "nobody")], 403, unknown("nobody")),
        ([("X-Client-ID", "NoBody")], 403, unknown("nobody")),
    ],
)
def test_routing_errors_follow_the_contract_byte_for_byte_and_reach_nothing(
    live_server_url, oneapp_tenant, fake_oneapp, headers, status, body
):
    response = post(live_server_url, headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.content == body
    assert fake_oneapp.received == []
    assert len(tenant_cache()) == 0


def test_client_id_is_matched_case_and_whitespace_insensitively(live_server_url, oneapp_tenant):
    response = post(live_server_url, {"X-Client-ID": "ACME"})
    assert response.status_code == 200
    assert response.json()["result"]["serverInfo"]["name"] == "oneapp-mcp"


def test_a_disabled_tenant_is_an_unknown_client(live_server_url, oneapp_tenant):
    ClientConfig.objects.filter(client_id="acme").update(enabled=False)
    response = post(live_server_url, {"X-Client-ID": "acme"})
    assert (response.status_code, response.content) == (403, unknown("acme"))


def test_get_is_not_allowed_on_the_stateless_endpoint(live_server_url, oneapp_tenant):
    headers = {**mcp_headers(), "Accept": "text/event-stream"}
    response = httpx.get(live_server_url + "/mcp", headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_any_method_with_a_wrong_key_gets_the_keys_401_not_405(live_server_url, oneapp_tenant, method):
    # The MCP spec's authorization: an invalid or expired token MUST get 401, whatever it came with.
    headers = {**mcp_headers(key=WRONG_SECRET_KEY), "Accept": "text/event-stream"}
    response = httpx.request(method, live_server_url + "/mcp", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "INVALID_ACCESS_KEY"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="oneapp-mcp", error="invalid_token", error_description="')
    assert response.json()["error"] in challenge


def test_the_trailing_slash_form_is_not_redirected(live_server_url, oneapp_tenant):
    response = httpx.post(live_server_url + "/mcp/", headers={"X-Client-ID": "acme"}, json=INITIALIZE)
    assert response.status_code == 404


def test_a_host_outside_allowed_hosts_is_refused(live_server_url, oneapp_tenant, fake_oneapp):
    response = post(live_server_url, {"X-Client-ID": "acme", "Host": "evil.example"})
    assert response.status_code == 400
    assert fake_oneapp.received == []


def test_a_host_is_judged_again_when_allowed_hosts_change(live_server_url, oneapp_tenant, settings):
    assert post(live_server_url, {"X-Client-ID": "acme", "Host": "mcp.example"}).status_code == 400

    settings.ALLOWED_HOSTS = ["mcp.example"]
    assert post(live_server_url, {"X-Client-ID": "acme", "Host": "mcp.example"}).status_code == 200
    assert post(live_server_url, {"X-Client-ID": "acme", "Host": "127.0.0.1"}).status_code == 400


def test_hosts_sent_by_a_client_cannot_grow_the_kept_verdicts(live_server_url, oneapp_tenant):
    for number in range(exchange.MAX_JUDGED_HOSTS + 50):
        post(live_server_url, {"X-Client-ID": "acme", "Host": f"h{number}.example"})

    assert len(exchange._judged_hosts) <= exchange.MAX_JUDGED_HOSTS


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://evil.example", 403),
        ("null", 403),
        ("http://allowed.example", 200),
    ],
)
def test_a_foreign_origin_is_refused(live_server_url, oneapp_tenant, settings, origin, status):
    settings.MCP_ALLOWED_ORIGINS = ["http://allowed.example"]
    response = post(live_server_url, {"X-Client-ID": "acme", "Origin": origin})
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "FORBIDDEN_ORIGIN"


def test_even_our_own_origin_needs_to_be_listed(live_server_url, oneapp_tenant):
    # Under DNS rebinding a hostile page has "our" origin; only the listed origins are trusted.
    response = post(live_server_url, {"X-Client-ID": "acme", "Origin": live_server_url})
    assert response.status_code == 403


def test_a_tenant_whose_token_cannot_be_decrypted_gets_503_without_leaking(
    live_server_url, oneapp_tenant, settings, fresh_key, caplog
):
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    response = post(live_server_url, {"X-Client-ID": "acme"})
    assert response.status_code == 503
    assert response.json()["code"] == "TENANT_UNAVAILABLE"
    assert "acme" in caplog.text and "gAAAA" not in caplog.text and fresh_key not in caplog.text


def test_malformed_json_gets_a_json_rpc_parse_error_not_a_500(live_server_url, oneapp_tenant, fake_oneapp):
    response = post(live_server_url, {"X-Client-ID": "acme"}, body=b'{"jsonrpc": "2.0", "id": 1, "method"')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    assert fake_oneapp.received == []


def test_a_body_over_the_limit_gets_413_before_it_is_read(
    live_server_url, oneapp_tenant, fake_oneapp, settings
):
    settings.MCP_MAX_REQUEST_BYTES = 1000
    response = post(live_server_url, {"X-Client-ID": "acme"}, body=b'{"padding": "' + b"x" * 2000 + b'"}')
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert fake_oneapp.received == []


def test_a_chunked_body_over_the_limit_gets_413_too(live_server_url, oneapp_tenant, settings):
    settings.MCP_MAX_REQUEST_BYTES = 1000

    def chunks():
        for _ in range(10):
            yield b"x" * 200

    headers = {**MCP_HEADERS, "X-Client-ID": "acme"}
    response = httpx.post(live_server_url + "/mcp", headers=headers, content=chunks())
    assert response.status_code == 413


def test_a_body_just_under_the_limit_is_served(live_server_url, oneapp_tenant, settings):
    body = json.dumps(INITIALIZE).encode()
    settings.MCP_MAX_REQUEST_BYTES = len(body)
    assert post(live_server_url, {"X-Client-ID": "acme"}, body=body).status_code == 200


async def test_the_django_routed_view_refuses_a_declared_oversized_body_too(async_client, settings):
    settings.MCP_MAX_REQUEST_BYTES = 10
    response = await async_client.post(
        "/mcp",
        data=b"{" + b" " * 100 + b"}",
        content_type="application/json",
        headers={"X-Client-ID": "acme"},
    )
    assert response.status_code == 413


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("length", [65, 8000])
def test_a_client_id_longer_than_64_characters_is_invalid_not_looked_up(live_server_url, length):
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}", "X-Client-ID": "a" * length}

    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(INITIALIZE))

    assert (response.status_code, response.content) == (403, INVALID)


@pytest.mark.usefixtures("oneapp_tenant")
def test_a_client_id_of_64_characters_is_looked_up(live_server_url):
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}", "X-Client-ID": "a" * 64}

    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(INITIALIZE))

    assert response.status_code == 403
    assert response.json()["code"] == "UNKNOWN_CLIENT"
