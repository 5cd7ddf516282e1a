"""Testing tenants' OneApp connections from admin, against the fake OneApp (a real HTTP server)."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.helpers import CANARY_TOKEN, TENANTS_CHANGELIST, view_only_client

CANARY_CREDENTIAL = CANARY_TOKEN.removeprefix("Bearer ")


def button_url(tenant) -> str:
    return reverse("admin:tenants_clientconfig_test_connection", args=[tenant.pk])


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def run_connection_test(client: Client, tenants: list) -> tuple[list[tuple[str, str]], str]:
    """Run the action; return its messages and the page they are shown on."""
    response = client.post(
        TENANTS_CHANGELIST,
        {"action": "test_connection", "_selected_action": [tenant.pk for tenant in tenants]},
    )
    assert response.status_code == 302
    page = client.get(response.url)
    return messages_of(page), page.text


@pytest.fixture
def on_fake(make_tenant, fake_oneapp):
    """Make a tenant whose OneApp core is the fake upstream."""

    def make(client_id: str = "acme", **fields):
        return make_tenant(client_id, core_base_url=fake_oneapp.url + "/core-api", **fields)

    return make


@pytest.mark.django_db
def test_success_reports_how_many_sucursales_and_how_long_it_took(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    fake_oneapp.reply("/core-api/core/sucursales", body=[{"id": 1}, {"id": 2}, {"id": 3}])

    [(level, text)], _ = run_connection_test(admin_client, [acme])

    assert level == "success"
    assert text.startswith("Tenant acme (acme): OK — 3 sucursales in ")
    assert text.endswith(" ms")


@pytest.mark.django_db
def test_the_call_uses_the_saved_core_url_token_and_client_header(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme", client_header="acme-header")
    fake_oneapp.reply("*", body=[])

    run_connection_test(admin_client, [acme])

    [received] = fake_oneapp.received
    assert (received.method, received.path) == ("GET", "/core-api/core/sucursales")
    assert received.headers["authorization"] == CANARY_TOKEN
    assert received.headers["client"] == "acme-header"


@pytest.mark.django_db
def test_a_list_inside_a_json_object_is_counted(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    fake_oneapp.reply("*", body={"status": "ok", "data": [{"id": 7}]})

    [(level, text)], _ = run_connection_test(admin_client, [acme])

    assert level == "success"
    assert "OK — 1 sucursal in " in text


@pytest.mark.django_db
def test_an_answer_without_a_list_is_reported_as_answered(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    fake_oneapp.reply("*", body={"status": "ok"})

    [(level, text)], _ = run_connection_test(admin_client, [acme])

    assert level == "success"
    assert text.startswith("Tenant acme (acme): OK — OneApp answered in ")


@pytest.mark.django_db
def test_a_401_is_an_error_line_that_never_shows_the_token_oneapp_echoed(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    fake_oneapp.reply("*", status=401, body={"error": f"token {CANARY_TOKEN} rejected ({CANARY_CREDENTIAL})"})

    [(level, text)], page = run_connection_test(admin_client, [acme])

    assert level == "error"
    assert text.startswith("Tenant acme (acme): FAILED — OneApp answered 401 Unauthorized: ")
    assert "[redacted]" in text
    for shown in (text, page):
        assert CANARY_CREDENTIAL not in shown
        assert CANARY_CREDENTIAL[-12:] not in shown


@pytest.mark.django_db
def test_the_tenants_are_called_at_once_not_one_after_another(admin_client, on_fake, fake_oneapp):
    tenants = [on_fake(client_id, http_timeout_ms=3000) for client_id in ("acme", "globex", "initech")]
    # OneApp answers none of the three before all three have asked: called one after another, the
    # first call would wait for the others that never come, and time out.
    fake_oneapp.reply("*", body=[], together=threading.Barrier(3, timeout=10))

    shown, _ = run_connection_test(admin_client, tenants)

    assert [(level, text.split(" — ")[0]) for level, text in shown] == [
        ("success", f"Tenant {client_id} ({client_id}): OK") for client_id in ("acme", "globex", "initech")
    ]
    assert fake_oneapp.max_in_flight == 3


@pytest.mark.django_db
def test_three_slow_tenants_are_each_reported_as_a_timeout(admin_client, on_fake, fake_oneapp):
    tenants = [on_fake(client_id, http_timeout_ms=300) for client_id in ("acme", "globex", "initech")]
    fake_oneapp.reply("*", body=[], delay=1.0)

    shown, _ = run_connection_test(admin_client, tenants)

    assert shown == [
        ("error", f"Tenant {client_id} ({client_id}): FAILED — OneApp did not answer within 300 ms.")
        for client_id in ("acme", "globex", "initech")
    ]


@pytest.mark.django_db
def test_a_stopped_oneapp_is_reported_as_connection_refused(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    fake_oneapp.stop()

    [(level, text)], _ = run_connection_test(admin_client, [acme])

    assert level == "error"
    assert text.startswith("Tenant acme (acme): FAILED — Could not connect to OneApp at 127.0.0.1:")
    assert text.endswith("connection refused.")


@pytest.mark.django_db
def test_a_token_that_cannot_be_decrypted_is_reported_and_the_other_tenants_are_still_tested(
    admin_client, on_fake, fake_oneapp, settings, fresh_key
):
    broken = on_fake("acme")
    tokenless = on_fake("globex", authorization="")
    fake_oneapp.reply("*", body=[])
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]  # acme's token was encrypted with another key

    shown, _ = run_connection_test(admin_client, [broken, tokenless])

    assert shown[0] == (
        "error",
        "Tenant acme (acme): FAILED — the stored token cannot be decrypted "
        "(check TOKEN_ENCRYPTION_KEYS); OneApp was not called.",
    )
    assert shown[1][0] == "success" and shown[1][1].startswith("Tenant globex (globex): OK — 0 sucursales")
    assert len(fake_oneapp.received) == 1


@pytest.mark.django_db
def test_the_change_page_has_a_test_connection_button_that_posts(admin_client, on_fake):
    acme = on_fake("acme")
    page = admin_client.get(reverse("admin:tenants_clientconfig_change", args=[acme.pk]))
    assert f'<form method="post" action="{button_url(acme)}">' in page.text
    assert 'id="test-connection"' in page.text


@pytest.mark.django_db
def test_the_button_tests_the_tenant_and_comes_back_to_its_page_with_the_result(
    admin_client, on_fake, fake_oneapp
):
    acme = on_fake("acme")
    on_fake("globex")
    fake_oneapp.reply("*", body=[{"id": 1}, {"id": 2}])

    response = admin_client.post(button_url(acme), follow=True)

    assert response.redirect_chain == [(reverse("admin:tenants_clientconfig_change", args=[acme.pk]), 302)]
    [(level, text)] = messages_of(response)
    assert level == "success" and text.startswith("Tenant acme (acme): OK — 2 sucursales in ")
    assert len(fake_oneapp.received) == 1  # only this tenant


@pytest.mark.django_db
def test_the_button_answers_only_a_post(admin_client, on_fake, fake_oneapp):
    acme = on_fake("acme")
    assert admin_client.get(button_url(acme)).status_code == 405
    assert fake_oneapp.received == []


@pytest.mark.django_db
def test_the_button_of_an_unknown_tenant_goes_back_to_the_list(admin_client):
    response = admin_client.post(reverse("admin:tenants_clientconfig_test_connection", args=[999]))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


@pytest.mark.django_db
def test_view_only_staff_can_neither_run_the_action_nor_press_the_button(on_fake, fake_oneapp):
    acme = on_fake("acme")
    viewer = view_only_client("view_clientconfig")

    page = viewer.get(reverse("admin:tenants_clientconfig_change", args=[acme.pk]))
    assert 'id="test-connection"' not in page.text
    assert viewer.post(button_url(acme)).status_code == 403
    viewer.post(TENANTS_CHANGELIST, {"action": "test_connection", "_selected_action": [acme.pk]})
    assert fake_oneapp.received == []
