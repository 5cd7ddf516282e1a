"""What staff do to running tenants (tenants/admin/operations.py): the server cache status and drop, and
confirmation before a bulk disable. Through the Django test client, on the real database."""

import asyncio
import re
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mcp_endpoint import cache as cache_module
from mcp_endpoint.cache import TenantCache, load_tenant
from tenants import serving
from tenants.admin import operations
from tenants.admin.operations import DISABLE_CONFIRMATION_TEMPLATE
from tenants.models import ClientConfig, TenantChange
from tests.helpers import TENANTS_CHANGELIST, change_url, messages_of, view_only_client


def drop_url(tenant: ClientConfig) -> str:
    return reverse("admin:tenants_clientconfig_drop_cached_server", args=[tenant.pk])


def action(client: Client, name: str, tenants: list[ClientConfig], **extra):
    selected = [tenant.pk for tenant in tenants]
    return client.post(TENANTS_CHANGELIST, {"action": name, "_selected_action": selected, **extra})


# Whether this worker holds a tenant's server, and dropping it everywhere.


class FakeServer:
    """Stands in for a tenant's MCP server: only the cache's bookkeeping matters here."""

    def __init__(self, tenant) -> None:
        self.loop = None

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    def retire(self) -> None:
        pass


@pytest.fixture
def worker_cache(monkeypatch) -> TenantCache:
    """This process's server cache, reading real rows, with stand-in servers."""
    cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=100, build=FakeServer)
    monkeypatch.setattr(cache_module, "_cache", cache)
    return cache


@pytest.mark.django_db
def test_list_and_page_say_a_tenant_is_not_cached_in_this_worker(admin_client, make_tenant, worker_cache):
    acme = make_tenant("acme")
    for url in (TENANTS_CHANGELIST, change_url(acme)):
        assert "not cached in this worker" in admin_client.get(url).text


@pytest.mark.django_db
def test_list_and_page_say_since_when_this_worker_holds_the_server(admin_client, make_tenant, worker_cache):
    acme = make_tenant("acme")
    make_tenant("globex")
    async_to_sync(worker_cache.aget)("acme")
    since = timezone.localtime(datetime.fromtimestamp(worker_cache.built_at("acme"), UTC))

    for url in (TENANTS_CHANGELIST, change_url(acme)):
        page = admin_client.get(url).text
        [shown] = re.findall(r"cached in this worker since (?:\d{4}-\d\d-\d\d )?(\d\d:\d\d:\d\d)", page)
        assert shown == f"{since:%H:%M:%S}"
    assert "not cached in this worker" in admin_client.get(TENANTS_CHANGELIST).text  # globex


@pytest.mark.django_db
def test_a_server_built_on_an_earlier_day_shows_the_date(make_tenant, monkeypatch):
    monkeypatch.setattr(serving, "_cached_since", lambda client_id: time.time() - 3 * 86400)
    status = operations.TenantOperations.cache_status(None, make_tenant("acme"))
    assert re.fullmatch(r"cached in this worker since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", status)


@pytest.mark.django_db
def test_drop_action_announces_a_change_per_tenant_so_every_worker_drops_its_server(
    admin_client, make_tenant, worker_cache, django_capture_on_commit_callbacks
):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    make_tenant("initech")
    for client_id in ("acme", "globex", "initech"):
        async_to_sync(worker_cache.aget)(client_id)
    TenantChange.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, "drop_cached_server", [acme, globex])

    assert response.status_code == 302
    assert sorted(TenantChange.objects.values_list("client_id", flat=True)) == ["acme", "globex"]
    assert ("acme" in worker_cache, "globex" in worker_cache, "initech" in worker_cache) == (
        False,
        False,
        True,
    )
    assert messages_of(admin_client.get(response.url)) == [
        "Dropped the cached server of 2 tenants in every worker; the next request rebuilds it from the database."
    ]


@pytest.mark.django_db
def test_drop_button_drops_the_tenant_and_comes_back_to_its_page(
    admin_client, make_tenant, worker_cache, django_capture_on_commit_callbacks
):
    acme = make_tenant("acme")
    async_to_sync(worker_cache.aget)("acme")
    assert 'id="drop-cached-server"' in admin_client.get(change_url(acme)).text

    with django_capture_on_commit_callbacks(execute=True):  # a committed request, as in production
        response = admin_client.post(drop_url(acme))
    assert (response.status_code, response.url) == (302, change_url(acme))
    assert "acme" not in worker_cache

    response = admin_client.get(response.url)
    assert "not cached in this worker" in response.text
    assert messages_of(response) == [
        "Dropped the cached server of 1 tenant in every worker; the next request rebuilds it from the database."
    ]


@pytest.mark.django_db
def test_drop_button_answers_only_a_post(admin_client, make_tenant):
    acme = make_tenant("acme")
    changes = TenantChange.objects.count()
    assert admin_client.get(drop_url(acme)).status_code == 405
    assert TenantChange.objects.count() == changes


@pytest.mark.django_db
def test_buttons_need_the_csrf_token_of_the_page(admin_user, make_tenant):
    acme = make_tenant("acme")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get(change_url(acme)).text
    [token, *_] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)

    assert browser.post(drop_url(acme)).status_code == 403
    assert browser.post(drop_url(acme), {"csrfmiddlewaretoken": token}).status_code == 302


@pytest.mark.django_db
def test_view_only_staff_get_no_drop_button_and_cannot_post_it(make_tenant):
    acme = make_tenant("acme")
    viewer = view_only_client("view_clientconfig")
    changes = TenantChange.objects.count()

    assert 'id="drop-cached-server"' not in viewer.get(change_url(acme)).text
    assert viewer.post(drop_url(acme)).status_code == 403
    assert TenantChange.objects.count() == changes


# Confirmation before a bulk disable.


@pytest.mark.django_db
def test_disable_action_first_asks_for_confirmation_and_changes_nothing(admin_client, make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    make_tenant("initech")
    changes = TenantChange.objects.count()

    page = action(admin_client, "disable_tenants", [acme, globex])

    assert page.status_code == 200
    assert page.templates[0].name == DISABLE_CONFIRMATION_TEMPLATE
    assert "Disable 2 tenants?" in page.text
    assert "UNKNOWN_CLIENT" in page.text
    assert "Tenant acme (acme)" in page.text and "Tenant globex (globex)" in page.text
    assert "initech" not in page.text
    assert 'name="post" value="yes"' in page.text and "No, take me back" in page.text
    assert ClientConfig.objects.filter(enabled=False).count() == 0
    assert TenantChange.objects.count() == changes


@pytest.mark.django_db
def test_yes_on_the_confirmation_page_disables_exactly_the_listed_tenants(admin_client, make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    make_tenant("initech")
    page = action(admin_client, "disable_tenants", [acme, globex]).text
    hidden = dict.fromkeys(re.findall(r'name="_selected_action" value="(\d+)"', page))

    response = admin_client.post(
        TENANTS_CHANGELIST,
        {"action": "disable_tenants", "post": "yes", "_selected_action": list(hidden)},
        follow=True,
    )

    assert messages_of(response) == ["Disabled 2 of 2 selected tenants."]
    assert dict(ClientConfig.objects.values_list("client_id", "enabled")) == {
        "acme": False,
        "globex": False,
        "initech": True,
    }


@pytest.mark.django_db
def test_enabling_needs_no_confirmation(admin_client, make_tenant):
    off = make_tenant("off", enabled=False)
    response = action(admin_client, "enable_tenants", [off])
    assert response.status_code == 302
    assert ClientConfig.objects.get().enabled is True
