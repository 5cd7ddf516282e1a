from io import StringIO

import pytest
from django.core.management import call_command

from tenants.crypto import TokenDecryptionError
from tenants.models import ClientConfig
from tests.helpers import CANARY_TOKEN, raw_token


@pytest.mark.django_db
def test_token_round_trips_and_the_row_holds_only_ciphertext(make_tenant):
    make_tenant("acme")
    stored = raw_token("acme")
    assert stored and CANARY_TOKEN not in stored and "canary" not in stored
    assert ClientConfig.objects.get(client_id="acme").authorization == CANARY_TOKEN


@pytest.mark.django_db
def test_an_empty_token_is_stored_empty(make_tenant):
    make_tenant("acme", authorization="")
    assert raw_token("acme") == ""
    assert ClientConfig.objects.get(client_id="acme").has_token is False


@pytest.mark.django_db
def test_saving_without_touching_the_token_keeps_the_same_ciphertext(make_tenant):
    make_tenant("acme")
    before = raw_token("acme")
    tenant = ClientConfig.objects.get(client_id="acme")
    tenant.name = "Renamed"
    tenant.save()
    assert raw_token("acme") == before


@pytest.mark.django_db
def test_reading_the_token_then_saving_keeps_the_same_ciphertext(make_tenant):
    make_tenant("acme")
    before = raw_token("acme")
    tenant = ClientConfig.objects.get(client_id="acme")
    assert tenant.authorization == CANARY_TOKEN
    tenant.save()
    assert raw_token("acme") == before


@pytest.mark.django_db
def test_deferred_token_is_loaded_and_decrypted_on_access(make_tenant):
    make_tenant("acme")
    assert ClientConfig.objects.only("client_id").get().authorization == CANARY_TOKEN


@pytest.mark.django_db
def test_wrong_keys_give_an_error_naming_the_tenant_without_ciphertext_or_key(
    make_tenant, settings, fresh_key
):
    make_tenant("acme")
    stored = raw_token("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    tenant = ClientConfig.objects.get(client_id="acme")
    with pytest.raises(TokenDecryptionError) as excinfo:
        tenant.authorization  # noqa: B018
    message = str(excinfo.value)
    assert "acme" in message
    assert stored not in message and fresh_key not in message
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


@pytest.mark.django_db
def test_old_key_in_second_place_still_decrypts(make_tenant, settings, fresh_key):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    make_tenant("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key, old_key]
    assert ClientConfig.objects.get(client_id="acme").authorization == CANARY_TOKEN


@pytest.mark.django_db
def test_after_rotation_the_old_key_can_be_removed(make_tenant, settings, fresh_key):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    make_tenant("acme")
    make_tenant("beta", authorization="Bearer beta-token")
    make_tenant("empty", authorization="")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key, old_key]

    out = StringIO()
    call_command("rotate_token_keys", stdout=out)
    assert "Re-encrypted 2 token(s)" in out.getvalue()
    assert CANARY_TOKEN not in out.getvalue()

    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    assert ClientConfig.objects.get(client_id="acme").authorization == CANARY_TOKEN
    assert ClientConfig.objects.get(client_id="beta").authorization == "Bearer beta-token"


@pytest.mark.django_db
def test_rotation_is_idempotent(make_tenant, settings, fresh_key):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    make_tenant("acme")
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key, old_key]
    call_command("rotate_token_keys", stdout=StringIO())
    after_first = raw_token("acme")

    out = StringIO()
    call_command("rotate_token_keys", stdout=out)
    assert "Re-encrypted 0 token(s) with the primary key; 1 already used it." in out.getvalue()
    assert raw_token("acme") == after_first
