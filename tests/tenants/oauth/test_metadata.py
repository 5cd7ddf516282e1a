"""What a client reads to find how to sign in: a tenant resource's RFC 9728 metadata and the
authorization server's RFC 8414 metadata (the toolkit's views, told our resources and origin)."""

import pytest


def test_a_tenants_resource_metadata_names_its_url_server_and_scopes(client, make_tenant):
    make_tenant("acme", name="Acme")
    response = client.get("/.well-known/oauth-protected-resource/mcp/acme")
    assert response.status_code == 200
    assert response.json() == {
        "resource": "http://testserver/mcp/acme",
        "authorization_servers": ["http://testserver"],
        "scopes_supported": ["read", "write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "OneApp MCP: Acme",
    }


@pytest.mark.parametrize("client_id", ["nobody", "disabled"])
def test_no_metadata_for_an_unknown_or_disabled_tenant(client, make_tenant, client_id):
    make_tenant("disabled", enabled=False)
    assert client.get(f"/.well-known/oauth-protected-resource/mcp/{client_id}").status_code == 404


def test_the_public_origin_setting_names_the_resource_and_server(client, make_tenant, settings):
    settings.PUBLIC_BASE_URL = "https://mcp.example.com"
    make_tenant("acme")
    document = client.get("/.well-known/oauth-protected-resource/mcp/acme").json()
    assert document["resource"] == "https://mcp.example.com/mcp/acme"
    assert document["authorization_servers"] == ["https://mcp.example.com"]


def test_the_authorization_server_metadata_offers_code_with_s256_dcr_and_cimd(client, db):
    document = client.get("/.well-known/oauth-authorization-server").json()
    assert document["issuer"] == "http://testserver"
    assert document["authorization_endpoint"] == "http://testserver/oauth/authorize/"
    assert document["token_endpoint"] == "http://testserver/oauth/token/"
    assert document["registration_endpoint"] == "http://testserver/oauth/register/"
    assert document["response_types_supported"] == ["code"]
    assert document["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["client_id_metadata_document_supported"] is True
    assert document["authorization_response_iss_parameter_supported"] is True
    assert "none" in document["token_endpoint_auth_methods_supported"]


@pytest.mark.parametrize(
    "path",
    ["/.well-known/oauth-authorization-server", "/oauth/token/", "/oauth/register/", "/oauth/revoke/"],
)
def test_browser_clients_may_call_the_oauth_endpoints_cross_origin_without_credentials(client, db, path):
    preflight = client.options(
        path, headers={"Origin": "http://localhost:6274", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


@pytest.mark.parametrize("path", ["/oauth/authorize/", "/oauth/sign-in/", "/admin/login/"])
def test_the_pages_people_use_are_not_opened_to_other_origins(client, db, path):
    response = client.get(path, headers={"Origin": "http://localhost:6274"})
    assert "access-control-allow-origin" not in response.headers
