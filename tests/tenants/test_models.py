"""ClientConfig: client ids, URLs, limits, the token's hint and the settings snapshot; on the real
database."""

import pytest
from django.core.exceptions import ValidationError

from tenants.models import ClientConfig
from tests.helpers import CANARY_TOKEN


def build(**fields):
    values = {"client_id": "acme", "name": "Acme"}
    values.update(fields)
    return ClientConfig(**values)


@pytest.mark.django_db
def test_client_id_is_stored_trimmed_and_lowercase():
    tenant = build(client_id="  AcMe42 ")
    tenant.full_clean()
    tenant.save()
    assert ClientConfig.objects.get().client_id == "acme42"


@pytest.mark.django_db
def test_client_id_saved_without_full_clean_is_still_lowercased():
    ClientConfig.objects.create(client_id="ACME", name="Acme")
    assert ClientConfig.objects.filter(client_id="acme").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["", "a-b", "a b", "ñandu", "../etc", "a" * 65, "a,b"])
def test_invalid_client_ids_are_rejected(client_id):
    with pytest.raises(ValidationError) as excinfo:
        build(client_id=client_id).full_clean()
    assert "client_id" in excinfo.value.message_dict


@pytest.mark.django_db
def test_client_id_must_be_unique_case_insensitively(make_tenant):
    make_tenant("acme")
    with pytest.raises(ValidationError) as excinfo:
        build(client_id="ACME").full_clean()
    assert "client_id" in excinfo.value.message_dict


@pytest.mark.django_db
def test_client_id_cannot_change_after_creation(make_tenant):
    tenant = make_tenant("acme")
    tenant = ClientConfig.objects.get(pk=tenant.pk)
    tenant.client_id = "other"
    with pytest.raises(ValidationError):
        tenant.full_clean()
    with pytest.raises(ValidationError):
        tenant.save()
    assert ClientConfig.objects.get(pk=tenant.pk).client_id == "acme"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["ftp://core.example.test", "javascript:alert(1)", "core.example.test/x", "http://"]
)
def test_base_urls_must_be_http_or_https(url):
    with pytest.raises(ValidationError) as excinfo:
        build(core_base_url=url, client_base_url=url).full_clean()
    assert {"core_base_url", "client_base_url"} <= set(excinfo.value.message_dict)


@pytest.mark.django_db
def test_trailing_slash_of_base_urls_is_dropped_on_save(make_tenant):
    tenant = make_tenant(core_base_url="https://core.example.test/", client_base_url="http://f.test/api/")
    tenant.refresh_from_db()
    assert (tenant.core_base_url, tenant.client_base_url) == (
        "https://core.example.test",
        "http://f.test/api",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("timeout", "valid"), [(0, False), (1, True), (300_000, True), (300_001, False)])
def test_timeout_must_be_between_1_and_300000_ms(timeout, valid):
    tenant = build(http_timeout_ms=timeout)
    if valid:
        tenant.full_clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            tenant.full_clean()
        assert "http_timeout_ms" in excinfo.value.message_dict


def test_defaults_follow_the_legacy_configuration():
    tenant = ClientConfig()
    assert tenant.core_base_url == "https://api.oneapp.cl"
    assert tenant.client_base_url == "https://sechpos.oneapp.cl"
    assert tenant.http_timeout_ms == 30_000
    assert tenant.enabled is True
    assert tenant.authorization == ""


@pytest.mark.django_db
def test_snapshot_is_a_decrypted_copy_that_hides_the_token_in_repr(make_tenant):
    tenant = ClientConfig.objects.get(pk=make_tenant("acme", http_timeout_ms=1234).pk)
    snapshot = tenant.snapshot()
    assert snapshot.authorization == CANARY_TOKEN
    assert snapshot.http_timeout_ms == 1234
    assert CANARY_TOKEN not in repr(snapshot)

    # A copy: the server built from it keeps its settings while the row changes underneath.
    tenant.authorization = "Bearer changed-afterwards"
    tenant.http_timeout_ms = 99
    tenant.save()
    assert (snapshot.authorization, snapshot.http_timeout_ms) == (CANARY_TOKEN, 1234)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("token", "hint"),
    [("", "not set"), ("Bearer abcdef0123451a2b", "••••1a2b"), ("short", "••••")],
)
def test_token_hint_masks_all_but_the_last_four_characters_of_long_tokens(make_tenant, token, hint):
    tenant = ClientConfig.objects.get(pk=make_tenant("acme", authorization=token).pk)
    assert tenant.token_hint() == hint


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["Bearer abc\n", "Bearer a\r\nX-Evil: 1", " Bearer abc", "Bearer ñ", "tab\there"]
)
def test_token_and_client_header_must_be_one_line_of_printable_ascii(value):
    with pytest.raises(ValidationError) as excinfo:
        build(authorization=value, client_header=value).full_clean()
    assert {"authorization", "client_header"} <= set(excinfo.value.message_dict)
    assert value.strip() not in str(excinfo.value)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("allowed", "read_only", "exposed"),
    [
        ([], False, None),
        ([], True, "all but the writing tool"),
        (["core_list_zonas", "moai_visapp_foto"], False, {"core_list_zonas", "moai_visapp_foto"}),
        (["core_list_zonas", "moai_visapp_foto"], True, {"core_list_zonas"}),
    ],
)
def test_exposed_tools_follow_the_allow_list_and_the_read_only_switch(allowed, read_only, exposed):
    from tenants.oneapp.catalog import TOOL_NAMES

    tenant = build(allowed_tools=allowed, read_only=read_only)
    tenant.full_clean()
    if exposed == "all but the writing tool":
        exposed = set(TOOL_NAMES) - {"moai_visapp_foto"}
    assert tenant.exposed_tools() == (None if exposed is None else frozenset(exposed))
    assert tenant.snapshot().tools == tenant.exposed_tools()


@pytest.mark.django_db
def test_an_unknown_tool_in_the_allow_list_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        build(allowed_tools=["core_list_zonas", "drop_tables"]).full_clean()
    assert "drop_tables" in str(excinfo.value.message_dict["allowed_tools"])
