"""Secrets never leak: fresh canary tokens and access keys go through the whole flow and show up nowhere.

Nowhere means: log records of every logger at DEBUG (the live server runs in this process, so its
records are here too), the process's stdout and stderr, every admin and /mcp response, tool errors
and exception messages, management command output, and every cell of every database table.
Each check also proves that the canary was really in play, so that a passing test means something.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import traceback
import uuid
from collections.abc import Iterator, Sequence
from io import StringIO
from types import SimpleNamespace
from typing import Any

import httpx
import httpx2
import pytest
from asgiref.sync import sync_to_async
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from tenants.crypto import TokenDecryptionError, decrypt
from tenants.keys import KEY_PATTERN, hash_key
from tenants.legacy import ENV_VARS
from tenants.models import AccessKey, ClientConfig
from tests import mcp_client
from tests.fake_upstream import FakeOneApp
from tests.helpers import CORE, INITIALIZE, JSON_HEADERS, freeze_limits_clock, raw_token
from tests.live_server import free_port
from tests.mcp_client import MODES, connect

# Fresh for every run, and distinctive: nothing else in the project can contain them by chance.
TOKEN = f"Bearer CANARY-TOKEN-{uuid.uuid4().hex}"
NEW_TOKEN = f"Bearer CANARY-NEW-TOKEN-{uuid.uuid4().hex}"  # what a token is changed to
CREDENTIAL = TOKEN.removeprefix("Bearer ")

# The loggers whose every record is captured, at DEBUG, besides the root logger.
LOGGERS = ("tenants", "mcp_endpoint", "django", "mcp", "httpx", "httpcore", "uvicorn", "aiohttp")
FRAGMENT = 12  # this many characters of a secret's random part, found anywhere, are a leak
ANY_KEY = re.compile(r"omk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")
LEGACY_VARS = ("CLIENTS_CONFIG", *ENV_VARS.values())


# What counts as a leak, and where to look for one


def secret_part(key: str) -> str:
    """What follows omk_<prefix>_: the part of a key that nobody but its holder may see."""
    return key[13:]


def log_text(record: logging.LogRecord) -> str:
    """All a handler could write for a record: message, traceback, stack, and every extra attribute."""
    return logging.Formatter().format(record) + "\n" + repr(vars(record))


class Canaries:
    """The secrets a test has put in play, and the checks that none of them shows.

    A secret shows if any of its forms does (a token with or without its scheme), or any FRAGMENT
    characters of its random part: a truncated or partly redacted secret is still a leak.
    """

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        self._caplog = caplog
        self._capfd = capfd
        self.secrets: list[tuple[dict[str, str], frozenset[str]]] = []  # (name -> form, fragments)
        self.ciphertexts: dict[str, str] = {}  # in the database, but in no page, message or log line
        self.add_token(TOKEN, "the token")
        self.add_encryption_keys()

    def add(self, forms: dict[str, str], random_part: str) -> None:
        assert len(random_part) >= 2 * FRAGMENT
        fragments = (random_part[i : i + FRAGMENT] for i in range(len(random_part) - FRAGMENT + 1))
        self.secrets.append((forms, frozenset(fragments)))

    def add_token(self, token: str, name: str) -> None:
        [random_part] = re.findall(r"[0-9a-f]{32}", token)
        self.add({name: token, f"{name}'s credential": token.partition(" ")[2]}, random_part)

    def add_key(self, key: str, name: str = "the access key") -> str:
        assert KEY_PATTERN.fullmatch(key)
        self.add({name: key, f"{name}'s secret part": secret_part(key)}, secret_part(key))
        return key

    def add_encryption_keys(self) -> None:
        for position, key in enumerate(django_settings.TOKEN_ENCRYPTION_KEYS, start=1):
            self.add({f"encryption key number {position}": key}, key)

    def add_ciphertext(self, client_id: str) -> str:
        stored = raw_token(client_id)
        self.ciphertexts[f"the ciphertext of {client_id}"] = stored
        return stored

    @property
    def records(self) -> list[logging.LogRecord]:
        return self._caplog.records

    def found_in(self, text: str, ciphertexts: bool = True) -> list[str]:
        found = []
        for forms, fragments in self.secrets:
            shown = [name for name, form in forms.items() if form in text]
            if not shown and any(fragment in text for fragment in fragments):
                shown = [f"a piece of {next(iter(forms))}"]
            found += shown
        if ciphertexts:
            found += [name for name, value in self.ciphertexts.items() if value in text]
        return found

    def assert_absent(self, text: str, where: str, ciphertexts: bool = True) -> None:
        leaked = self.found_in(text, ciphertexts)
        assert not leaked, f"{' and '.join(leaked)} leaked in {where}"

    def assert_not_logged(self) -> None:
        records = [*self._caplog.get_records("setup"), *self._caplog.get_records("call")]
        assert any(record.levelno == logging.DEBUG for record in records), "DEBUG records are not captured"
        for record in records:
            # The SQL log (DEBUG, forced on below) shows what the database holds: the ciphertext.
            sql = record.name == "django.db.backends"
            self.assert_absent(log_text(record), f"a {record.levelname} record of {record.name}", not sql)
        # What console handlers printed (with -s); the SQL log among it, hence no ciphertext check.
        out, err = self._capfd.readouterr()
        self.assert_absent(out, "stdout", ciphertexts=False)
        self.assert_absent(err, "stderr", ciphertexts=False)

    def assert_not_in_database(self) -> list[tuple[str, str]]:
        """Scan every cell of every table (and each decoded session); return the cells for checks."""
        cells = list(database_cells())
        for where, text in cells:
            self.assert_absent(text, f"the database ({where})", ciphertexts=False)
        return cells


def database_cells() -> Iterator[tuple[str, str]]:
    """Every cell of every table as ("table.column", text), then every session's decoded data."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            # The table names come from the database itself.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("latin-1")
                    yield f"{table}.{column}", str(value)
    for session in Session.objects.all():
        yield f"session {session.pk[:6]}…, decoded", str(session.get_decoded())


def response_text(response: Any) -> str:
    """Status, headers, cookies and body of a Django test or httpx response."""
    if isinstance(response, httpx.Response | httpx2.Response):
        return f"{response.status_code}\n{response.headers}\n{response.text}"
    redirects = " ".join(url for url, _ in getattr(response, "redirect_chain", []))
    return (
        f"{response.status_code} {redirects}\n{response.headers}\n{response.cookies}\n"
        f"{response.content.decode()}"
    )


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every record of the root logger and of LOGGERS and their children, at DEBUG, into caplog.

    Loggers that do not propagate (uvicorn's) get caplog's handler themselves. SQL is logged too, so
    that a query carrying a secret would show. The session-scoped live server is set up before this
    fixture, so the levels uvicorn sets when it starts do not undo these.
    """
    prefixes = tuple(f"{name}." for name in LOGGERS)
    existing = list(logging.root.manager.loggerDict)  # a copy: other threads may add loggers meanwhile
    names = [*LOGGERS, *(name for name in existing if name.startswith(prefixes))]
    caplog.set_level(logging.DEBUG)
    hooked = []
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if not logger.propagate and caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
            hooked.append(logger)
    forced = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield
    connection.force_debug_cursor = forced
    for logger in hooked:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def canaries(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Canaries:
    return Canaries(caplog, capfd)


@pytest.fixture
def no_legacy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in LEGACY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def unique_client_id() -> str:
    # Its own rate-limit window and cached server, whatever other tests did this minute.
    return "canary" + uuid.uuid4().hex[:10]


# Admin


def tenant_form(
    client_id: str, keys: Sequence[dict[str, str]] = (), existing: int = 0, **fields: str
) -> dict[str, str]:
    """The whole tenant form as admin posts it, with its keys section: `existing` rows come first."""
    data = {
        "client_id": client_id,
        "name": "Canary Ltd",
        "description": "",
        "enabled": "on",
        "core_base_url": "https://core.example.test",
        "client_base_url": "https://front.example.test",
        "client_header": "canary",
        "http_timeout_ms": "30000",
        "rate_limit_per_minute": "600",
        "max_concurrent_calls": "50",
        "new_token": "",
        "access_keys-TOTAL_FORMS": str(len(keys)),
        "access_keys-INITIAL_FORMS": str(existing),
        "access_keys-MIN_NUM_FORMS": "0",
        "access_keys-MAX_NUM_FORMS": "1000",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        **fields,
    }
    for index, row in enumerate(keys):
        row = {"expires_at_0": "", "expires_at_1": "", **row}
        data.update({f"access_keys-{index}-{name}": value for name, value in row.items()})
    return data


@pytest.mark.django_db
def test_admin_shows_the_token_on_no_page_and_a_new_key_only_on_the_page_that_creates_it(
    admin_client: Client, canaries: Canaries
):
    canaries.add_token(NEW_TOKEN, "the new token")
    client_id = unique_client_id()
    pages: dict[str, Any] = {}

    def visit(name: str, response: Any) -> None:
        # 200 for every post too: a form error re-rendered, or the page a redirect led to.
        assert response.status_code == 200, name
        pages[name] = response

    visit("add page", admin_client.get(reverse("admin:tenants_clientconfig_add")))
    visit(
        "add with an invalid client id",
        admin_client.post(
            reverse("admin:tenants_clientconfig_add"), tenant_form("Not Valid!", new_token=TOKEN)
        ),
    )
    added = admin_client.post(
        reverse("admin:tenants_clientconfig_add"), tenant_form(client_id, new_token=TOKEN), follow=True
    )
    visit("add, then the changelist", added)
    tenant = ClientConfig.objects.get(client_id=client_id)
    assert tenant.authorization == TOKEN
    canaries.add_ciphertext(client_id)
    change = reverse("admin:tenants_clientconfig_change", args=[tenant.pk])

    # The one response that shows the key.
    created = admin_client.post(change, tenant_form(client_id, keys=[{"name": "Canary client"}]))
    assert created.status_code == 200
    [key] = ANY_KEY.findall(created.content.decode())
    access_key = AccessKey.objects.get(tenant=tenant)
    assert access_key.key_hash == hash_key(key)
    canaries.add_key(key)
    text = response_text(created)
    assert text.count(key) == 1
    canaries.assert_absent(text.replace(key, "", 1), "the page that shows the new key, besides the key")

    key_row = {"id": str(access_key.pk), "tenant": str(tenant.pk), "name": access_key.name}
    visit(
        "new token and clear token together",
        admin_client.post(
            change, tenant_form(client_id, [key_row], 1, new_token=NEW_TOKEN, clear_token="on")
        ),
    )
    visit(
        "a token with a line break",
        admin_client.post(change, tenant_form(client_id, [key_row], 1, new_token=f"{NEW_TOKEN}\nX-Evil: 1")),
    )
    visit(
        "a token with an invalid timeout",
        admin_client.post(
            change, tenant_form(client_id, [key_row], 1, new_token=NEW_TOKEN, http_timeout_ms="0")
        ),
    )
    assert ClientConfig.objects.get(pk=tenant.pk).authorization == TOKEN
    visit(
        "a new token saved, then the changelist",
        admin_client.post(change, tenant_form(client_id, [key_row], 1, new_token=NEW_TOKEN), follow=True),
    )
    assert ClientConfig.objects.get(pk=tenant.pk).authorization == NEW_TOKEN
    canaries.add_ciphertext(client_id)

    visit("tenant changelist", admin_client.get(reverse("admin:tenants_clientconfig_changelist")))
    for page in ("change", "history", "delete"):
        visit(
            f"tenant {page}",
            admin_client.get(reverse(f"admin:tenants_clientconfig_{page}", args=[tenant.pk])),
        )
        visit(
            f"key {page}", admin_client.get(reverse(f"admin:tenants_accesskey_{page}", args=[access_key.pk]))
        )
    visit("key changelist", admin_client.get(reverse("admin:tenants_accesskey_changelist")))
    visit("admin index", admin_client.get(reverse("admin:index")))
    visit(
        "disable action",
        admin_client.post(
            reverse("admin:tenants_clientconfig_changelist"),
            {"action": "disable_tenants", "_selected_action": [str(tenant.pk)]},
            follow=True,
        ),
    )
    assert "••••" + NEW_TOKEN[-4:] in pages["tenant change"].content.decode()  # the masked hint only

    cells = canaries.assert_not_in_database()
    # The scan saw the rows that hold the secrets, in the only forms they may take.
    assert ("tenants_clientconfig.authorization", raw_token(client_id)) in cells
    assert decrypt(raw_token(client_id)) == NEW_TOKEN
    assert ("tenants_accesskey.key_hash", hash_key(key)) in cells

    visit(
        "tenant deleted, then the changelist",
        admin_client.post(
            reverse("admin:tenants_clientconfig_delete", args=[tenant.pk]), {"post": "yes"}, follow=True
        ),
    )
    assert not ClientConfig.objects.filter(pk=tenant.pk).exists()
    for name, response in pages.items():
        canaries.assert_absent(response_text(response), f"the admin's {name} response")
    canaries.assert_not_in_database()
    canaries.assert_not_logged()


# /mcp through the SDK's own client


@pytest.fixture
def served(transactional_db: None, make_tenant: Any, fake_oneapp: FakeOneApp, canaries: Canaries):
    """A committed tenant whose OneApp is the fake upstream, holding TOKEN, and a canary key of its own."""
    tenant = make_tenant(
        unique_client_id(),
        authorization=TOKEN,
        core_base_url=fake_oneapp.url + CORE,
        client_base_url=fake_oneapp.url,
    )
    canaries.add_ciphertext(tenant.client_id)
    _, key = AccessKey.issue(tenant, "canary client")
    return tenant, canaries.add_key(key)


@pytest.fixture
def mcp_responses(monkeypatch: pytest.MonkeyPatch) -> list[httpx2.Response]:
    """Every raw HTTP response the SDK's client receives from /mcp, body read."""
    received: list[httpx2.Response] = []

    async def record(response: httpx2.Response) -> None:
        await response.aread()
        received.append(response)

    class RecordingClient(httpx2.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(event_hooks={"response": [record]}, **kwargs)

    monkeypatch.setattr(mcp_client, "httpx2", SimpleNamespace(AsyncClient=RecordingClient))
    return received


UPSTREAM_FAULTS = {
    "a 401 echoing the token": (
        {"status": 401, "body": {"error": "invalid token", "received": TOKEN, "credential": CREDENTIAL}},
        "OneApp answered 401 Unauthorized: ",
    ),
    "a 502 page echoing the header": (
        {
            "status": 502,
            "body": f"<html><pre>Authorization: {TOKEN}</pre></html>".encode(),
            "content_type": "text/html",
        },
        "OneApp answered 502 Bad Gateway: ",
    ),
    "a 200 that is not JSON": (
        {"status": 200, "body": f"token={CREDENTIAL}".encode(), "content_type": "text/plain"},
        "OneApp answered 200 with a body that is not JSON.",
    ),
}


@pytest.mark.parametrize("mode", MODES)
async def test_mcp_answers_and_tool_errors_never_carry_the_token_or_the_key(
    live_server_url, fake_oneapp, served, canaries, mcp_responses, mode
):
    tenant, key = served
    results = {}
    async with connect(live_server_url, client_id=tenant.client_id, mode=mode, key=key) as client:
        tools = await client.list_tools()
        assert len(tools.tools) == 18
        fake_oneapp.reply("*", body={"data": [{"id": 1, "nombre": "Sucursal Ñuñoa"}]})
        results["success"] = await client.call_tool("core_list_sucursales", {})
        assert results["success"].is_error is False
        for fault, (reply, _) in UPSTREAM_FAULTS.items():
            fake_oneapp.reply("*", **reply)
            results[fault] = await client.call_tool("core_list_sucursales", {})

        tenant.http_timeout_ms = 300
        await tenant.asave(update_fields=["http_timeout_ms", "updated_at"])  # drops the cached server
        fake_oneapp.reply("*", delay=1.0)
        results["a timeout"] = await client.call_tool("core_list_sucursales", {})
        tenant.core_base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        await tenant.asave(update_fields=["core_base_url", "updated_at"])
        results["a refused connection"] = await client.call_tool("core_list_sucursales", {})

    # The token was really sent, on every call.
    assert [request.headers["authorization"] for request in fake_oneapp.received] == [TOKEN] * 5
    errors = {name: result.content[0].text for name, result in results.items() if name != "success"}
    assert all(results[name].is_error for name in errors)
    for fault, (_, message) in UPSTREAM_FAULTS.items():
        assert message in errors[fault]
    assert errors["a 401 echoing the token"].count("[redacted]") == 2
    assert "[redacted]" in errors["a 502 page echoing the header"]
    assert "OneApp did not answer within 300 ms." in errors["a timeout"]
    assert "connection refused" in errors["a refused connection"]

    canaries.assert_absent(tools.model_dump_json(), "tools/list")
    for name, result in results.items():
        canaries.assert_absent(result.model_dump_json(), f"the result of a tools/call with {name}")
    assert len(mcp_responses) >= 7
    for response in mcp_responses:
        canaries.assert_absent(response_text(response), f"a raw /mcp response ({mode})")
    await sync_to_async(canaries.assert_not_in_database)()
    # The live server's own records were captured too, DEBUG ones included.
    server = [record for record in canaries.records if record.name.startswith("mcp_endpoint.")]
    assert any(record.levelno == logging.DEBUG for record in server)
    assert any(
        record.name == "mcp_endpoint.tools" and tenant.client_id in record.getMessage() for record in server
    )
    canaries.assert_not_logged()


@pytest.mark.parametrize("flaw", ["\n", "\r\nX-Evil: 1", "\x00", " ñ"], ids=repr)
async def test_a_stored_token_that_is_no_valid_header_never_reaches_httpx(
    live_server_url, fake_oneapp, served, canaries, flaw
):
    # save() does not run the form's validators, and older rows predate them. Such a token must not
    # reach any HTTP client: h11 (under httpx's own transport) failed with the whole value in its
    # message, which httpcore logged at DEBUG.
    tenant, key = served
    tenant.authorization = TOKEN + flaw
    await tenant.asave()
    await sync_to_async(canaries.add_ciphertext)(tenant.client_id)
    async with connect(live_server_url, client_id=tenant.client_id, key=key) as client:
        result = await client.call_tool("core_list_sucursales", {})

    canaries.assert_not_logged()
    canaries.assert_absent(result.model_dump_json(), "the tool error")
    assert result.is_error is True
    assert "token cannot be sent: it is not a valid HTTP header value" in result.content[0].text
    assert fake_oneapp.received == []
    warnings = [record for record in canaries.records if record.levelno == logging.WARNING]
    assert any(tenant.client_id in record.getMessage() for record in warnings)


# /mcp refusals and Django's own error pages, over plain HTTP


FIXED_MINUTE = 29_000_000 * 60 + 1.0


def test_refusals_and_error_pages_never_echo_a_key_or_the_token(
    live_server_url, served, make_tenant, canaries, settings, monkeypatch
):
    tenant, key = served
    # One fixed rate-limit minute, so that the 429 below cannot meet the turn of a real one.
    freeze_limits_clock(monkeypatch, FIXED_MINUTE)
    limited = make_tenant(unique_client_id(), authorization=TOKEN, rate_limit_per_minute=1)
    limited_key = canaries.add_key(AccessKey.issue(limited, "limited")[1], "the other tenant's key")
    revoked, revoked_key = AccessKey.issue(tenant, "revoked")
    canaries.add_key(revoked_key, "the revoked key")
    revoked.revoke()
    settings.MCP_MAX_REQUEST_BYTES = 10_000
    body = json.dumps(INITIALIZE).encode()

    def mcp(headers: dict[str, str], content: bytes = body, path: str = "/mcp", method: str = "POST"):
        return httpx.request(
            method, live_server_url + path, headers={**JSON_HEADERS, **headers}, content=content
        )

    ours = {"X-Client-ID": tenant.client_id, "Authorization": f"Bearer {key}"}
    assert mcp(ours).status_code == 200
    assert (
        mcp({"X-Client-ID": limited.client_id, "Authorization": f"Bearer {limited_key}"}).status_code == 200
    )
    refusals = {
        "no access key": (401, mcp({"X-Client-ID": tenant.client_id})),
        "another tenant's key": (401, mcp({**ours, "Authorization": f"Bearer {limited_key}"})),
        "a revoked key": (401, mcp({**ours, "Authorization": f"Bearer {revoked_key}"})),
        "the upstream token instead of a key": (401, mcp({**ours, "Authorization": TOKEN})),
        "a key as the client id": (403, mcp({**ours, "X-Client-ID": key})),
        "no client id": (403, mcp({"Authorization": f"Bearer {key}"})),
        "an unknown client id": (403, mcp({**ours, "X-Client-ID": "nobody"})),
        "two client ids": (400, mcp({**ours, "X-Client-ID": f"{tenant.client_id},nobody"})),
        "a foreign origin": (403, mcp({**ours, "Origin": "https://evil.example"})),
        "a GET": (405, mcp(ours, b"", method="GET")),
        "a trailing slash": (404, mcp(ours, path="/mcp/")),
        "an unknown URL": (404, mcp(ours, b"", path="/no-such-page", method="GET")),
        "an oversized body holding the key": (
            413,
            mcp(ours, json.dumps({"key": key, "pad": "x" * 10_000}).encode()),
        ),
        "malformed JSON holding the key": (400, mcp(ours, f'{{"jsonrpc": "2.0", "key": "{key}"'.encode())),
        "the rate limit": (
            429,
            mcp({"X-Client-ID": limited.client_id, "Authorization": f"Bearer {limited_key}"}),
        ),
        "a bad Host on /mcp": (400, mcp({**ours, "Host": "evil.example"})),
        "a bad Host on admin": (
            400,
            mcp({**ours, "Host": "evil.example"}, b"", path="/admin/", method="GET"),
        ),
    }
    for name, (status, response) in refusals.items():
        assert response.status_code == status, name
        canaries.assert_absent(response_text(response), f"the {status} response to {name}")
    canaries.assert_not_in_database()
    canaries.assert_not_logged()


def test_an_undecryptable_token_is_reported_by_tenant_never_by_ciphertext_or_key(
    live_server_url, served, canaries, settings, admin_client
):
    tenant, key = served
    stored = raw_token(tenant.client_id)
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    canaries.add_encryption_keys()

    reloaded = ClientConfig.objects.get(pk=tenant.pk)
    for attempt in (lambda: reloaded.authorization, reloaded.token_hint, lambda: reloaded.snapshot()):
        with pytest.raises(TokenDecryptionError) as excinfo:
            attempt()
        message = str(excinfo.value)
        assert tenant.client_id in message and "TOKEN_ENCRYPTION_KEYS" in message
        canaries.assert_absent(message, "the TokenDecryptionError message")
        canaries.assert_absent("".join(traceback.format_exception(excinfo.value)), "its traceback")
        assert "gAAAA" not in message

    response = httpx.post(
        live_server_url + "/mcp",
        headers={**JSON_HEADERS, "X-Client-ID": tenant.client_id, "Authorization": f"Bearer {key}"},
        json=INITIALIZE,
    )
    assert response.status_code == 503
    canaries.assert_absent(response_text(response), "the 503 for an undecryptable tenant")
    changelist = admin_client.get(reverse("admin:tenants_clientconfig_changelist"))
    assert "cannot be decrypted" in changelist.content.decode()
    canaries.assert_absent(response_text(changelist), "the changelist of an undecryptable tenant")
    assert stored == raw_token(tenant.client_id)  # nothing was rewritten
    assert any(
        tenant.client_id in record.getMessage() and record.levelno == logging.ERROR
        for record in canaries.records
    )
    canaries.assert_not_logged()


def test_a_tenant_snapshot_keeps_the_token_out_of_its_repr(served, canaries):
    tenant, _ = served
    snapshot = ClientConfig.objects.get(pk=tenant.pk).snapshot()
    assert snapshot.authorization == TOKEN
    canaries.assert_absent(repr(snapshot) + str(snapshot), "a TenantSettings repr")


# Management commands


def run_command(name: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_command(name: str, *args: str) -> str:
    """The CommandError's message, its traceback, and whatever was written before it."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(name, *args, stdout=out, stderr=err)
    trace = "".join(traceback.format_exception(excinfo.value))
    return "\n".join([str(excinfo.value), trace, out.getvalue(), err.getvalue()])


def clients_config(token: str = TOKEN, **entry: Any) -> str:
    settings = {"authorization": token, "coreBaseUrl": "https://core.example.test", **entry}
    return json.dumps({"alpha": settings})


@pytest.mark.django_db
def test_import_legacy_env_prints_no_token_in_any_mode(no_legacy_env, canaries, tmp_path):
    canaries.add_token(NEW_TOKEN, "the new token")
    changed = tmp_path / "clients.json"
    changed.write_text(clients_config(NEW_TOKEN))
    outputs = {}

    no_legacy_env.setenv(
        "CLIENTS_CONFIG", base64.b64encode(gzip.compress(clients_config().encode())).decode()
    )
    outputs["gzip + base64, dry run"] = run_command("import_legacy_env", "--dry-run")
    assert not ClientConfig.objects.exists()
    no_legacy_env.setenv("CLIENTS_CONFIG", clients_config())
    no_legacy_env.setenv("AUTHORIZATION", NEW_TOKEN)  # ignored, with a warning, while CLIENTS_CONFIG is set
    outputs["create"] = run_command("import_legacy_env")
    outputs["skip"] = run_command("import_legacy_env")
    outputs["unchanged"] = run_command("import_legacy_env", "--update")
    outputs["update, dry run"] = run_command(
        "import_legacy_env", "--file", str(changed), "--update", "--dry-run"
    )
    assert ClientConfig.objects.get(client_id="alpha").authorization == TOKEN
    outputs["update"] = run_command("import_legacy_env", "--file", str(changed), "--update")
    no_legacy_env.delenv("CLIENTS_CONFIG")
    no_legacy_env.setenv("AUTHORIZATION", TOKEN)
    outputs["single tenant"] = run_command("import_legacy_env")

    assert ClientConfig.objects.get(client_id="alpha").authorization == NEW_TOKEN
    assert ClientConfig.objects.get(client_id="default").authorization == TOKEN
    assert "updated alpha (token)" in outputs["update"][0]
    assert "single-tenant variables are ignored" in outputs["create"][1]
    for mode, (out, err) in outputs.items():
        canaries.assert_absent(out, f"the stdout of import_legacy_env ({mode})")
        canaries.assert_absent(err, f"the stderr of import_legacy_env ({mode})")
    canaries.add_ciphertext("alpha")
    canaries.add_ciphertext("default")
    canaries.assert_not_in_database()
    canaries.assert_not_logged()


IMPORT_ERRORS = {
    "invalid JSON right after the token": {"CLIENTS_CONFIG": f'{{"alpha": {{"authorization": "{TOKEN}" x'},
    "a token with a line break": {"CLIENTS_CONFIG": clients_config(f"{TOKEN}\r\nX-Evil: 1")},
    "the token as the timeout": {"CLIENTS_CONFIG": clients_config(httpTimeoutMs=TOKEN)},
    "the token in an unknown key": {"CLIENTS_CONFIG": clients_config(token=TOKEN, authorisation=TOKEN)},
    "the token in a URL": {"CLIENTS_CONFIG": clients_config(clientBaseUrl=f"https://{CREDENTIAL} x")},
    "the token as the client header": {"CLIENTS_CONFIG": clients_config(clientHeader=f"{TOKEN}\n")},
    "the token as a whole entry": {"CLIENTS_CONFIG": json.dumps({"alpha": TOKEN})},
    "the token where gzip was expected": {"CLIENTS_CONFIG": "H4sI" + CREDENTIAL},
    "single tenant, a token with a line break": {"AUTHORIZATION": f"{TOKEN}\nX-Evil: 1"},
    "single tenant, the token as the timeout": {"AUTHORIZATION": TOKEN, "HTTP_TIMEOUT_MS": TOKEN},
    "single tenant, the token as the base URL": {"AUTHORIZATION": TOKEN, "CORE_BASE_URL": TOKEN},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", IMPORT_ERRORS)
def test_import_legacy_env_errors_name_the_problem_never_the_token(no_legacy_env, canaries, case):
    for var, value in IMPORT_ERRORS[case].items():
        no_legacy_env.setenv(var, value)
    for args in ([], ["--dry-run"], ["--update"]):
        canaries.assert_absent(
            failing_command("import_legacy_env", *args), f"import_legacy_env {args} ({case})"
        )
    assert not ClientConfig.objects.exists()
    canaries.assert_not_in_database()
    canaries.assert_not_logged()


@pytest.mark.django_db
def test_rotate_token_keys_prints_no_token_ciphertext_or_key(make_tenant, canaries, settings):
    make_tenant("alpha", authorization=TOKEN)
    before = canaries.add_ciphertext("alpha")
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.TOKEN_ENCRYPTION_KEYS]
    canaries.add_encryption_keys()

    out, err = run_command("rotate_token_keys")
    after = canaries.add_ciphertext("alpha")

    assert after != before and decrypt(after) == TOKEN
    assert out.startswith("Re-encrypted 1 token(s)")
    canaries.assert_absent(out + err, "the output of rotate_token_keys")
    canaries.assert_not_in_database()
    canaries.assert_not_logged()


@pytest.mark.django_db
def test_create_access_key_prints_the_key_once_on_its_last_stdout_line_and_nowhere_else(
    make_tenant, canaries
):
    make_tenant("alpha", authorization=TOKEN)
    out, err = run_command("create_access_key", "ALPHA", "--name", "Canary client", "--expires-days", "30")
    key = out.splitlines()[-1]
    canaries.add_key(key)
    assert out == key + "\n"
    assert AccessKey.objects.get().key_hash == hash_key(key)
    canaries.assert_absent(err, "the stderr of create_access_key")
    assert AccessKey.objects.get().display_prefix in err

    for args in (["nobody"], ["alpha", "--expires-days", "0"], ["alpha", "--name", ""]):
        canaries.assert_absent(failing_command("create_access_key", *args), f"create_access_key {args}")
    assert AccessKey.objects.count() == 1
    cells = canaries.assert_not_in_database()
    assert ("tenants_accesskey.key_hash", hash_key(key)) in cells
    canaries.assert_not_logged()


@pytest.mark.django_db
def test_revoke_access_key_echoes_only_the_prefix_even_when_given_the_whole_key(make_tenant, canaries):
    tenant = make_tenant("alpha", authorization=TOKEN)
    access_key, key = AccessKey.issue(tenant, "Canary client")
    canaries.add_key(key)

    for mistake in (key, secret_part(key), f"Bearer {key}", f" {key} "):
        canaries.assert_absent(failing_command("revoke_access_key", mistake), "revoke_access_key given a key")
    assert AccessKey.objects.get().revoked_at is None
    out, err = run_command("revoke_access_key", access_key.display_prefix)
    again, _ = run_command("revoke_access_key", access_key.prefix)
    assert f"Revoked {access_key.display_prefix}" in out and "already revoked" in again
    canaries.assert_absent(out + err + again, "the output of revoke_access_key")
    canaries.assert_not_in_database()
    canaries.assert_not_logged()
