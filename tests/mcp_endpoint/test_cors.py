"""CORS on /mcp over real HTTP (mcp_endpoint/cors.py): a page from a listed origin may call it and read
the answers, refusals included; any other origin gets neither. tests/test_browser.py checks it in
Chromium."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mcp_endpoint import views
from mcp_endpoint.cache import tenant_cache
from tenants.models import ClientConfig
from tests.helpers import CALL_TOOL, INITIALIZE, JSON_HEADERS, mcp_headers

LISTED = "http://inspector.example:6274"
# What a browser sends before the POST of an MCP client (2026: a tool's Mcp-Param-* headers too).
REQUESTED = (
    "authorization,content-type,mcp-protocol-version,mcp-method,mcp-name,mcp-param-zone-id,x-client-id"
)


@pytest.fixture
def listed_origin(settings):
    settings.MCP_ALLOWED_ORIGINS = [LISTED]


def preflight(
    base_url: str, path: str = "/mcp", origin: str = LISTED, method: str = "POST", **headers: str | bytes
) -> httpx.Response:
    sent = {"Origin": origin, "Access-Control-Request-Method": method, **headers}
    return httpx.options(base_url + path, headers=sent)


def assert_readable_by_the_listed_origin(response: httpx.Response) -> None:
    assert response.headers["access-control-allow-origin"] == LISTED
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert {"WWW-Authenticate", "Retry-After", "Mcp-Session-Id"} <= set(exposed)
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("path", ["/mcp", "/mcp/acme"])
def test_a_listed_origins_preflight_is_allowed_without_a_tenant_or_credential(
    live_server_url, oneapp_tenant, fake_oneapp, listed_origin, path
):
    response = preflight(live_server_url, path, **{"Access-Control-Request-Headers": REQUESTED})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == LISTED
    assert response.headers["access-control-allow-headers"] == REQUESTED
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST", "DELETE"}
    assert int(response.headers["access-control-max-age"]) > 0
    assert response.headers["vary"] == "Origin, Access-Control-Request-Headers"
    assert "access-control-allow-credentials" not in response.headers  # bearer credentials, no cookies
    assert response.content == b""
    assert fake_oneapp.received == []
    assert len(tenant_cache()) == 0  # no tenant looked up, no key checked, nothing counted


@pytest.mark.parametrize("origin", ["https://evil.example", "null", LISTED + "/", "http://inspector.example"])
def test_any_other_origins_preflight_is_refused_and_allows_nothing(live_server_url, listed_origin, origin):
    response = preflight(live_server_url, origin=origin, **{"Access-Control-Request-Headers": REQUESTED})

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN_ORIGIN"
    assert not [name for name in response.headers if name.startswith("access-control-")]


@pytest.mark.parametrize(
    "requested", ["x-client-id;drop", "a" * 3000, "x-client-id,,authorization", "é".encode()]
)
def test_requested_headers_that_are_no_header_names_are_not_echoed(live_server_url, listed_origin, requested):
    response = preflight(live_server_url, **{"Access-Control-Request-Headers": requested})

    assert response.status_code == 200
    assert "access-control-allow-headers" not in response.headers


def test_a_preflight_for_a_host_not_allowed_is_refused_first(live_server_url, listed_origin):
    # DNS rebinding: a listed origin does not make an unknown Host acceptable.
    response = preflight(live_server_url, Host="rebound.example")
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert "access-control-allow-methods" not in response.headers  # no preflight allowed


@pytest.mark.parametrize(
    "headers",
    [{"Origin": LISTED}, {"Access-Control-Request-Method": "POST"}],
    ids=["no-request-method", "no-origin"],
)
def test_an_options_request_that_is_no_preflight_is_still_a_request(
    live_server_url, oneapp_tenant, listed_origin, headers
):
    response = httpx.options(live_server_url + "/mcp", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "MISSING_CLIENT_ID"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_listed_origin_may_ask_for_a_session_stream_and_reads_that_there_is_none(
    live_server_url, oneapp_tenant, listed_origin, method
):
    # A 2025 client opens an SSE stream with GET (and ends a session with DELETE): it must read the
    # 405, which tells it this server has none, rather than fail on a request the browser blocked.
    allowed = preflight(live_server_url, method=method, **{"Access-Control-Request-Headers": "authorization"})
    assert method in allowed.headers["access-control-allow-methods"]

    response = httpx.request(method, live_server_url + "/mcp", headers={**mcp_headers(), "Origin": LISTED})
    assert (response.status_code, response.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert_readable_by_the_listed_origin(response)


def test_a_listed_origins_call_is_answered_readably(
    live_server_url, oneapp_tenant, fake_oneapp, listed_origin
):
    response = httpx.post(
        live_server_url + "/mcp", headers={**mcp_headers(), "Origin": LISTED}, content=json.dumps(CALL_TOOL)
    )

    assert response.status_code == 200
    assert response.json()["result"]["isError"] is False
    assert_readable_by_the_listed_origin(response)


def test_a_refusal_is_readable_by_a_listed_origin_with_its_challenge(
    live_server_url, oneapp_tenant, listed_origin
):
    # A browser client must read the 401 and its WWW-Authenticate to find the OAuth sign-in.
    response = httpx.post(
        live_server_url + "/mcp/acme",
        headers={**JSON_HEADERS, "Origin": LISTED},
        content=json.dumps(INITIALIZE),
    )

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == LISTED
    assert "resource_metadata=" in response.headers["www-authenticate"]
    assert "WWW-Authenticate" in response.headers["access-control-expose-headers"]


def test_an_oversized_body_from_a_listed_origin_is_refused_readably(live_server_url, listed_origin, settings):
    settings.MCP_MAX_REQUEST_BYTES = 100
    response = httpx.post(
        live_server_url + "/mcp", headers={**mcp_headers(), "Origin": LISTED}, content=b"x" * 200
    )
    assert response.status_code == 413
    assert_readable_by_the_listed_origin(response)


async def test_the_django_routed_view_answers_a_listed_origin_readably_too(
    async_client, listed_origin, settings
):
    settings.MCP_MAX_REQUEST_BYTES = 10
    response = await async_client.post(
        "/mcp", data=b"{" + b" " * 100 + b"}", content_type="application/json", headers={"Origin": LISTED}
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == LISTED


def test_a_rate_limited_listed_origin_reads_when_to_retry(live_server_url, oneapp_tenant, listed_origin):
    ClientConfig.objects.filter(pk=oneapp_tenant.pk).update(rate_limit_per_minute=1)
    headers = {**mcp_headers(), "Origin": LISTED}
    httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(CALL_TOOL))

    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(CALL_TOOL))

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert_readable_by_the_listed_origin(response)


def test_an_internal_error_is_readable_by_a_listed_origin(live_server_url, listed_origin, monkeypatch):
    async def broken(request):
        raise RuntimeError("a fault no client may see")

    monkeypatch.setattr(views, "_route", broken)
    response = httpx.post(
        live_server_url + "/mcp", headers={**mcp_headers(), "Origin": LISTED}, content=b"{}"
    )

    assert (response.status_code, response.json()["code"]) == (500, "INTERNAL_ERROR")
    assert_readable_by_the_listed_origin(response)


def test_listed_origins_are_read_without_the_spaces_around_commas():
    code = "from django.conf import settings; print(settings.MCP_ALLOWED_ORIGINS)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oneapp_site.settings", "ENV_FILE": ""}
    env["MCP_ALLOWED_ORIGINS"] = "http://a.example, http://b.example:6274 ,,"
    ran = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.stdout.strip() == "['http://a.example', 'http://b.example:6274']", ran.stderr


@pytest.mark.parametrize("origin", [None, "https://evil.example"])
def test_other_callers_get_no_cors_headers(live_server_url, oneapp_tenant, listed_origin, origin):
    headers = mcp_headers() | ({"Origin": origin} if origin else {})
    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(CALL_TOOL))

    assert response.status_code == (200 if origin is None else 403)
    assert not [name for name in response.headers if name.startswith("access-control-")]
