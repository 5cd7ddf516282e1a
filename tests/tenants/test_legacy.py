"""Importing the legacy environment configuration (tenants/legacy.py) with `manage.py import_legacy_env`."""

import base64
import gzip
import json
import textwrap
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models.signals import post_save

from tenants.legacy import ENV_VARS
from tenants.models import ClientConfig
from tests.helpers import CANARY_TOKEN, raw_token

LEGACY_VARS = ("CLIENTS_CONFIG", *ENV_VARS.values())
ACME_TOKEN = "Bearer canary-acme-9b2f47d1c3"
BETA_TOKEN = "Bearer canary-beta-3e8c05aa71"
NEW_TOKEN = "Bearer canary-rotated-61f0c2d9"
SECRETS = (ACME_TOKEN, BETA_TOKEN, NEW_TOKEN, CANARY_TOKEN, "canary")

ACME = {
    "authorization": ACME_TOKEN,
    "coreBaseUrl": "https://core.acme.test",
    "clientBaseUrl": "https://front.acme.test",
    "clientHeader": "acme-header",
    "httpTimeoutMs": 15_000,
    "name": "Acme Ltd",
    "description": "Retail, Chile",
}
BETA = {
    "authorization": BETA_TOKEN,
    "coreBaseUrl": "https://core.beta.test",
    "clientBaseUrl": "https://front.beta.test",
    "clientHeader": "beta",
}


@pytest.fixture(autouse=True)
def no_legacy_env(monkeypatch):
    """The host's own legacy variables must never leak into a test."""
    for var in LEGACY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def saves():
    """Every post_save of a tenant, as (client id, created)."""
    calls = []

    def record(sender, instance, created, **kwargs):
        calls.append((instance.client_id, created))

    post_save.connect(record, sender=ClientConfig, weak=False)
    yield calls
    post_save.disconnect(record, sender=ClientConfig)


def gzip_base64(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_legacy_env", *args, stdout=out, stderr=err)
    assert_no_secret(out.getvalue() + err.getvalue())
    return out.getvalue(), err.getvalue()


def run_failing(*args):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_legacy_env", *args, stdout=out, stderr=err)
    error = excinfo.value
    message = str(error)
    assert_no_secret(message + out.getvalue() + err.getvalue())
    # No chained exception either: a traceback (--traceback) must not show the input.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return message


def make_beta(make_tenant):
    """Tenant beta exactly as BETA describes it."""
    return make_tenant(
        "beta",
        authorization=BETA_TOKEN,
        core_base_url="https://core.beta.test",
        client_base_url="https://front.beta.test",
        client_header="beta",
    )


def tenants() -> dict[str, ClientConfig]:
    return {tenant.client_id: tenant for tenant in ClientConfig.objects.all()}


# Reading the input


@pytest.mark.django_db
def test_plain_json_creates_every_tenant_with_all_its_settings(monkeypatch, saves):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME, "beta": BETA}))
    out, _ = run()

    assert out.splitlines() == [
        "created acme",
        "created beta",
        "Done: 2 created, 0 updated, 0 unchanged, 0 skipped.",
    ]
    acme = ClientConfig.objects.get(client_id="acme")
    assert (acme.name, acme.description, acme.core_base_url, acme.client_base_url) == (
        "Acme Ltd",
        "Retail, Chile",
        "https://core.acme.test",
        "https://front.acme.test",
    )
    assert (acme.client_header, acme.http_timeout_ms, acme.enabled) == ("acme-header", 15_000, True)
    assert acme.authorization == ACME_TOKEN
    assert "canary" not in raw_token("acme")
    assert ClientConfig.objects.get(client_id="beta").authorization == BETA_TOKEN
    assert saves == [("acme", True), ("beta", True)]


@pytest.mark.django_db
@pytest.mark.parametrize("wrapped", [False, True], ids=["one-line", "wrapped-like-base64-cli"])
def test_gzip_base64_config_is_read_like_plain_json(monkeypatch, wrapped):
    value = gzip_base64(json.dumps({"acme": ACME, "beta": BETA}))
    assert value.startswith("H4sI")
    if wrapped:
        value = "\n".join(textwrap.wrap(value, 76)) + "\n"
    monkeypatch.setenv("CLIENTS_CONFIG", value)
    run()
    assert {client_id: t.authorization for client_id, t in tenants().items()} == {
        "acme": ACME_TOKEN,
        "beta": BETA_TOKEN,
    }


@pytest.mark.django_db
def test_missing_and_null_keys_take_the_legacy_defaults_and_the_name_defaults_to_the_id(monkeypatch):
    config = {"acme": {"authorization": ACME_TOKEN}, "beta": {"clientHeader": None, "name": ""}}
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps(config))
    run()

    acme, beta = tenants()["acme"], tenants()["beta"]
    assert (acme.name, acme.description, acme.client_header) == ("acme", "", "")
    assert (acme.core_base_url, acme.client_base_url, acme.http_timeout_ms) == (
        "https://api.oneapp.cl",
        "https://sechpos.oneapp.cl",
        30_000,
    )
    assert acme.authorization == ACME_TOKEN
    assert (beta.name, beta.authorization, beta.has_token) == ("beta", "", False)


@pytest.mark.django_db
def test_client_ids_are_trimmed_and_lowercased_and_urls_lose_a_trailing_slash(monkeypatch):
    entry = {**ACME, "coreBaseUrl": "https://core.acme.test/", "clientBaseUrl": "https://f.test/api/"}
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"  AcMe ": entry}))
    out, _ = run()
    assert "created acme" in out
    acme = ClientConfig.objects.get()
    assert (acme.client_id, acme.core_base_url, acme.client_base_url) == (
        "acme",
        "https://core.acme.test",
        "https://f.test/api",
    )


@pytest.mark.django_db
def test_single_tenant_variables_become_tenant_default(monkeypatch, saves):
    monkeypatch.setenv("AUTHORIZATION", ACME_TOKEN)
    monkeypatch.setenv("CORE_BASE_URL", "https://core.acme.test")
    monkeypatch.setenv("CLIENT_BASE_URL", "https://front.acme.test")
    monkeypatch.setenv("CLIENT_HEADER", "acme")
    monkeypatch.setenv("HTTP_TIMEOUT_MS", "4500")
    out, _ = run()

    assert out.splitlines()[0] == "created default"
    tenant = ClientConfig.objects.get()
    assert (tenant.client_id, tenant.name, tenant.authorization) == ("default", "default", ACME_TOKEN)
    assert (tenant.core_base_url, tenant.client_base_url, tenant.client_header, tenant.http_timeout_ms) == (
        "https://core.acme.test",
        "https://front.acme.test",
        "acme",
        4500,
    )
    assert saves == [("default", True)]


@pytest.mark.django_db
def test_unset_or_empty_single_tenant_variables_take_the_legacy_defaults(monkeypatch):
    monkeypatch.setenv("AUTHORIZATION", ACME_TOKEN)
    monkeypatch.setenv("CORE_BASE_URL", "")
    monkeypatch.setenv("HTTP_TIMEOUT_MS", "")
    run()
    tenant = ClientConfig.objects.get(client_id="default")
    assert (tenant.core_base_url, tenant.client_base_url, tenant.client_header, tenant.http_timeout_ms) == (
        "https://api.oneapp.cl",
        "https://sechpos.oneapp.cl",
        "",
        30_000,
    )
    assert tenant.authorization == ACME_TOKEN


@pytest.mark.django_db
def test_clients_config_wins_over_the_single_tenant_variables_and_says_so(monkeypatch):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME}))
    monkeypatch.setenv("AUTHORIZATION", BETA_TOKEN)
    _, err = run()
    assert set(tenants()) == {"acme"}
    assert "single-tenant variables are ignored" in err


@pytest.mark.django_db
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip-base64"])
def test_file_option_reads_the_config_from_the_file_and_ignores_the_environment(
    monkeypatch, tmp_path, compressed
):
    text = json.dumps({"acme": ACME})
    path = tmp_path / "clients.json"
    path.write_text(gzip_base64(text) if compressed else text)
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"beta": BETA}))
    monkeypatch.setenv("AUTHORIZATION", BETA_TOKEN)

    out, _ = run("--file", str(path))
    assert "created acme" in out
    assert set(tenants()) == {"acme"}
    assert tenants()["acme"].authorization == ACME_TOKEN


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_is_a_command_error(tmp_path):
    message = run_failing("--file", str(tmp_path / "missing.json"))
    assert "Cannot read" in message and "missing.json" in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("empty", [None, ""], ids=["unset", "empty"])
def test_no_input_at_all_is_a_command_error_and_creates_nothing(monkeypatch, empty, saves):
    if empty is not None:
        for var in LEGACY_VARS:
            monkeypatch.setenv(var, empty)
    message = run_failing()
    assert "Nothing to import" in message and "CLIENTS_CONFIG" in message
    assert not ClientConfig.objects.exists()
    assert saves == []


# Existing tenants, --update and --dry-run


@pytest.mark.django_db
def test_existing_tenants_are_skipped_without_update_and_left_untouched(monkeypatch, make_tenant, saves):
    make_tenant("acme")
    before = raw_token("acme")
    saves.clear()
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME, "beta": BETA}))
    out, _ = run()

    assert out.splitlines() == [
        "skipped acme: exists, use --update",
        "created beta",
        "Done: 1 created, 0 updated, 0 unchanged, 1 skipped.",
    ]
    acme = ClientConfig.objects.get(client_id="acme")
    assert (acme.name, acme.authorization, acme.core_base_url) == (
        "Tenant acme",
        CANARY_TOKEN,
        "https://core.example.test",
    )
    assert raw_token("acme") == before
    assert saves == [("beta", True)]


@pytest.mark.django_db
def test_update_changes_only_the_tenants_that_differ(monkeypatch, make_tenant, saves):
    make_tenant(
        "acme",
        name="Acme Ltd",
        description="Retail, Chile",
        authorization=ACME_TOKEN,
        core_base_url="https://core.acme.test",
        client_base_url="https://front.acme.test",
        client_header="acme-header",
        http_timeout_ms=15_000,
    )
    make_tenant("beta", authorization=BETA_TOKEN, core_base_url="https://old.beta.test", client_header="beta")
    acme_before, beta_before = raw_token("acme"), raw_token("beta")
    saves.clear()
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME, "beta": BETA}))
    out, _ = run("--update")

    assert out.splitlines() == [
        "unchanged acme",
        "updated beta (core_base_url, client_base_url)",
        "Done: 0 created, 1 updated, 1 unchanged, 0 skipped.",
    ]
    beta = ClientConfig.objects.get(client_id="beta")
    assert (beta.core_base_url, beta.client_base_url) == ("https://core.beta.test", "https://front.beta.test")
    # The config gives beta no name, so the one staff set is kept.
    assert beta.name == "Tenant beta"
    # Tokens that did not change keep their ciphertext: they were not even re-encrypted.
    assert (raw_token("acme"), raw_token("beta")) == (acme_before, beta_before)
    assert saves == [("beta", False)]


@pytest.mark.django_db
def test_update_replaces_the_token_and_it_decrypts_to_the_new_value(monkeypatch, make_tenant, saves):
    make_beta(make_tenant)
    saves.clear()
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"beta": {**BETA, "authorization": NEW_TOKEN}}))
    out, _ = run("--update")

    assert "updated beta (token)" in out
    assert ClientConfig.objects.get(client_id="beta").authorization == NEW_TOKEN
    assert "canary" not in raw_token("beta")
    assert saves == [("beta", False)]


@pytest.mark.django_db
def test_update_replaces_a_token_that_no_configured_key_can_decrypt(
    monkeypatch, make_tenant, settings, fresh_key
):
    make_tenant("beta", authorization=BETA_TOKEN)
    settings.TOKEN_ENCRYPTION_KEYS = [fresh_key]
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"beta": {**BETA, "authorization": NEW_TOKEN}}))
    out, _ = run("--update")
    assert "token" in out.splitlines()[0]
    assert ClientConfig.objects.get(client_id="beta").authorization == NEW_TOKEN


@pytest.mark.django_db
def test_dry_run_prints_the_plan_and_writes_nothing(monkeypatch, make_tenant, saves):
    make_tenant("acme")
    make_beta(make_tenant)
    before = {client_id: (raw_token(client_id), t.updated_at) for client_id, t in tenants().items()}
    saves.clear()
    config = {"acme": ACME, "beta": BETA, "gamma": {"authorization": NEW_TOKEN}}
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps(config))
    out, _ = run("--update", "--dry-run")

    assert out.splitlines() == [
        "would update acme (name, description, core_base_url, client_base_url, token, client_header, "
        "http_timeout_ms)",
        "unchanged beta",
        "would create gamma",
        "Dry run, nothing was written: would create 1, update 1, skip 0; 1 unchanged.",
    ]
    assert {client_id: (raw_token(client_id), t.updated_at) for client_id, t in tenants().items()} == before
    assert ClientConfig.objects.get(client_id="acme").authorization == CANARY_TOKEN
    assert saves == []


@pytest.mark.django_db
def test_dry_run_without_update_reports_would_skip(monkeypatch, make_tenant):
    make_tenant("acme")
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME}))
    out, _ = run("--dry-run")
    assert out.splitlines()[0] == "would skip acme: exists, use --update"
    assert "nothing was written" in out


# All or nothing: invalid input


@pytest.mark.django_db
def test_one_invalid_entry_among_valid_ones_writes_nothing_and_lists_every_problem(
    monkeypatch, make_tenant, saves
):
    make_tenant("acme")
    before = raw_token("acme")
    saves.clear()
    config = {
        "acme": {**ACME, "authorization": NEW_TOKEN},
        "beta": BETA,
        "bad-id": {**BETA, "coreBaseUrl": "ftp://core.test", "httpTimeoutMs": "30000"},
        "gamma": {**BETA, "httpTimeoutMs": 0, "clientHeadr": "x", "name": 7},
    }
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps(config))
    message = run_failing("--update")

    problems = message.splitlines()[1:]
    assert problems == [
        "  'bad-id': httpTimeoutMs: must be a whole number, not a string.",
        "  'bad-id': client id: Use 1 to 64 lowercase letters a-z and digits 0-9, nothing else.",
        "  'bad-id': coreBaseUrl: Enter an http:// or https:// URL.",
        "  'gamma': 'clientHeadr': unknown key; expected authorization, coreBaseUrl, clientBaseUrl, "
        "clientHeader, httpTimeoutMs, name, description.",
        "  'gamma': name: must be a string, not a number.",
        "  'gamma': httpTimeoutMs: Ensure this value is greater than or equal to 1.",
    ]
    assert set(tenants()) == {"acme"}
    assert raw_token("acme") == before
    assert saves == []


@pytest.mark.django_db
def test_bad_json_is_reported_by_position_without_echoing_the_input(monkeypatch):
    text = '{"acme": {"authorization": "' + ACME_TOKEN + '" "coreBaseUrl": 1}}'
    monkeypatch.setenv("CLIENTS_CONFIG", text)
    message = run_failing()
    assert "CLIENTS_CONFIG: not valid JSON (Expecting ',' delimiter at line 1, column" in message
    assert text not in message and "coreBaseUrl" not in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("H4sI" + "not*base64!", "starts with H4sI but is not valid base64"),
        (base64.b64encode(b"\x1f\x8b\x08 canary, but not gzip").decode(), "not to valid gzip data"),
        (gzip_base64(json.dumps({"acme": ACME}))[:40], "not to valid gzip data"),
        (base64.b64encode(gzip.compress(b"\xff\xfe canary")).decode(), "not UTF-8 text"),
        (gzip_base64('{"acme": "' + ACME_TOKEN), "not valid JSON"),
    ],
    ids=["bad-base64", "not-gzip", "truncated-gzip", "not-utf8", "gzip-of-bad-json"],
)
def test_bad_base64_or_gzip_is_reported_and_nothing_is_written(monkeypatch, value, problem):
    monkeypatch.setenv("CLIENTS_CONFIG", value)
    message = run_failing()
    assert value.strip() not in message
    assert problem in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ([ACME], "CLIENTS_CONFIG: must be a JSON object mapping client id to settings, not an array."),
        ({}, "CLIENTS_CONFIG: is an empty object; there is no tenant to import."),
        ({"acme": ACME_TOKEN}, "'acme': must be a JSON object of settings, not a string."),
    ],
    ids=["array", "empty-object", "entry-is-a-token"],
)
def test_input_of_the_wrong_shape_is_reported(monkeypatch, config, problem):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps(config))
    assert problem in run_failing()
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "value", "found"),
    [
        ("httpTimeoutMs", "30000", "a string"),
        ("httpTimeoutMs", True, "a boolean"),
        ("httpTimeoutMs", 1.5, "a number"),
        ("authorization", 12345, "a number"),
        ("authorization", [ACME_TOKEN], "an array"),
        ("coreBaseUrl", {"url": "https://x.test"}, "an object"),
        ("description", False, "a boolean"),
    ],
)
def test_wrong_types_are_reported_by_client_id_and_key(monkeypatch, key, value, found):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": {**ACME, key: value}}))
    message = run_failing()
    wanted = "a whole number" if key == "httpTimeoutMs" else "a string"
    assert f"'acme': {key}: must be {wanted}, not {found}." in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["a-b", "", "   ", "x" * 65, "ñandu", "../etc"])
def test_bad_client_ids_are_reported(monkeypatch, client_id):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({client_id: ACME}))
    message = run_failing()
    assert "client id:" in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
def test_ids_that_are_the_same_once_lowercased_are_reported(monkeypatch):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": ACME, "ACME": BETA}))
    assert "several entries are client id 'acme' once lowercased" in run_failing()
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
def test_keys_given_twice_are_reported_instead_of_silently_keeping_the_last(monkeypatch):
    text = f'{{"acme": {{"authorization": "{ACME_TOKEN}", "authorization": "{BETA_TOKEN}"}}, "beta": {{}}, "beta": {{}}}}'
    monkeypatch.setenv("CLIENTS_CONFIG", text)
    message = run_failing()
    assert "CLIENTS_CONFIG: client id 'beta' is given more than once." in message
    assert "'acme': authorization: given more than once." in message


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["ftp://core.test", "core.test", "http://", "", "javascript:alert(1)"])
def test_bad_urls_are_reported(monkeypatch, url):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": {**ACME, "clientBaseUrl": url}}))
    message = run_failing()
    assert "'acme': clientBaseUrl: " in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("timeout", [0, -1, 300_001, 10**30])
def test_timeouts_out_of_range_are_reported(monkeypatch, timeout):
    monkeypatch.setenv("CLIENTS_CONFIG", json.dumps({"acme": {**ACME, "httpTimeoutMs": timeout}}))
    message = run_failing()
    assert "'acme': httpTimeoutMs: Ensure this value is" in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
def test_bad_single_tenant_variables_are_reported_by_variable_name(monkeypatch):
    monkeypatch.setenv("AUTHORIZATION", ACME_TOKEN)
    monkeypatch.setenv("CORE_BASE_URL", "ftp://core.test")
    monkeypatch.setenv("HTTP_TIMEOUT_MS", "thirty seconds")
    message = run_failing()
    assert "'default': HTTP_TIMEOUT_MS: must be a whole number of ms." in message
    assert "'default': CORE_BASE_URL: Enter an http:// or https:// URL." in message
    assert not ClientConfig.objects.exists()


@pytest.mark.django_db
def test_single_tenant_timeout_out_of_range_is_reported(monkeypatch):
    monkeypatch.setenv("HTTP_TIMEOUT_MS", "300001")
    assert "'default': HTTP_TIMEOUT_MS: Ensure this value is less than or equal to 300000." in run_failing()
    assert not ClientConfig.objects.exists()
