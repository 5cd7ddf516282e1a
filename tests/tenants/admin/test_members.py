"""Members in admin (tenants/admin/members.py): added on the tenant page and seen on the user page, each
with the clients they authorised; revoking those ends the tokens and is a change for every worker."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse
from oauth2_provider.models import AccessToken, RefreshToken

from tenants.models import Membership, TenantChange
from tests.helpers import change_url
from tests.oauth_member import PASSWORD, issue_token


def test_the_tenant_page_lists_members_and_the_clients_they_authorised(admin_client, make_tenant):
    acme = make_tenant("acme")
    ana = User.objects.create_user("ana", password=PASSWORD)
    Membership.objects.create(user=ana, tenant=acme)
    token = issue_token(ana, "http://testserver/mcp/acme", scope="read")

    page = admin_client.get(change_url(acme)).content.decode()

    assert "ana" in page and "Test MCP client (read; until" in page
    assert token not in page


def test_staff_add_a_member_on_the_tenant_page(admin_client, make_tenant):
    acme = make_tenant("acme", name="Acme")
    ana = User.objects.create_user("ana", password=PASSWORD)
    page = admin_client.get(change_url(acme))
    data = {
        key: value
        for key, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list)
    }
    data.update(
        {
            "enabled": "on",
            "access_keys-TOTAL_FORMS": "0",
            "access_keys-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(ana.pk),
            "new_token": "",
        }
    )
    response = admin_client.post(change_url(acme), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Membership.objects.filter(user=ana, tenant=acme).exists()


def test_the_user_page_lists_the_tenants_a_user_belongs_to(admin_client, make_tenant):
    ana = User.objects.create_user("ana", password=PASSWORD)
    Membership.objects.create(user=ana, tenant=make_tenant("acme"))
    page = admin_client.get(reverse("admin:auth_user_change", args=[ana.pk])).content.decode()
    assert "tenant membership" in page.lower() and "Tenant acme (acme)" in page


def test_revoking_a_members_clients_ends_their_tokens_for_that_tenant_only(admin_client, make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    ana = User.objects.create_user("ana", password=PASSWORD)
    membership = Membership.objects.create(user=ana, tenant=acme)
    Membership.objects.create(user=ana, tenant=globex)
    issue_token(ana, "http://testserver/mcp/acme")
    issue_token(ana, "http://testserver/mcp/globex")
    RefreshToken.objects.create(
        user=ana,
        application=AccessToken.objects.first().application,
        token="",
        resource=["http://testserver/mcp/acme"],
    )
    changes_before = TenantChange.objects.filter(client_id="acme").count()

    response = admin_client.post(
        reverse("admin:tenants_membership_changelist"),
        {"action": "revoke_authorised_clients", "_selected_action": [membership.pk]},
        follow=True,
    )

    assert "Revoked 2 grant(s) of 1 member(s)." in response.content.decode()
    assert [token.resource for token in AccessToken.objects.all()] == [["http://testserver/mcp/globex"]]
    assert RefreshToken.objects.get().revoked is not None
    assert TenantChange.objects.filter(client_id="acme").count() > changes_before
