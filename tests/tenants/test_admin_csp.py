"""Issue 9, item 14 (c): admin pages carry a Content-Security-Policy that forbids inline script and style.

That the admin works under it, in a real browser, is test_admin_csp_browser.py.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tenants.models import AccessKey

POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
# A <script> element with no src, a <style> element, a style="" attribute or an on…="" handler.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


def assert_policy(response) -> None:
    assert response["Content-Security-Policy"] == POLICY
    assert not INLINE.findall(response.content.decode())


@pytest.mark.django_db
def test_the_sign_in_page_carries_the_policy_anonymous():
    response = Client().get(reverse("admin:login"))
    assert response.status_code == 200
    assert_policy(response)


@pytest.mark.django_db
def test_every_admin_page_of_a_tenant_carries_the_policy(admin_client, make_tenant):
    tenant = make_tenant("acme")
    key, _ = AccessKey.issue(tenant, "tests")
    pages = [
        reverse("admin:index"),
        reverse("admin:tenants_clientconfig_changelist"),
        reverse("admin:tenants_clientconfig_add"),
        reverse("admin:tenants_clientconfig_change", args=[tenant.pk]),
        reverse("admin:tenants_clientconfig_history", args=[tenant.pk]),
        reverse("admin:tenants_clientconfig_delete", args=[tenant.pk]),
        reverse("admin:tenants_accesskey_changelist"),
        reverse("admin:tenants_accesskey_change", args=[key.pk]),
        reverse("admin:auth_user_changelist"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_policy(response)


@pytest.mark.django_db
def test_the_pages_made_by_this_project_carry_it_too(admin_client, make_tenant):
    tenant = make_tenant("acme")
    change = reverse("admin:tenants_clientconfig_change", args=[tenant.pk])
    changelist = reverse("admin:tenants_clientconfig_changelist")

    confirm = admin_client.post(changelist, {"action": "disable_tenants", "_selected_action": [tenant.pk]})
    assert "Disable 1 tenant?" in confirm.text
    assert_policy(confirm)

    post = {
        "client_id": "acme",
        "name": "Acme",
        "enabled": "on",
        "core_base_url": tenant.core_base_url,
        "client_base_url": tenant.client_base_url,
        "client_header": tenant.client_header,
        "http_timeout_ms": "30000",
        "rate_limit_per_minute": "600",
        "max_concurrent_calls": "50",
        "access_keys-TOTAL_FORMS": "1",
        "access_keys-INITIAL_FORMS": "0",
        "access_keys-0-name": "csp test",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    key_page = admin_client.post(change, post)
    assert "Copy the new access key now" in key_page.text
    assert_policy(key_page)
    assert "tenants/admin/copy-key.js" in key_page.text

    assert "tenants/admin/tenant-buttons.css" in admin_client.get(change).text


@pytest.mark.django_db
def test_a_404_and_the_sign_out_page_carry_it(admin_client):
    assert_policy(admin_client.get("/admin/no-such-page/", follow=True))
    assert_policy(admin_client.post(reverse("admin:logout")))


def test_the_policy_can_be_turned_off(client, settings):
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/no-such-page")


def test_a_policy_a_view_sets_itself_is_kept(rf, settings):
    from django.http import HttpResponse

    from oneapp_site.csp import content_security_policy

    def view(request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    response = content_security_policy(view)(rf.get("/"))
    assert response["Content-Security-Policy"] == "default-src 'none'"


async def test_the_middleware_runs_in_async_chains_without_a_thread(async_rf):
    from django.http import HttpResponse

    from oneapp_site.csp import content_security_policy

    async def view(request):
        return HttpResponse("x")

    middleware = content_security_policy(view)
    response = await middleware(async_rf.get("/"))
    assert response["Content-Security-Policy"] == POLICY
