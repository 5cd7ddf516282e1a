"""Inbound access keys at /mcp (mcp_endpoint/guards.py): `Authorization: Bearer omk_…`, refused or
accepted, checked without a query on a warm cache, and their last use recorded about once a minute."""

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mcp_endpoint import guards, views
from mcp_endpoint.cache import tenant_cache
from tenants.models import AccessKey, ClientConfig, TenantChange
from tests.helpers import (
    ACME_KEY,
    CALL_TOOL,
    CANARY_TOKEN,
    GLOBEX_KEY,
    JSON_HEADERS,
    REVOKED_KEY,
    WRONG_SECRET_KEY,
    give_key,
)
from tests.mcp_client import MODES, connect

EXPIRED_KEY = "omk_expired1_" + "e" * 43


def post(url: str, authorization: str | None = None, client_id: str | None = "acme", **headers: str):
    """A tools/call that reaches OneApp if it gets through, with exactly the headers given."""
    sent = dict(JSON_HEADERS)
    if client_id is not None:
        sent["X-Client-ID"] = client_id
    if authorization is not None:
        sent["Authorization"] = authorization
    sent.update(headers)
    return httpx.post(url + "/mcp", headers=sent, content=json.dumps(CALL_TOOL).encode())


class Clock:
    """Stands in for `django.utils.timezone` and the `time` module where they are read: it moves only
    when the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.start, self.elapsed = start, 0.0

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def time(self) -> float:
        return self.now().timestamp()

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed


def bearer(key: str) -> str:
    return f"Bearer {key}"


@pytest.fixture(autouse=True)
def _no_key_use_remembered(monkeypatch):
    # Key ids are reused across tests; a use remembered from an earlier test must not hide a write.
    monkeypatch.setattr(guards, "_last_used_written", {})


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The time the key checks read: `timezone.now()` in the view (expiry), `time` in guards (last use)."""
    clock = Clock(timezone.now())
    monkeypatch.setattr(views, "timezone", clock)
    monkeypatch.setattr(guards, "time", clock)
    return clock


@pytest.fixture
def other_keys(oneapp_tenant, make_tenant):
    """A revoked and an expired key of acme, and tenant globex with a key of its own."""
    give_key(oneapp_tenant, REVOKED_KEY, revoked_at=timezone.now())
    give_key(oneapp_tenant, EXPIRED_KEY, expires_at=timezone.now() - timedelta(minutes=1))
    give_key(make_tenant("globex"), GLOBEX_KEY)


def assert_refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert response.headers["www-authenticate"].startswith("Bearer ")


# Refusals.


@pytest.mark.parametrize("authorization", [None, ""])
def test_a_request_without_a_key_gets_401_missing_access_key_and_reaches_nothing(
    live_server_url, oneapp_tenant, fake_oneapp, authorization
):
    response = post(live_server_url, authorization)
    assert_refused(response, "MISSING_ACCESS_KEY")
    assert 'realm="oneapp-mcp"' in response.headers["www-authenticate"]
    assert fake_oneapp.received == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(bearer(WRONG_SECRET_KEY), id="right-prefix-wrong-secret"),
        pytest.param(bearer("omk_unknown1_" + "u" * 43), id="well-formed-but-unknown"),
        pytest.param(bearer(REVOKED_KEY), id="revoked"),
        pytest.param(bearer(EXPIRED_KEY), id="expired"),
        pytest.param(bearer(GLOBEX_KEY), id="another-tenants-key"),
        pytest.param(bearer("sk_live_" + "x" * 40), id="not-omk"),
        pytest.param(bearer(ACME_KEY[4:]), id="omk-prefix-missing"),
        pytest.param(bearer(ACME_KEY + "x"), id="one-character-too-long"),
        pytest.param(bearer(ACME_KEY[:-1]), id="one-character-short"),
        pytest.param(bearer(ACME_KEY.upper()), id="key-uppercased"),
        pytest.param(ACME_KEY, id="no-scheme"),
        pytest.param("Basic " + ACME_KEY, id="basic-scheme"),
        pytest.param("Token " + ACME_KEY, id="token-scheme"),
        pytest.param("Bearer", id="bearer-with-nothing"),
        pytest.param("Bearer\t" + ACME_KEY, id="tab-instead-of-space"),
        pytest.param(bearer(ACME_KEY[:20] + " " + ACME_KEY[20:]), id="space-inside-the-key"),
        pytest.param(bearer(ACME_KEY) + " extra", id="words-after-the-key"),
        pytest.param(bearer(ACME_KEY) + ", Bearer " + ACME_KEY, id="two-credentials"),
    ],
)
def test_a_wrong_revoked_expired_foreign_or_malformed_key_gets_401_invalid_access_key(
    live_server_url, other_keys, fake_oneapp, authorization
):
    response = post(live_server_url, authorization)
    assert_refused(response, "INVALID_ACCESS_KEY")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert fake_oneapp.received == []


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("bearer " + ACME_KEY, id="lowercase-scheme"),
        pytest.param("BEARER " + ACME_KEY, id="uppercase-scheme"),
        # RFC 7235: credentials = auth-scheme 1*SP token68, so several spaces are still one credential.
        pytest.param("Bearer   " + ACME_KEY, id="several-spaces-after-the-scheme"),
    ],
)
def test_the_bearer_scheme_is_case_insensitive_and_may_be_followed_by_several_spaces(
    live_server_url, oneapp_tenant, fake_oneapp, authorization
):
    response = post(live_server_url, authorization)
    assert response.status_code == 200
    assert len(fake_oneapp.received) == 1


@pytest.mark.parametrize(
    ("client_id", "authorization", "extra", "status", "code"),
    [
        (None, None, {}, 403, "MISSING_CLIENT_ID"),
        (None, bearer(ACME_KEY), {}, 403, "MISSING_CLIENT_ID"),
        ("", "Basic nonsense", {}, 403, "MISSING_CLIENT_ID"),
        ("acme,globex", None, {}, 400, "DUPLICATE_CLIENT_ID"),
        ("ac-me", None, {}, 403, "INVALID_CLIENT_ID"),
        ("nobody", None, {}, 403, "UNKNOWN_CLIENT"),
        ("nobody", bearer(ACME_KEY), {}, 403, "UNKNOWN_CLIENT"),
        ("acme", None, {"Origin": "https://evil.example"}, 403, "FORBIDDEN_ORIGIN"),
    ],
)
def test_routing_refusals_keep_their_status_and_come_before_the_key_check(
    live_server_url, oneapp_tenant, fake_oneapp, client_id, authorization, extra, status, code
):
    response = post(live_server_url, authorization, client_id, **extra)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert "www-authenticate" not in response.headers
    assert fake_oneapp.received == []


def test_a_disabled_tenant_is_an_unknown_client_with_or_without_a_key(live_server_url, oneapp_tenant):
    ClientConfig.objects.filter(client_id="acme").update(enabled=False)
    for authorization in [None, bearer(ACME_KEY)]:
        response = post(live_server_url, authorization)
        assert (response.status_code, response.json()["code"]) == (403, "UNKNOWN_CLIENT")


# Valid keys.


@pytest.mark.parametrize("mode", MODES)
async def test_a_valid_key_works_end_to_end_with_the_sdk_client_and_is_not_sent_upstream(
    live_server_url, oneapp_tenant, fake_oneapp, mode
):
    async with connect(live_server_url, mode=mode) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert result.is_error is False
    [received] = fake_oneapp.received
    assert received.headers["authorization"] == CANARY_TOKEN
    assert ACME_KEY not in str(received)


def test_a_new_key_works_at_once_beside_the_old_one_and_revoking_the_old_one_leaves_the_new(
    live_server_url, oneapp_tenant, fake_oneapp
):
    assert post(live_server_url, bearer(ACME_KEY)).status_code == 200
    assert "acme" in tenant_cache()

    _new, new_key = AccessKey.issue(oneapp_tenant, "rotated")
    assert "acme" not in tenant_cache()  # dropped on commit, so the next request knows the new key
    assert post(live_server_url, bearer(new_key)).status_code == 200
    assert post(live_server_url, bearer(ACME_KEY)).status_code == 200

    AccessKey.objects.get(prefix=ACME_KEY[4:12]).revoke()
    assert "acme" not in tenant_cache()
    assert_refused(post(live_server_url, bearer(ACME_KEY)), "INVALID_ACCESS_KEY")
    assert post(live_server_url, bearer(new_key)).status_code == 200
    assert len(fake_oneapp.received) == 4


def test_a_key_that_expires_while_its_tenants_server_is_cached_is_refused_from_then_on(
    live_server_url, oneapp_tenant, fake_oneapp, clock
):
    key = "omk_shortly1_" + "s" * 43
    expires_at = clock.now() + timedelta(minutes=5)
    give_key(oneapp_tenant, key, expires_at=expires_at)
    assert post(live_server_url, bearer(key)).status_code == 200
    built_at = tenant_cache().built_at("acme")

    clock.advance(5 * 60)  # the instant it expires: from then on it is refused

    assert_refused(post(live_server_url, bearer(key)), "INVALID_ACCESS_KEY")
    assert tenant_cache().built_at("acme") == built_at  # the same cached server refused it
    assert post(live_server_url, bearer(ACME_KEY)).status_code == 200
    assert len(fake_oneapp.received) == 2


# Turning the requirement off.


def test_with_keys_not_required_a_request_without_a_key_gets_through(
    live_server_url, oneapp_tenant, fake_oneapp, settings
):
    settings.MCP_REQUIRE_ACCESS_KEY = False
    assert post(live_server_url).status_code == 200
    assert len(fake_oneapp.received) == 1


# Checking a key costs no query; its use is recorded about once a minute.


def in_process(requests: int, between=None) -> tuple[list[int], list[list[str]]]:
    """Send `requests` valid requests through the view on one event loop, on this thread.

    Returns each response's status and the SQL each request ran, its `last_used_at` write
    included. `between(i)` runs (on this thread, uncounted) before request i > 0.
    """
    queries = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS])
    client = AsyncClient()
    headers = {"Accept": JSON_HEADERS["Accept"], "X-Client-ID": "acme", "Authorization": bearer(ACME_KEY)}
    statuses: list[int] = []
    sql: list[list[str]] = []

    async def run() -> None:
        for i in range(requests):
            if i and between is not None:
                await sync_to_async(between)(i)
            start = len(queries)
            response = await client.post("/mcp", CALL_TOOL, content_type="application/json", headers=headers)
            statuses.append(response.status_code)
            await asyncio.gather(*guards._writes)
            sql.append([query["sql"] for query in queries.captured_queries[start:]])
        await (await tenant_cache().aget("acme")).aclose()

    # async_to_sync runs the ORM's calls on this thread, inside the test's transaction.
    with queries:
        async_to_sync(run)()
    return statuses, sql


def writes(sql: list[str]) -> int:
    return sum(query.startswith('UPDATE "tenants_accesskey"') for query in sql)


@pytest.fixture
def acme_in_process(make_tenant, fake_oneapp, monkeypatch):
    # The key-use write on this test's transaction, where its query is counted (not on a pool thread).
    monkeypatch.setattr(guards, "record_use", sync_to_async(guards._record_use))
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url + "/core-api", client_base_url=fake_oneapp.url)
    return give_key(tenant, ACME_KEY)


def test_a_cache_hit_checks_the_key_without_any_database_query(acme_in_process):
    statuses, sql = in_process(2)
    assert statuses == [200, 200]
    # The miss lists the known ids, reads the tenant and its keys and records the key's first use;
    # the hit does nothing.
    assert (len(sql[0]), writes(sql[0])) == (4, 1)
    assert sql[1] == []


def test_last_used_at_is_set_by_the_first_use_and_not_rewritten_within_the_minute(acme_in_process, clock):
    changes = TenantChange.objects.count()
    seen = []

    def look(i: int) -> None:
        seen.append(AccessKey.objects.get(pk=acme_in_process.pk).last_used_at)
        clock.advance(guards.LAST_USED_EVERY_SECONDS / 2 - 0.5)  # the third request: 59 s after the first

    first_use = clock.now()
    statuses, sql = in_process(3, between=look)
    look(3)

    assert statuses == [200, 200, 200]
    assert [writes(request) for request in sql] == [1, 0, 0]
    assert seen == [first_use] * 3
    assert TenantChange.objects.count() == changes  # an update(), not a save() that would drop servers


def test_last_used_at_is_written_again_once_the_interval_has_passed(acme_in_process, clock):
    seen = []

    def look(i: int) -> None:
        seen.append(AccessKey.objects.get(pk=acme_in_process.pk).last_used_at)
        clock.advance(guards.LAST_USED_EVERY_SECONDS)

    first_use = clock.now()
    statuses, sql = in_process(2, between=look)
    look(2)

    assert statuses == [200, 200]
    assert [writes(request) for request in sql] == [1, 1]
    assert seen[:2] == [first_use, first_use + timedelta(seconds=guards.LAST_USED_EVERY_SECONDS)]


def test_using_a_key_neither_writes_a_tenant_change_nor_drops_the_cached_server(
    live_server_url, oneapp_tenant
):
    changes = TenantChange.objects.count()
    assert post(live_server_url, bearer(ACME_KEY)).status_code == 200
    built_at = tenant_cache().built_at("acme")
    deadline = time.monotonic() + 10
    while AccessKey.objects.get(prefix=ACME_KEY[4:12]).last_used_at is None:
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.02)

    assert post(live_server_url, bearer(ACME_KEY)).status_code == 200
    assert TenantChange.objects.count() == changes
    assert tenant_cache().built_at("acme") == built_at


# The key itself stays secret.


async def test_the_plaintext_key_appears_in_no_log_and_no_response(
    live_server_url, oneapp_tenant, fake_oneapp, caplog
):
    caplog.set_level(logging.DEBUG)
    for name in ["mcp_endpoint", "tenants", "django", "mcp"]:
        caplog.set_level(logging.DEBUG, logger=name)
    responses = []
    async with httpx.AsyncClient() as http:
        for authorization in [bearer(ACME_KEY), bearer(WRONG_SECRET_KEY), WRONG_SECRET_KEY, None]:
            headers = {**JSON_HEADERS, "X-Client-ID": "acme"}
            if authorization is not None:
                headers["Authorization"] = authorization
            responses.append(await http.post(live_server_url + "/mcp", headers=headers, json=CALL_TOOL))
    async with connect(live_server_url) as client:
        await client.call_tool("core_list_sucursales", {})

    assert [r.status_code for r in responses] == [200, 401, 401, 401]
    assert "acme" in caplog.text  # the refusal was logged, by tenant
    for secret in [ACME_KEY, WRONG_SECRET_KEY, ACME_KEY[13:], WRONG_SECRET_KEY[13:]]:
        assert secret not in caplog.text
        for response in responses:
            assert secret not in response.text
            assert secret not in str(response.headers)
        assert all(secret not in str(received) for received in fake_oneapp.received)
