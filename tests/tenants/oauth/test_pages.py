"""The member's pages (tenants/oauth/views.py): sign-in, consent with what it grants and where it goes,
the refusals for a non-member and for a request that names no tenant, and Deny."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth.models import User
from oauth2_provider.models import Application

from tenants.models import Grant, Membership
from tests.oauth_member import PASSWORD, REDIRECT, native_client

VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def application(db):
    return native_client("Claude")


@pytest.fixture
def acme(make_tenant):
    return make_tenant("acme", name="Acme Retail")


def authorize_url(application, resource: str | None = "http://testserver/mcp/acme", **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read write",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        **extra,
    }
    if resource is not None:
        params["resource"] = resource
    return "/oauth/authorize/?" + urlencode(params)


def signed_in(client, acme, member: bool = True):
    user = User.objects.create_user("ana", password=PASSWORD)
    if member:
        Membership.objects.create(user=user, tenant=acme)
    client.force_login(user)
    return user


def test_someone_not_signed_in_is_sent_to_the_member_sign_in_page(client, application, acme):
    response = client.get(authorize_url(application))
    assert response.status_code == 302
    assert response.headers["location"].startswith("/oauth/sign-in/?next=/oauth/authorize/")
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and b"Sign in" in page.content
    assert b'name="viewport"' in page.content


def test_a_member_need_not_be_staff_to_sign_in(client, acme):
    User.objects.create_user("ana", password=PASSWORD)
    response = client.post("/oauth/sign-in/", {"username": "ana", "password": PASSWORD, "next": "/oauth/x"})
    assert (response.status_code, response.headers["location"]) == (302, "/oauth/x")


def test_the_consent_page_says_who_asks_for_what_and_where_it_returns(client, application, acme):
    signed_in(client, acme)
    response = client.get(authorize_url(application))
    page = response.content.decode()
    assert response.status_code == 200
    for shown in [
        "Acme Retail",
        "Claude",
        REDIRECT,
        "Read this tenant",
        "Send photos to Visapp MoAI",
        "Allow",
        "Deny",
    ]:
        assert shown in page
    # The form's answer redirects to the client: CSP's form-action must let it.
    assert "form-action 'self' http://127.0.0.1:33418" in response.headers["content-security-policy"]


def test_allow_redirects_with_a_code_stored_only_as_its_hash(client, application, acme):
    signed_in(client, acme)
    fields = client.get(authorize_url(application)).context["form"].initial
    response = client.post(
        authorize_url(application), {**{k: v or "" for k, v in fields.items()}, "allow": "on"}
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["s1"] and query["iss"] == ["http://testserver"]
    [grant] = Grant.objects.values_list("code", "resource")
    assert grant[0] != query["code"][0] and query["code"][0] not in grant[0]
    assert grant[1] == ["http://testserver/mcp/acme"]


def test_deny_redirects_with_access_denied_and_grants_nothing(client, application, acme):
    signed_in(client, acme)
    fields = client.get(authorize_url(application)).context["form"].initial
    response = client.post(authorize_url(application), {k: v or "" for k, v in fields.items()})
    assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["access_denied"]
    assert not Grant.objects.exists()


def test_a_signed_in_non_member_gets_a_clear_refusal_and_no_code(client, application, acme):
    signed_in(client, acme, member=False)
    response = client.get(authorize_url(application))
    assert response.status_code == 403
    assert b"You are not a member of this OneApp client" in response.content
    post = client.post(authorize_url(application), {"resource": "http://testserver/mcp/acme", "allow": "on"})
    assert post.status_code == 403
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "resource",
    [
        None,
        "http://testserver/mcp/nobody",
        "https://elsewhere.example/mcp/acme",
        "http://testserver/mcp/acme/x",
    ],
)
def test_a_request_that_names_none_of_our_tenants_gets_a_page_not_a_code(client, application, acme, resource):
    signed_in(client, acme)
    response = client.get(authorize_url(application, resource))
    assert response.status_code in (400, 403)
    assert not Grant.objects.exists()


def test_a_disabled_tenant_cannot_be_authorised(client, application, acme):
    signed_in(client, acme)
    acme.enabled = False
    acme.save()
    assert client.get(authorize_url(application)).status_code == 403


def test_plain_pkce_gets_no_code(client, application, acme):
    signed_in(client, acme)
    url = authorize_url(application, code_challenge=VERIFIER, code_challenge_method="plain")
    fields = client.get(url).context["form"].initial
    response = client.post(url, {**{k: v or "" for k, v in fields.items()}, "allow": "on"})
    assert "error=invalid_request" in response.headers["location"]
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    ("redirect", "allowed"),
    [
        ("http://127.0.0.1:50123/callback", True),  # a native client's ephemeral port
        ("http://localhost:61000/callback", False),  # registered as 127.0.0.1: another host
        ("http://127.0.0.1:50123/elsewhere", False),
    ],
)
def test_a_loopback_redirect_may_use_any_port(client, application, acme, redirect, allowed):
    signed_in(client, acme)
    response = client.get(authorize_url(application, redirect_uri=redirect))
    assert (response.status_code == 200 and "form" in response.context) is allowed


def test_a_plain_http_redirect_to_another_host_is_refused(client, db, acme):
    web = Application.objects.create(
        name="Somewhere",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://client.example/callback https://client.example/callback",
    )
    signed_in(client, acme)
    assert client.get(authorize_url(web, redirect_uri="http://client.example/callback")).status_code == 400
    assert client.get(authorize_url(web, redirect_uri="https://client.example/callback")).status_code == 200


def test_a_non_member_can_sign_out_and_return_to_the_same_request(client, application, acme):
    signed_in(client, acme, member=False)
    url = authorize_url(application)
    refused = client.get(url)
    assert b"Sign in with another account" in refused.content

    signed_out = client.post("/oauth/sign-out/", {"next": url})

    assert signed_out.headers["location"] == url
    assert client.get(url).headers["location"].startswith("/oauth/sign-in/?next=")


def test_without_a_policy_the_consent_page_sends_none(client, application, acme, settings):
    settings.CONTENT_SECURITY_POLICY = ""
    signed_in(client, acme)
    assert "content-security-policy" not in client.get(authorize_url(application)).headers
