"""The tenant admin (tenants/admin/tenants.py and its write-only token): through the Django test client, on
the real database."""

import json
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.db.models.signals import post_save
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from tenants.admin import TOKEN_FIELD, ClientConfigAdmin
from tenants.models import ClientConfig
from tests.helpers import (
    CANARY_TOKEN,
    TENANT_ADD,
    TENANTS_CHANGELIST,
    change_url,
    messages_of,
    raw_token,
    tenant_form,
    view_only_client,
)

# Typed into the admin forms. No dictionary words, so any 8-character piece of it in a page is a leak.
ADMIN_TOKEN = "Bearer Qx7vK2pL9wR4tZ8mN3sD6fH1a2b"
ADMIN_HINT = "••••1a2b"
CANARY_HINT = "••••" + CANARY_TOKEN[-4:]


def form_data(**overrides: str) -> dict[str, str]:
    """A valid add or change form POST, with the access keys section left as it is."""
    return tenant_form(**{"access_keys-TOTAL_FORMS": "0", "access_keys-INITIAL_FORMS": "0", **overrides})


def assert_token_absent(html: str, token: str = ADMIN_TOKEN) -> None:
    pieces = {token[i : i + 8] for i in range(len(token) - 7)}
    leaked = sorted(piece for piece in pieces if piece in html)
    assert not leaked, f"pieces of the token appear in the page: {leaked}"


def assert_hint_only(html: str, hint: str) -> None:
    """The last four characters of a token appear, if at all, only inside its masked hint."""
    last4 = hint[-4:]
    assert html.count(last4) == html.count(hint)


def form_errors(response) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


@pytest.fixture
def saves():
    """Counts post_save signals for tenants, as the MCP server cache relies on them."""
    seen: list[ClientConfig] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_save.connect(receiver, sender=ClientConfig)
    yield seen
    post_save.disconnect(receiver, sender=ClientConfig)


# Adding a tenant and never seeing its token again


@pytest.mark.django_db
def test_added_tenant_stores_the_token_encrypted_and_no_page_ever_shows_it(admin_client):
    add_page = admin_client.get(TENANT_ADD)
    assert add_page.status_code == 200
    assert f'name="{TOKEN_FIELD}"' in add_page.text

    response = admin_client.post(TENANT_ADD, form_data(**{TOKEN_FIELD: ADMIN_TOKEN}))
    assert response.status_code == 302
    tenant = ClientConfig.objects.get(client_id="acme")
    assert tenant.authorization == ADMIN_TOKEN
    assert ADMIN_TOKEN not in raw_token("acme")

    pages = {
        "redirect target": admin_client.get(response.url),
        "changelist": admin_client.get(TENANTS_CHANGELIST),
        "change": admin_client.get(change_url(tenant)),
        "history": admin_client.get(reverse("admin:tenants_clientconfig_history", args=[tenant.pk])),
        "delete": admin_client.get(reverse("admin:tenants_clientconfig_delete", args=[tenant.pk])),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert_token_absent(page.text)
        assert_hint_only(page.text, ADMIN_HINT)
    assert ADMIN_HINT in pages["changelist"].text
    assert ADMIN_HINT in pages["change"].text


@pytest.mark.django_db
def test_add_page_offers_no_token_status_or_clear_choice(admin_client):
    form = admin_client.get(TENANT_ADD).context["adminform"].form
    assert TOKEN_FIELD in form.fields
    assert "clear_token" not in form.fields
    assert "client_id" in form.fields


@pytest.mark.django_db
def test_clear_token_posted_to_the_add_page_is_ignored(admin_client):
    response = admin_client.post(TENANT_ADD, form_data(clear_token="on", **{TOKEN_FIELD: ADMIN_TOKEN}))
    assert response.status_code == 302
    assert ClientConfig.objects.get().authorization == ADMIN_TOKEN


@pytest.mark.django_db
def test_tenant_added_without_a_token_has_none(admin_client):
    assert admin_client.post(TENANT_ADD, form_data()).status_code == 302
    assert ClientConfig.objects.get(client_id="acme").has_token is False


@pytest.mark.django_db
def test_client_id_is_lowercased_on_add(admin_client):
    assert admin_client.post(TENANT_ADD, form_data(client_id="  AcMe42 ")).status_code == 302
    assert list(ClientConfig.objects.values_list("client_id", flat=True)) == ["acme42"]


@pytest.mark.django_db
def test_duplicate_client_id_differing_only_in_case_is_a_form_error(admin_client, make_tenant):
    make_tenant("acme")
    response = admin_client.post(
        TENANT_ADD, form_data(client_id="ACME", name="Impostor", **{TOKEN_FIELD: ADMIN_TOKEN})
    )
    assert response.status_code == 200
    assert "client_id" in form_errors(response)
    assert_token_absent(response.text)
    assert list(ClientConfig.objects.values_list("name", flat=True)) == ["Tenant acme"]
    assert ClientConfig.objects.get().authorization == CANARY_TOKEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_id", "a-b"),
        ("client_id", "a b"),
        ("client_id", "ñandu"),
        ("client_id", "../etc"),
        ("client_id", "a" * 65),
        ("client_id", ""),
        ("core_base_url", "ftp://core.example.test"),
        ("core_base_url", "javascript:alert(1)"),
        ("client_base_url", "javascript:alert(1)"),
        ("client_base_url", "http://"),
        ("http_timeout_ms", "0"),
        ("http_timeout_ms", "300001"),
        ("http_timeout_ms", "-5"),
        ("http_timeout_ms", "99999999999999999999999"),
        ("http_timeout_ms", "soon"),
    ],
)
def test_invalid_input_on_add_is_a_form_error_and_adds_nothing(admin_client, field, value):
    response = admin_client.post(TENANT_ADD, form_data(**{field: value, TOKEN_FIELD: ADMIN_TOKEN}))
    assert response.status_code == 200
    assert field in form_errors(response)
    assert_token_absent(response.text)
    assert not ClientConfig.objects.exists()


# Changing a tenant


@pytest.mark.django_db
def test_change_page_has_an_empty_write_only_token_input(admin_client, make_tenant):
    tenant = make_tenant("acme")
    response = admin_client.get(change_url(tenant))
    assert response.status_code == 200
    [token_input] = re.findall(rf"<input[^>]*name=\"{TOKEN_FIELD}\"[^>]*>", response.text)
    assert 'type="password"' in token_input and "value=" not in token_input
    assert CANARY_HINT in response.text
    assert_token_absent(response.text, CANARY_TOKEN)


@pytest.mark.django_db
def test_blank_token_keeps_the_stored_token(admin_client, make_tenant):
    tenant = make_tenant("acme")
    before = raw_token("acme")
    response = admin_client.post(change_url(tenant), form_data(name="Renamed"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.name, tenant.authorization) == ("Renamed", CANARY_TOKEN)
    assert raw_token("acme") == before


@pytest.mark.django_db
def test_new_token_replaces_the_stored_token(admin_client, make_tenant):
    tenant = make_tenant("acme")
    response = admin_client.post(change_url(tenant), form_data(**{TOKEN_FIELD: ADMIN_TOKEN}))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.authorization == ADMIN_TOKEN


@pytest.mark.django_db
def test_clear_token_removes_the_stored_token(admin_client, make_tenant):
    tenant = make_tenant("acme")
    response = admin_client.post(change_url(tenant), form_data(clear_token="on"))
    assert response.status_code == 302
    assert raw_token("acme") == ""
    assert "not set" in admin_client.get(change_url(tenant)).text


@pytest.mark.django_db
def test_new_token_and_clear_token_together_are_a_form_error(admin_client, make_tenant):
    tenant = make_tenant("acme")
    before = raw_token("acme")
    response = admin_client.post(
        change_url(tenant), form_data(clear_token="on", **{TOKEN_FIELD: ADMIN_TOKEN})
    )
    assert response.status_code == 200
    assert "not both" in response.text
    assert_token_absent(response.text)
    assert raw_token("acme") == before


@pytest.mark.django_db
def test_form_error_rerender_drops_the_typed_token_and_changes_nothing(admin_client, make_tenant):
    tenant = make_tenant("acme")
    before = raw_token("acme")
    response = admin_client.post(
        change_url(tenant),
        form_data(name="Renamed", core_base_url="ftp://core.example.test", **{TOKEN_FIELD: ADMIN_TOKEN}),
    )
    assert response.status_code == 200
    assert "core_base_url" in form_errors(response)
    assert_token_absent(response.text)
    tenant.refresh_from_db()
    assert (tenant.name, tenant.core_base_url) == ("Tenant acme", "https://core.example.test")
    assert raw_token("acme") == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("core_base_url", "javascript:alert(1)"),
        ("client_base_url", "ftp://front.example.test"),
        ("http_timeout_ms", "0"),
        ("http_timeout_ms", "300001"),
        ("name", ""),
        ("caller_rate_limit_per_minute", "0"),
        ("caller_rate_limit_per_minute", "1000001"),
        ("caller_rate_limit_per_minute", "many"),
    ],
)
def test_invalid_input_on_change_is_a_form_error_and_changes_nothing(admin_client, make_tenant, field, value):
    tenant = make_tenant("acme")
    before = ClientConfig.objects.values().get()
    response = admin_client.post(change_url(tenant), form_data(**{field: value}))
    assert response.status_code == 200
    assert field in form_errors(response)
    assert ClientConfig.objects.values().get() == before


@pytest.mark.django_db
def test_the_per_caller_limit_is_set_and_emptied_in_the_limits_section_and_reaches_the_request_path(
    admin_client, make_tenant
):
    tenant = make_tenant("acme")
    page = admin_client.get(change_url(tenant)).text
    limits = page[page.index('class="fieldset-heading">Limits</h2>') :]
    assert 'name="caller_rate_limit_per_minute"' in limits.split("</fieldset>")[0]

    assert (
        admin_client.post(change_url(tenant), form_data(caller_rate_limit_per_minute="30")).status_code == 302
    )
    tenant.refresh_from_db()
    assert tenant.caller_rate_limit_per_minute == 30
    assert tenant.snapshot().caller_rate_limit_per_minute == 30

    assert (
        admin_client.post(change_url(tenant), form_data(caller_rate_limit_per_minute="")).status_code == 302
    )
    tenant.refresh_from_db()
    assert tenant.snapshot().caller_rate_limit_per_minute is None  # the tenant's limit alone


@pytest.mark.django_db
def test_client_id_cannot_be_changed_on_the_change_page(admin_client, make_tenant):
    tenant = make_tenant("acme")
    page = admin_client.get(change_url(tenant))
    assert "client_id" not in page.context["adminform"].form.fields

    response = admin_client.post(change_url(tenant), form_data(client_id="other", name="Renamed"))
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.client_id, tenant.name) == ("acme", "Renamed")
    assert not ClientConfig.objects.filter(client_id="other").exists()


@pytest.mark.django_db
def test_change_history_names_changed_fields_but_never_the_token(admin_client, make_tenant):
    tenant = make_tenant("acme")
    admin_client.post(change_url(tenant), form_data(name="Renamed", **{TOKEN_FIELD: ADMIN_TOKEN}))
    entry = LogEntry.objects.get(object_id=str(tenant.pk))
    assert json.loads(entry.change_message) == [{"changed": {"fields": ["Name", "Upstream token"]}}]
    assert_token_absent(entry.change_message + entry.object_repr + entry.get_change_message())


@pytest.mark.django_db
def test_add_history_never_carries_the_token(admin_client):
    admin_client.post(TENANT_ADD, form_data(**{TOKEN_FIELD: ADMIN_TOKEN}))
    entry = LogEntry.objects.get()
    assert entry.get_change_message() == "Added."
    assert_token_absent(entry.change_message + entry.object_repr)


# Error reports


@pytest.fixture
def seen_requests(monkeypatch):
    """The requests that reached the admin's form view, after its decorators ran."""
    seen = []
    original = ClientConfigAdmin._changeform_view

    def recording(self, request, *args, **kwargs):
        seen.append(request)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(ClientConfigAdmin, "_changeform_view", recording)
    return seen


@pytest.mark.django_db
def test_error_reports_cleanse_the_token_posted_to_the_add_page(admin_client, seen_requests):
    admin_client.post(TENANT_ADD, form_data(**{TOKEN_FIELD: ADMIN_TOKEN}))
    [request] = seen_requests
    assert list(request.sensitive_post_parameters) == [TOKEN_FIELD]
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed[TOKEN_FIELD] == "********************"
    assert cleansed["name"] == "Acme"


@pytest.mark.django_db
def test_error_reports_cleanse_the_token_posted_to_the_change_page(admin_client, make_tenant, seen_requests):
    tenant = make_tenant("acme")
    admin_client.post(change_url(tenant), form_data(**{TOKEN_FIELD: ADMIN_TOKEN}))
    [request] = seen_requests
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    assert cleansed[TOKEN_FIELD] == "********************"


# The changelist


@pytest.mark.django_db
def test_changelist_shows_masked_hints_and_not_set(admin_client, make_tenant):
    make_tenant("acme")
    make_tenant("empty", authorization="")
    response = admin_client.get(TENANTS_CHANGELIST)
    assert response.status_code == 200
    assert CANARY_HINT in response.text
    assert "not set" in response.text
    assert "https://core.example.test" in response.text and "https://front.example.test" in response.text
    assert_token_absent(response.text, CANARY_TOKEN)
    assert_hint_only(response.text, CANARY_HINT)


def listed(response) -> list[str]:
    return sorted(tenant.client_id for tenant in response.context["cl"].result_list)


@pytest.mark.django_db
def test_changelist_searches_by_client_id_and_by_name(admin_client, make_tenant):
    make_tenant("acme", name="Acme Retail")
    make_tenant("globex", name="Globex Corporation")
    assert listed(admin_client.get(TENANTS_CHANGELIST, {"q": "glob"})) == ["globex"]
    assert listed(admin_client.get(TENANTS_CHANGELIST, {"q": "retail"})) == ["acme"]


@pytest.mark.django_db
def test_changelist_search_does_not_look_at_the_token(admin_client, make_tenant):
    make_tenant("acme")
    assert listed(admin_client.get(TENANTS_CHANGELIST, {"q": "canary"})) == []


@pytest.mark.django_db
def test_changelist_filters_by_enabled(admin_client, make_tenant):
    make_tenant("acme")
    make_tenant("off", enabled=False)
    assert listed(admin_client.get(TENANTS_CHANGELIST, {"enabled__exact": "0"})) == ["off"]
    assert listed(admin_client.get(TENANTS_CHANGELIST, {"enabled__exact": "1"})) == ["acme"]


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["authorization", "authorization__startswith", "authorization__isnull"])
def test_changelist_refuses_lookups_on_the_token(admin_client, make_tenant, lookup):
    make_tenant("acme")
    response = admin_client.get(TENANTS_CHANGELIST, {lookup: "g"})
    assert response.status_code == 400


@pytest.mark.django_db
def test_undecryptable_token_is_reported_in_the_changelist_and_change_page(
    admin_client, make_tenant, settings, fresh_key
):
    tenant = make_tenant("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    for url in (TENANTS_CHANGELIST, change_url(tenant)):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "cannot be decrypted" in response.text


@pytest.mark.django_db
def test_tenant_with_undecryptable_token_can_still_be_edited_keeping_its_ciphertext(
    admin_client, make_tenant, settings, fresh_key
):
    tenant = make_tenant("acme")
    before = raw_token("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    response = admin_client.post(change_url(tenant), form_data(name="Renamed"))
    assert response.status_code == 302
    assert raw_token("acme") == before
    assert ClientConfig.objects.get().name == "Renamed"


# Bulk actions


def run_action(client: Client, action: str, tenants: list[ClientConfig], **extra: str):
    return client.post(
        TENANTS_CHANGELIST,
        {"action": action, "_selected_action": [tenant.pk for tenant in tenants], **extra},
        follow=True,
    )


@pytest.mark.django_db
def test_disable_action_disables_the_selected_tenants_through_save(admin_client, make_tenant, saves):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    make_tenant("other")
    saves.clear()
    response = run_action(admin_client, "disable_tenants", [acme, globex], post="yes")  # confirmed
    assert response.status_code == 200
    assert messages_of(response) == ["Disabled 2 of 2 selected tenants."]
    assert dict(ClientConfig.objects.values_list("client_id", "enabled")) == {
        "acme": False,
        "globex": False,
        "other": True,
    }
    assert sorted(tenant.client_id for tenant in saves) == ["acme", "globex"]


@pytest.mark.django_db
def test_enable_action_counts_only_tenants_it_changed(admin_client, make_tenant, saves):
    acme, off = make_tenant("acme"), make_tenant("off", enabled=False)
    saves.clear()
    response = run_action(admin_client, "enable_tenants", [acme, off])
    assert messages_of(response) == ["Enabled 1 of 2 selected tenants."]
    assert ClientConfig.objects.filter(enabled=True).count() == 2
    assert [tenant.client_id for tenant in saves] == ["off"]


@pytest.mark.django_db
def test_disable_action_works_when_a_token_cannot_be_decrypted(
    admin_client, make_tenant, settings, fresh_key
):
    acme = make_tenant("acme")
    before = raw_token("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    response = run_action(admin_client, "disable_tenants", [acme], post="yes")
    assert messages_of(response) == ["Disabled 1 of 1 selected tenant."]
    assert ClientConfig.objects.get().enabled is False
    assert raw_token("acme") == before


# Staff who may only view


@pytest.fixture
def viewer_client(db):
    return view_only_client("view_clientconfig")


@pytest.mark.django_db
def test_view_only_staff_see_the_tenant_with_a_masked_token(viewer_client, make_tenant):
    tenant = make_tenant("acme")
    response = viewer_client.get(change_url(tenant))
    assert response.status_code == 200
    assert CANARY_HINT in response.text
    fields = response.context["adminform"].readonly_fields
    assert TOKEN_FIELD not in fields and "clear_token" not in fields
    assert f'name="{TOKEN_FIELD}"' not in response.text
    assert_token_absent(response.text, CANARY_TOKEN)


@pytest.mark.django_db
def test_view_only_staff_get_no_bulk_actions(viewer_client, make_tenant):
    acme = make_tenant("acme")
    response = run_action(viewer_client, "disable_tenants", [acme], post="yes")
    assert response.status_code == 200
    assert ClientConfig.objects.get().enabled is True


# Usability.


def help_texts(page) -> dict[str, str]:
    """Every field of the tenant page, the keys inline's included, with its help text."""
    shown = {}
    for fieldset in page.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.is_readonly:
                    shown[field.field["name"]] = str(field.field["help_text"])
                else:
                    shown[field.field.name] = str(field.field.help_text)
    for inline in page.context["inline_admin_formsets"]:
        for column in inline.fields():
            shown[f"keys.{column['name']}"] = str(column["help_text"] or "")
    return shown


@pytest.mark.django_db
def test_every_field_on_the_tenant_page_has_help_text(admin_client, make_tenant):
    shown = help_texts(admin_client.get(change_url(make_tenant("acme"))))
    assert len(shown) > 20
    assert [name for name, text in shown.items() if not text.strip()] == []


@pytest.mark.django_db
def test_every_field_on_the_add_page_has_help_text(admin_client):
    shown = help_texts(admin_client.get(reverse("admin:tenants_clientconfig_add")))
    assert [name for name, text in shown.items() if not text.strip()] == []


@pytest.mark.django_db
def test_fieldsets_go_identity_connection_token_tools_limits_then_history(admin_client, make_tenant):
    page = admin_client.get(change_url(make_tenant("acme")))
    assert [fieldset.name for fieldset in page.context["adminform"]] == [
        None,
        "OneApp connection",
        "Upstream token",
        "Tools",
        "Limits",
        "Audit log",
        "Status and history",
    ]


@pytest.mark.django_db
def test_the_list_is_ordered_by_client_id(admin_client, make_tenant):
    for client_id in ("zeta", "acme", "mid"):
        make_tenant(client_id)
    page = admin_client.get(TENANTS_CHANGELIST)
    assert [tenant.client_id for tenant in page.context["cl"].result_list] == ["acme", "mid", "zeta"]
