"""OAuth secrets never leak either (tests/test_secrets.py's canaries, for the URL-alone path): the
authorization code, access and refresh tokens, the client secret and the registration token a client
gets go through sign-in, tool calls, a refresh and the admin, and show up in no log record, no admin
page and no cell of the database (which holds the toolkit's checksums and hashes only)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tenants.models import Membership
from tests.helpers import CORE
from tests.oauth_member import PASSWORD, REDIRECT, Member, MemoryStorage, connect, provider
from tests.test_secrets import Canaries, debug_logs, response_text  # noqa: F401 - debug_logs: a fixture


@pytest.fixture
def watch(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Canaries:
    return Canaries(caplog, capfd)


SERVER_LOGGERS = ("tenants", "mcp_endpoint", "django", "oauth2_provider", "oauthlib", "uvicorn")


def add_secret(watch: Canaries, name: str, value: str) -> None:
    assert value and len(value) >= 24, name
    watch.add({name: value}, value)


def assert_server_logged_none(watch: Canaries) -> None:
    """As Canaries.assert_not_logged, for the server's loggers: the SDK's client logs its own secrets."""
    records = [*watch._caplog.get_records("setup"), *watch._caplog.get_records("call")]
    server = [record for record in records if record.name.startswith(SERVER_LOGGERS) or record.name == "root"]
    assert any(record.name.startswith("django") for record in server)
    for record in server:
        watch.assert_absent(f"{record.getMessage()}\n{record.exc_text or ''}", f"a record of {record.name}")


@pytest.mark.usefixtures("debug_logs")
async def test_oauth_codes_tokens_and_client_secrets_are_nowhere_but_with_the_client(
    live_server_url, oneapp_tenant, fake_oneapp, watch, admin_user
):
    user = await sync_to_async(User.objects.create_user)("ana", password=PASSWORD)
    await Membership.objects.acreate(user=user, tenant=oneapp_tenant)
    fake_oneapp.reply(CORE + "/core/sucursales", body={"data": []})
    url = live_server_url + "/mcp/acme"
    ana = Member("ana")
    storage = MemoryStorage()
    confidential = provider(url, ana, storage=storage)
    confidential.context.client_metadata.token_endpoint_auth_method = "client_secret_post"
    async with connect(url, confidential) as client:
        await client.call_tool("core_list_sucursales", {})
    refreshed = await sync_to_async(httpx.post)(
        live_server_url + "/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": storage.tokens.refresh_token,
            "client_id": storage.client_info.client_id,
            "client_secret": storage.client_info.client_secret,
        },
    )
    assert refreshed.status_code == 200, refreshed.text

    code = parse_qs(urlsplit(ana.redirect).query)["code"][0]
    for name, value in [
        ("the authorization code", code),
        ("the access token", storage.tokens.access_token),
        ("the refresh token", storage.tokens.refresh_token),
        ("the rotated access token", refreshed.json()["access_token"]),
        ("the rotated refresh token", refreshed.json()["refresh_token"]),
        ("the client secret", storage.client_info.client_secret),
    ]:
        add_secret(watch, name, value)
    add_secret(watch, "the member's password", PASSWORD)

    await sync_to_async(assert_in_no_admin_page)(watch, admin_user, oneapp_tenant.pk)
    await sync_to_async(watch.assert_not_in_database)()
    assert_server_logged_none(watch)
    assert REDIRECT in ana.redirect


def assert_in_no_admin_page(watch: Canaries, admin_user: User, tenant_pk: int) -> None:
    staff = Client()
    staff.force_login(admin_user)
    pages = [
        reverse("admin:tenants_clientconfig_change", args=[tenant_pk]),
        reverse("admin:tenants_membership_changelist"),
    ]
    for model in ("application", "accesstoken", "refreshtoken", "idtoken"):
        pages.append(reverse(f"admin:oauth2_provider_{model}_changelist"))
    pages.append(reverse("admin:tenants_grant_changelist"))
    from oauth2_provider.models import AccessToken, Application, RefreshToken

    for model, name in [
        (AccessToken, "accesstoken"),
        (RefreshToken, "refreshtoken"),
        (Application, "application"),
    ]:
        pages += [
            reverse(f"admin:oauth2_provider_{name}_change", args=[pk])
            for pk in model.objects.values_list("pk", flat=True)
        ]
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
        watch.assert_absent(response_text(response), page)
