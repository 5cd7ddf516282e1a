"""Issue 9, item 13: the write-only token cannot be redirected to another host by staff who lack it.

Changing where the token goes (either base URL, or the client header) needs the token typed again,
or cleared; otherwise the form refuses the change, saves nothing, and "Test connection" still calls
the address the token was entered for.
"""

import pytest
from django.contrib.auth.models import Permission, User
from django.db.models.signals import post_save
from django.test import Client
from django.urls import reverse

from tenants.admin import TOKEN_FIELD
from tenants.admin.forms import ClientConfigForm
from tenants.models import ClientConfig
from tests.fake_upstream import FakeOneApp
from tests.helpers import CANARY_TOKEN, tenant_form

NEW_TOKEN = "Bearer Zr8kW3nQ5tY7uP2mX4vB9cL6d1e"
ATTACKER_URL = "https://attacker.example.test"


def change_url(tenant: ClientConfig) -> str:
    return reverse("admin:tenants_clientconfig_change", args=[tenant.pk])


def posted(**overrides: str) -> dict[str, str]:
    """A change form POST for tenant "acme" as make_tenant made it, access keys left as they are."""
    return tenant_form(**{"access_keys-TOTAL_FORMS": "0", "access_keys-INITIAL_FORMS": "0", **overrides})


def bound_form(tenant: ClientConfig, **overrides: str) -> ClientConfigForm:
    return ClientConfigForm(data=posted(**overrides), instance=ClientConfig.objects.get(pk=tenant.pk))


def token_errors(response) -> list[str]:
    return response.context["adminform"].form.errors.get(TOKEN_FIELD, [])


# The form on its own.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("core_base_url", ATTACKER_URL, "core base URL"),
        ("client_base_url", ATTACKER_URL, "client base URL"),
        ("client_header", "someone-else", "client header"),
        ("client_header", "", "client header"),
    ],
)
def test_changing_where_the_token_goes_without_a_new_token_is_refused(make_tenant, field, value, named):
    form = bound_form(make_tenant("acme"), **{field: value})

    assert not form.is_valid()
    [error] = form.errors[TOKEN_FIELD]
    assert f"You changed the {named}: enter the token again, or tick “Clear token”." in error
    assert form.errors.as_data()[TOKEN_FIELD][0].code == "token_required"


@pytest.mark.django_db
def test_both_base_urls_changed_are_named_in_one_error(make_tenant):
    form = bound_form(make_tenant("acme"), core_base_url=ATTACKER_URL, client_base_url=ATTACKER_URL)

    assert not form.is_valid()
    [error] = form.errors[TOKEN_FIELD]
    assert error.startswith("You changed the core base URL and the client base URL:")


@pytest.mark.django_db
def test_the_change_is_accepted_with_a_new_token(make_tenant):
    form = bound_form(make_tenant("acme"), core_base_url=ATTACKER_URL, **{TOKEN_FIELD: NEW_TOKEN})

    assert form.is_valid(), form.errors
    tenant = form.save()
    tenant.refresh_from_db()
    assert (tenant.core_base_url, tenant.authorization) == (ATTACKER_URL, NEW_TOKEN)


@pytest.mark.django_db
def test_the_change_is_accepted_with_the_token_cleared(make_tenant):
    form = bound_form(make_tenant("acme"), client_base_url=ATTACKER_URL, clear_token="on")

    assert form.is_valid(), form.errors
    tenant = form.save()
    tenant.refresh_from_db()
    assert (tenant.client_base_url, tenant.has_token) == (ATTACKER_URL, False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "Acme renamed", "http_timeout_ms": "5000"},  # nothing about where the token goes
        {"core_base_url": "https://core.example.test/"},  # the same address: saved without the slash
    ],
)
def test_other_changes_keep_the_token_without_asking_for_it(make_tenant, overrides):
    form = bound_form(make_tenant("acme"), **overrides)

    assert form.is_valid(), form.errors
    tenant = form.save()
    tenant.refresh_from_db()
    assert tenant.authorization == CANARY_TOKEN


@pytest.mark.django_db
def test_a_tenant_without_a_token_may_change_its_urls_freely(make_tenant):
    form = bound_form(make_tenant("acme", authorization=""), core_base_url=ATTACKER_URL)

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_the_change_page_says_so_in_the_help_texts(admin_client, make_tenant):
    page = admin_client.get(change_url(make_tenant("acme")))

    form = page.context["adminform"].form
    for name in ("core_base_url", "client_base_url", "client_header"):
        assert form.fields[name].help_text.endswith("Changing it asks for the token again.")
    assert "except when you change a base URL or the client header" in form.fields[TOKEN_FIELD].help_text
    assert "Changing it asks for the token again." in page.text


# The attack, end to end: staff with change permission only, a real upstream for each host.


@pytest.fixture
def attacker_host():
    host = FakeOneApp().start()
    yield host
    host.stop()


@pytest.fixture
def editor() -> Client:
    """Staff who may view and change tenants, and nothing else (not a superuser)."""
    user = User.objects.create_user("editor", password="unused", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_clientconfig", "change_clientconfig"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_staff_cannot_send_the_stored_token_to_their_own_host(
    editor, make_tenant, fake_oneapp, attacker_host
):
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
    before = ClientConfig.objects.values().get(pk=tenant.pk)
    fake_oneapp.reply("*", body=[])
    attacker_host.reply("*", body=[])
    saves: list[ClientConfig] = []

    def saved(sender, instance, **kwargs):
        saves.append(instance)

    post_save.connect(saved, sender=ClientConfig)
    try:
        # Point the core at their host, leave the token blank ("keep current")...
        response = editor.post(
            change_url(tenant),
            posted(core_base_url=attacker_host.url, client_base_url=fake_oneapp.url, name="Acme"),
        )
        # ...then press "Test connection".
        tested = editor.post(reverse("admin:tenants_clientconfig_test_connection", args=[tenant.pk]))
    finally:
        post_save.disconnect(saved, sender=ClientConfig)

    assert response.status_code == 200  # the form again, with its error; not a redirect
    assert token_errors(response) == [
        "You changed the core base URL: enter the token again, or tick “Clear token”. "
        "The stored token is only ever sent where it was entered for."
    ]
    assert "Please correct the error below." in response.text
    assert saves == []
    assert ClientConfig.objects.values().get(pk=tenant.pk) == before  # nothing saved
    assert ClientConfig.objects.get(pk=tenant.pk).core_base_url == fake_oneapp.url

    assert tested.status_code == 302
    assert attacker_host.received == []  # their host never saw a request, let alone the token
    [call] = fake_oneapp.received
    assert (call.path, call.headers["authorization"]) == ("/core/sucursales", CANARY_TOKEN)


@pytest.mark.django_db
def test_staff_who_type_a_token_for_their_host_send_only_that_token(
    editor, make_tenant, fake_oneapp, attacker_host
):
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
    attacker_host.reply("*", body=[])

    response = editor.post(
        change_url(tenant),
        posted(core_base_url=attacker_host.url, client_base_url=fake_oneapp.url, **{TOKEN_FIELD: NEW_TOKEN}),
    )
    editor.post(reverse("admin:tenants_clientconfig_test_connection", args=[tenant.pk]))

    assert response.status_code == 302
    [call] = attacker_host.received
    assert call.headers["authorization"] == NEW_TOKEN  # their own token, not the tenant's old one
    assert fake_oneapp.received == []
