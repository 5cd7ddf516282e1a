"""Access keys in admin: created on the tenant page and shown once, listed and revoked, never hashed in
view."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from tenants.admin import KEY_CREATED_TEMPLATE, KEYS_PREFIX, IssuedKey
from tenants.keys import hash_key
from tenants.models import AccessKey, ClientConfig, TenantChange
from tests.helpers import (
    ACME_KEY,
    TENANT_ADD,
    change_url,
    give_key,
    messages_of,
    tenant_form,
    view_only_client,
)

ANY_KEY = re.compile(r"omk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")
KEYS_CHANGELIST = reverse("admin:tenants_accesskey_changelist")


def tenant_fields(tenant: ClientConfig | None = None) -> dict[str, str]:
    """The tenant form as make_tenant's defaults fill it, or a new tenant "acme" when `tenant` is None."""
    if tenant is None:
        return tenant_form()
    return tenant_form(client_id=tenant.client_id, name=tenant.name)


def key_row(access_key: AccessKey, **fields: str) -> dict[str, str]:
    """An inline row for an existing key, as the change page posts it back untouched."""
    return {
        "id": str(access_key.pk),
        "name": access_key.name,
        "expires_at_0": "",
        "expires_at_1": "",
        **fields,
    }


def new_row(name: str, **fields: str) -> dict[str, str]:
    return {"name": name, "expires_at_0": "", "expires_at_1": "", **fields}


def tenant_post(
    tenant: ClientConfig | None, existing: list[dict[str, str]] = (), new: list[dict[str, str]] = (), **fields
) -> dict[str, str]:
    """A whole tenant form POST with its keys inline: `existing` rows first, then `new` ones."""
    rows = [*existing, *new]
    data = {**tenant_fields(tenant), **fields}
    data.update(
        {
            f"{KEYS_PREFIX}-TOTAL_FORMS": str(len(rows)),
            f"{KEYS_PREFIX}-INITIAL_FORMS": str(len(existing)),
            f"{KEYS_PREFIX}-MIN_NUM_FORMS": "0",
            f"{KEYS_PREFIX}-MAX_NUM_FORMS": "1000",
        }
    )
    for index, row in enumerate(rows):
        if tenant is not None:
            data[f"{KEYS_PREFIX}-{index}-tenant"] = str(tenant.pk)
        data.update({f"{KEYS_PREFIX}-{index}-{name}": value for name, value in row.items()})
    return data


def named_key(tenant: ClientConfig, name: str) -> AccessKey:
    """ACME_KEY for `tenant`, under another name than give_key's."""
    access_key = give_key(tenant, ACME_KEY)
    AccessKey.objects.filter(pk=access_key.pk).update(name=name)
    access_key.refresh_from_db()
    return access_key


def shown_keys(html: str) -> list[str]:
    return ANY_KEY.findall(html)


def assert_secret_absent(text: str, key: str) -> None:
    """Neither the key's secret part nor its hash, nor any 8-character piece of them, is in `text`."""
    for secret in (key[13:], hash_key(key)):
        pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
        leaked = sorted(piece for piece in pieces if piece in text)
        assert not leaked, f"pieces of the key or its hash appear: {leaked}"


@pytest.fixture
def acme(make_tenant) -> ClientConfig:
    return make_tenant("acme")


@pytest.fixture
def create_key(admin_client, acme):
    """Create a key from acme's change page; returns the response and the key it showed."""

    def create(name: str = "Claude Desktop, Ana", **fields: str):
        response = admin_client.post(change_url(acme), tenant_post(acme, new=[new_row(name, **fields)]))
        assert response.status_code == 200
        [key] = shown_keys(response.text)
        return response, key

    return create


# Creating a key and seeing it exactly once


@pytest.mark.django_db
def test_key_created_from_the_inline_is_shown_once_and_only_its_hash_is_stored(create_key, acme):
    response, key = create_key()

    assert response.templates[0].name == KEY_CREATED_TEMPLATE
    assert response.text.count(key) == 1
    access_key = AccessKey.objects.get()
    assert (access_key.tenant, access_key.name) == (acme, "Claude Desktop, Ana")
    assert access_key.prefix == key[4:12]
    assert access_key.key_hash == hash_key(key)
    assert key not in str(AccessKey.objects.values().get())
    assert f"Claude Desktop, Ana — omk_{access_key.prefix}" in response.text
    assert "will not be shown again" in response.text
    assert f'href="{change_url(acme)}"' in response.text
    assert "tenants/admin/copy-key.js" in response.text  # the Copy button's script (a file: CSP)
    assert hash_key(key) not in response.text


@pytest.mark.django_db
def test_page_showing_a_key_is_never_stored_by_the_browser(create_key):
    response, _ = create_key()
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_new_key_is_kept_in_no_message_session_or_cookie(create_key, admin_client):
    response, key = create_key()
    assert messages_of(response) == []
    assert key not in str(dict(admin_client.session))
    assert all(key not in morsel.value for morsel in response.cookies.values())
    assert all(key not in morsel.value for morsel in admin_client.cookies.values())


@pytest.mark.django_db
def test_new_key_appears_on_no_later_page_and_in_no_history(create_key, admin_client, acme):
    _, key = create_key()
    access_key = AccessKey.objects.get()

    change_page = admin_client.get(change_url(acme))
    assert access_key.display_prefix in change_page.text
    pages = {
        "tenant change": change_page,
        "tenant changelist": admin_client.get(reverse("admin:tenants_clientconfig_changelist")),
        "tenant history": admin_client.get(reverse("admin:tenants_clientconfig_history", args=[acme.pk])),
        "tenant delete": admin_client.get(reverse("admin:tenants_clientconfig_delete", args=[acme.pk])),
        "key changelist": admin_client.get(KEYS_CHANGELIST),
        "key change": admin_client.get(reverse("admin:tenants_accesskey_change", args=[access_key.pk])),
        "key history": admin_client.get(reverse("admin:tenants_accesskey_history", args=[access_key.pk])),
        "key delete": admin_client.get(reverse("admin:tenants_accesskey_delete", args=[access_key.pk])),
        "admin index": admin_client.get(reverse("admin:index")),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert shown_keys(page.text) == [], name
        assert_secret_absent(page.text, key)

    [entry] = LogEntry.objects.all()
    assert entry.get_change_message() == f"Added access key “{access_key}”."
    assert_secret_absent(entry.change_message + entry.object_repr + entry.get_change_message(), key)


@pytest.mark.django_db
def test_key_created_with_an_expiry_stores_it(create_key):
    create_key(expires_at_0="2099-01-31", expires_at_1="12:30:00")
    assert AccessKey.objects.get().expires_at == datetime(2099, 1, 31, 12, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_key_with_an_expiry_in_the_past_is_a_form_error_and_is_not_created(admin_client, acme):
    data = tenant_post(acme, new=[new_row("Ana", expires_at_0="2001-01-01", expires_at_1="00:00:00")])
    response = admin_client.post(change_url(acme), data)
    assert response.status_code == 200
    assert "Pick a moment in the future" in response.text
    assert shown_keys(response.text) == []
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
def test_new_row_without_a_name_is_a_form_error_and_no_key_is_created(admin_client, acme):
    data = tenant_post(acme, new=[new_row("", expires_at_0="2099-01-01", expires_at_1="00:00:00")])
    response = admin_client.post(change_url(acme), data)
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0]["name"]
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
def test_tenant_form_error_creates_no_key_and_shows_none(admin_client, acme):
    data = tenant_post(acme, new=[new_row("Ana")], http_timeout_ms="0")
    response = admin_client.post(change_url(acme), data)
    assert response.status_code == 200
    assert "http_timeout_ms" in response.context["adminform"].form.errors
    assert shown_keys(response.text) == []
    assert not AccessKey.objects.exists()


@pytest.mark.django_db
def test_saving_with_an_empty_extra_row_creates_no_key_and_redirects_as_usual(admin_client, acme):
    response = admin_client.post(change_url(acme), tenant_post(acme, new=[new_row("")], name="Renamed"))
    assert response.status_code == 302
    assert not AccessKey.objects.exists()
    assert ClientConfig.objects.get().name == "Renamed"


@pytest.mark.django_db
def test_two_keys_created_at_once_are_each_shown_once(admin_client, acme):
    data = tenant_post(acme, new=[new_row("Ana"), new_row("Bruno")])
    response = admin_client.post(change_url(acme), data)
    assert response.status_code == 200
    keys = shown_keys(response.text)
    assert len(set(keys)) == len(keys) == 2
    stored = {access_key.name: access_key for access_key in AccessKey.objects.all()}
    assert sorted(stored) == ["Ana", "Bruno"]
    assert {access_key.key_hash for access_key in stored.values()} == {hash_key(key) for key in keys}
    for access_key in stored.values():
        assert f"{access_key.name} — {access_key.display_prefix}" in response.text


@pytest.mark.django_db
def test_tenant_added_with_a_key_shows_the_key_once(admin_client):
    response = admin_client.post(TENANT_ADD, tenant_post(None, new=[new_row("First key")]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [key] = shown_keys(response.text)
    tenant = ClientConfig.objects.get()
    access_key = AccessKey.objects.get()
    assert (access_key.tenant, access_key.key_hash) == (tenant, hash_key(key))
    assert f'href="{change_url(tenant)}"' in response.text


@pytest.mark.django_db
def test_creating_a_key_records_a_tenant_change(create_key):
    TenantChange.objects.all().delete()
    create_key()
    assert set(TenantChange.objects.values_list("client_id", flat=True)) == {"acme"}


def test_issued_key_repr_leaves_the_key_out():
    issued = IssuedKey(AccessKey(prefix="acme0key", name="tests"), ACME_KEY)
    assert ACME_KEY not in repr(issued)


# Existing keys on the tenant page


@pytest.mark.django_db
def test_change_page_lists_keys_by_prefix_without_key_or_hash(admin_client, acme):
    named_key(acme, "Claude Desktop, Ana")
    response = admin_client.get(change_url(acme))
    assert response.status_code == 200
    assert "omk_acme0key" in response.text and "Claude Desktop, Ana" in response.text
    assert 'class="column-revoke"' in response.text
    assert_secret_absent(response.text, ACME_KEY)
    form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert set(form.fields) >= {"name", "expires_at", "revoke"}
    assert "key_hash" not in form.fields and "prefix" not in form.fields


@pytest.mark.django_db
def test_revoke_from_the_inline_sets_revoked_at_and_records_a_tenant_change(admin_client, acme):
    access_key = give_key(acme, ACME_KEY)
    TenantChange.objects.all().delete()
    response = admin_client.post(
        change_url(acme), tenant_post(acme, existing=[key_row(access_key, revoke="on")])
    )
    assert response.status_code == 302
    access_key.refresh_from_db()
    assert access_key.revoked_at is not None
    assert TenantChange.objects.filter(client_id="acme").exists()
    entry = LogEntry.objects.get()
    assert entry.get_change_message() == f"Changed Revoke for access key “{access_key}”."


@pytest.mark.django_db
def test_revoke_ticked_on_an_already_revoked_key_changes_nothing(admin_client, acme):
    revoked_at = timezone.now() - timedelta(days=1)
    access_key = give_key(acme, ACME_KEY, revoked_at=revoked_at)
    response = admin_client.post(
        change_url(acme), tenant_post(acme, existing=[key_row(access_key, revoke="on")])
    )
    assert response.status_code == 302
    access_key.refresh_from_db()
    assert access_key.revoked_at == revoked_at


@pytest.mark.django_db
def test_renaming_a_key_keeps_it_working_and_logs_field_names_only(admin_client, acme):
    access_key = give_key(acme, ACME_KEY)
    data = tenant_post(acme, existing=[key_row(access_key, name="Renamed")])
    assert admin_client.post(change_url(acme), data).status_code == 302
    access_key.refresh_from_db()
    assert (access_key.name, access_key.key_hash, access_key.revoked_at) == (
        "Renamed",
        hash_key(ACME_KEY),
        None,
    )
    assert LogEntry.objects.get().get_change_message() == f"Changed Name for access key “{access_key}”."


@pytest.mark.django_db
def test_key_can_be_deleted_from_the_inline(admin_client, acme):
    access_key = give_key(acme, ACME_KEY)
    data = tenant_post(acme, existing=[key_row(access_key, DELETE="on")])
    assert admin_client.post(change_url(acme), data).status_code == 302
    assert not AccessKey.objects.exists()


# The key admin


@pytest.mark.django_db
def test_key_admin_lists_prefix_name_and_tenant_but_never_the_hash(admin_client, acme):
    named_key(acme, "Claude Desktop, Ana")
    response = admin_client.get(KEYS_CHANGELIST)
    assert response.status_code == 200
    assert "omk_acme0key" in response.text
    assert "Claude Desktop, Ana" in response.text
    assert str(acme) in response.text
    assert_secret_absent(response.text, ACME_KEY)


def listed(response) -> list[str]:
    return sorted(access_key.name for access_key in response.context["cl"].result_list)


@pytest.fixture
def some_keys(make_tenant):
    acme, globex = make_tenant("acme"), make_tenant("globex")
    AccessKey.issue(acme, "ana")
    AccessKey.issue(globex, "bruno")
    revoked, _ = AccessKey.issue(globex, "carla")
    revoked.revoke()
    return acme, globex


@pytest.mark.django_db
def test_key_admin_filters_by_tenant_and_by_revoked(admin_client, some_keys):
    _, globex = some_keys
    assert listed(admin_client.get(KEYS_CHANGELIST, {"tenant__id__exact": globex.pk})) == ["bruno", "carla"]
    assert listed(admin_client.get(KEYS_CHANGELIST, {"revoked": "yes"})) == ["carla"]
    assert listed(admin_client.get(KEYS_CHANGELIST, {"revoked": "no"})) == ["ana", "bruno"]


@pytest.mark.django_db
def test_key_admin_searches_by_prefix_with_or_without_omk_and_by_name(admin_client, acme):
    named_key(acme, "Claude Desktop, Ana")
    AccessKey.issue(acme, "Bruno")
    assert listed(admin_client.get(KEYS_CHANGELIST, {"q": "omk_acme0key"})) == ["Claude Desktop, Ana"]
    assert listed(admin_client.get(KEYS_CHANGELIST, {"q": "acme0k"})) == ["Claude Desktop, Ana"]
    assert listed(admin_client.get(KEYS_CHANGELIST, {"q": "bruno"})) == ["Bruno"]


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["key_hash", "key_hash__startswith", "key_hash__isnull"])
def test_key_admin_refuses_lookups_on_the_hash(admin_client, acme, lookup):
    give_key(acme, ACME_KEY)
    assert admin_client.get(KEYS_CHANGELIST, {lookup: hash_key(ACME_KEY)[:2]}).status_code == 400


@pytest.mark.django_db
def test_key_admin_has_no_add_page(admin_client):
    assert admin_client.get(reverse("admin:tenants_accesskey_add")).status_code == 403
    assert 'href="/admin/tenants/accesskey/add/"' not in admin_client.get(KEYS_CHANGELIST).text


@pytest.mark.django_db
def test_revoke_action_revokes_the_selected_keys_and_says_how_many(admin_client, some_keys):
    keys = {access_key.name: access_key for access_key in AccessKey.objects.all()}
    TenantChange.objects.all().delete()
    response = admin_client.post(
        KEYS_CHANGELIST,
        {"action": "revoke_keys", "_selected_action": [keys["bruno"].pk, keys["carla"].pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert messages_of(response) == ["Revoked 1 of 2 selected access keys."]
    revoked = dict(AccessKey.objects.values_list("name", "revoked_at"))
    assert revoked["bruno"] is not None and revoked["ana"] is None
    assert revoked["carla"] == keys["carla"].revoked_at
    assert list(TenantChange.objects.values_list("client_id", flat=True)) == ["globex"]


@pytest.mark.django_db
def test_key_change_page_edits_the_name_and_revokes(admin_client, acme):
    access_key = give_key(acme, ACME_KEY)
    url = reverse("admin:tenants_accesskey_change", args=[access_key.pk])
    page = admin_client.get(url)
    assert set(page.context["adminform"].form.fields) == {"name", "expires_at", "revoke"}
    assert_secret_absent(page.text, ACME_KEY)
    data = {"name": "Renamed", "expires_at_0": "", "expires_at_1": "", "revoke": "on"}
    assert admin_client.post(url, data).status_code == 302
    access_key.refresh_from_db()
    assert access_key.name == "Renamed" and access_key.revoked_at is not None


# Staff who may only view


@pytest.fixture
def viewer_client(db):
    return view_only_client("view_clientconfig", "view_accesskey")


@pytest.mark.django_db
def test_view_only_staff_see_keys_read_only_with_no_revoke_column(viewer_client, acme):
    give_key(acme, ACME_KEY)
    response = viewer_client.get(change_url(acme))
    assert response.status_code == 200
    assert "omk_acme0key" in response.text
    assert 'class="column-revoke"' not in response.text
    assert f'name="{KEYS_PREFIX}-0-name"' not in response.text
    assert_secret_absent(response.text, ACME_KEY)


@pytest.mark.django_db
def test_view_only_staff_cannot_revoke_with_the_action(viewer_client, acme):
    access_key = give_key(acme, ACME_KEY)
    viewer_client.post(KEYS_CHANGELIST, {"action": "revoke_keys", "_selected_action": [access_key.pk]})
    access_key.refresh_from_db()
    assert access_key.revoked_at is None
