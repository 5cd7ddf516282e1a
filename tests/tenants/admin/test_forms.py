"""The tenant form's tool allow-list, read-only switch and response budget (tenants/admin/forms.py),
through the admin."""

import re

import pytest
from django.urls import reverse

from tenants.models import ClientConfig, TenantChange
from tenants.oneapp.catalog import CATALOG, TOOL_NAMES
from tests.helpers import change_url, tenant_form


def form_data(tenant: ClientConfig, **overrides) -> dict:
    """The change form of a make_tenant tenant, keys section untouched; no tool ticked unless given."""
    return tenant_form(
        client_id=tenant.client_id,
        name=tenant.name,
        **{"access_keys-TOTAL_FORMS": "0", "access_keys-INITIAL_FORMS": "0", **overrides},
    )


# The tool allow-list and the read-only switch.


@pytest.mark.django_db
def test_the_form_offers_one_checkbox_per_tool_labelled_with_its_name_and_description(
    admin_client, make_tenant
):
    page = admin_client.get(change_url(make_tenant("acme")))
    field = page.context["adminform"].form.fields["allowed_tools"]
    assert [value for value, _ in field.choices] == list(TOOL_NAMES)
    assert len(TOOL_NAMES) == 18
    boxes = re.findall(r'<input type="checkbox" name="allowed_tools" value="([a-z_]+)"', page.text)
    assert boxes == list(TOOL_NAMES)
    for spec in CATALOG:
        assert f"<code>{spec.name}</code>" in page.text
    assert CATALOG[0].description in page.text
    assert 'name="read_only"' in page.text


@pytest.mark.django_db
def test_ticking_two_tools_and_read_only_saves_them_on_the_row(admin_client, make_tenant):
    acme = make_tenant("acme")
    before = TenantChange.objects.count()
    chosen = ["moai_visapp_foto", "core_list_sucursales"]

    response = admin_client.post(change_url(acme), form_data(acme, allowed_tools=chosen, read_only="on"))

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.allowed_tools == ["core_list_sucursales", "moai_visapp_foto"]  # catalog order
    assert acme.read_only is True
    assert acme.exposed_tools() == frozenset({"core_list_sucursales"})
    assert TenantChange.objects.filter(client_id="acme").count() > before  # every worker rebuilds


@pytest.mark.django_db
def test_saved_tools_come_back_ticked(admin_client, make_tenant):
    acme = make_tenant("acme", allowed_tools=["visual_areas"], read_only=True)
    page = admin_client.get(change_url(acme))
    assert re.findall(r'value="([a-z_]+)"[^>]*checked', page.text) == ["visual_areas"]
    assert re.search(r'name="read_only"[^>]*checked', page.text)


@pytest.mark.django_db
def test_unticking_every_tool_saves_an_empty_list_which_exposes_all(admin_client, make_tenant):
    acme = make_tenant("acme", allowed_tools=["visual_areas", "core_list_zonas"], read_only=True)

    assert admin_client.post(change_url(acme), form_data(acme)).status_code == 302

    acme.refresh_from_db()
    assert (acme.allowed_tools, acme.read_only) == ([], False)
    assert acme.exposed_tools() is None


@pytest.mark.django_db
def test_an_unknown_tool_name_is_a_form_error_and_changes_nothing(admin_client, make_tenant):
    acme = make_tenant("acme", allowed_tools=["visual_areas"])
    response = admin_client.post(
        change_url(acme), form_data(acme, allowed_tools=["visual_areas", "drop_database"])
    )
    assert response.status_code == 200
    assert "allowed_tools" in response.context["adminform"].form.errors
    acme.refresh_from_db()
    assert acme.allowed_tools == ["visual_areas"]


@pytest.mark.django_db
def test_a_new_tenant_can_be_added_with_its_allow_list(admin_client):
    data = {**tenant_form(allowed_tools=["core_list_zonas"]), "access_keys-TOTAL_FORMS": "0"}
    data["access_keys-INITIAL_FORMS"] = "0"
    assert admin_client.post(reverse("admin:tenants_clientconfig_add"), data).status_code == 302
    assert ClientConfig.objects.get().allowed_tools == ["core_list_zonas"]


# The response budget (its effect on answers: tests/mcp_endpoint/test_budget.py).


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1999", "Enter at least 2000 characters (about 500 tokens)"),
        ("0", "Enter at least 2000 characters (about 500 tokens)"),
        ("1000001", "Enter at most 1000000 characters (about 250,000 tokens)"),
        ("-5", "Enter at least 2000 characters"),
        ("lots", "Enter a whole number."),
    ],
)
def test_a_budget_out_of_range_is_a_form_error_that_says_the_range_and_changes_nothing(
    admin_client, make_tenant, value, message
):
    acme = make_tenant("acme", response_budget_chars=50_000)
    before = ClientConfig.objects.values().get()

    response = admin_client.post(change_url(acme), form_data(acme, response_budget_chars=value))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["response_budget_chars"]
    assert any(error.startswith(message) for error in errors), errors
    assert ClientConfig.objects.values().get() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "stored"), [("2000", 2000), ("1000000", 1_000_000), ("", None)])
def test_a_budget_in_range_is_saved_and_empty_means_the_servers_default(
    admin_client, make_tenant, value, stored
):
    acme = make_tenant("acme", response_budget_chars=50_000)

    response = admin_client.post(change_url(acme), form_data(acme, response_budget_chars=value))

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.response_budget_chars == stored
    assert acme.snapshot().response_budget_chars == stored
