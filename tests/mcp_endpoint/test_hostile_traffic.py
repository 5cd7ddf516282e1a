"""Hostile or unlucky traffic costs little and changes nothing (hardening issue, items 4, 5, 10-12).

Unknown ids are remembered briefly (no query each); wrong keys are limited per address and tenant
and logged at a bounded rate; a database that fails gives 503, said once; a key-use write waiting
for a lock holds up no read; a token that cannot be decrypted is said once and not re-read.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError, connection
from django.test import AsyncClient

from mcp_endpoint import cache as cache_module
from mcp_endpoint import guards, limiter, metrics, views
from mcp_endpoint.cache import TenantCache, tenant_cache
from mcp_endpoint.quiet_log import QuietLog
from tenants.crypto import TokenDecryptionError
from tenants.models import TenantSettings
from tests.helpers import ACME_KEY, INITIALIZE, JSON_HEADERS, give_key, tenant_settings

GLOBEX_KEY = "omk_globex01_" + "g" * 43
WRONG_KEY = ACME_KEY[:13] + "w" * 43


class CountingLoader:
    def __init__(self, result: TenantSettings | Exception | None = None) -> None:
        self.result = result
        self.calls: list[str] = []

    async def __call__(self, client_id: str) -> TenantSettings | None:
        self.calls.append(client_id)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Item 4: unknown ids are remembered briefly, boundedly, and forgotten on a change.


async def test_an_unknown_id_is_looked_up_once_then_remembered_for_the_absent_ttl():
    loader, clock = CountingLoader(None), Clock()
    cache = TenantCache(loader, ttl_seconds=300, max_entries=10, clock=clock, absent_ttl_seconds=30)

    for _ in range(50):
        assert await cache.aget("nobody") is None
    clock.now += 29
    assert await cache.aget("nobody") is None
    assert loader.calls == ["nobody"]

    clock.now += 2  # past the 30 s
    assert await cache.aget("nobody") is None
    assert loader.calls == ["nobody", "nobody"]


async def test_the_memory_of_absent_ids_is_bounded():
    cache = TenantCache(CountingLoader(None), ttl_seconds=300, max_entries=10, max_absent=5)
    for n in range(100):
        await cache.aget(f"nobody{n}")
    assert len(cache._absent) == 5


async def test_a_change_to_an_absent_tenant_ends_its_absence_at_once():
    loader = CountingLoader(None)
    cache = TenantCache(loader, ttl_seconds=300, max_entries=10)
    assert await cache.aget("acme") is None

    cache.invalidate("acme")  # what the change feed does when acme is created or enabled
    assert await cache.aget("acme") is None

    assert loader.calls == ["acme", "acme"]


def test_a_tenant_created_after_its_id_was_refused_is_served_on_the_next_request(
    live_server_url, transactional_db, make_tenant, fake_oneapp
):
    headers = {**JSON_HEADERS, "X-Client-ID": "acme", "Authorization": f"Bearer {ACME_KEY}"}
    assert post(live_server_url, headers).json()["code"] == "UNKNOWN_CLIENT"
    assert post(live_server_url, headers).json()["code"] == "UNKNOWN_CLIENT"  # now from memory

    tenant = make_tenant("acme", core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
    give_key(tenant, ACME_KEY)

    assert post(live_server_url, headers).status_code == 200


# Item 5: wrong keys are limited per address and per tenant, and logged at a bounded rate.


def post(url: str, headers: dict[str, str], source: str = "127.0.0.1") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source)) as client:
        return client.post(url + "/mcp", headers=headers, content=json.dumps(INITIALIZE), timeout=10)


def acme(key: str) -> dict[str, str]:
    return {**JSON_HEADERS, "X-Client-ID": "acme", "Authorization": f"Bearer {key}"}


@pytest.mark.usefixtures("oneapp_tenant")
def test_an_address_with_too_many_wrong_keys_is_refused_before_its_key_is_checked(
    live_server_url, settings, caplog, monkeypatch
):
    settings.MCP_FAILED_KEYS_PER_ADDRESS = 3
    caplog.set_level(logging.INFO, logger="mcp_endpoint")
    monkeypatch.setattr(guards, "_quiet", QuietLog(guards.logger, interval=60))  # nothing said yet

    wrong = [post(live_server_url, acme(WRONG_KEY)) for _ in range(3)]
    limited = post(live_server_url, acme(WRONG_KEY))
    right_from_there = post(live_server_url, acme(ACME_KEY))
    right_from_elsewhere = post(live_server_url, acme(ACME_KEY), source="127.0.0.2")

    assert [response.status_code for response in wrong] == [401, 401, 401]
    assert limited.status_code == 429 and limited.json()["code"] == "TOO_MANY_FAILED_KEYS"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert right_from_there.status_code == 429  # a guesser learns nothing more from this address
    assert right_from_elsewhere.status_code == 200
    refusals = [r for r in caplog.records if "refused an invalid access key" in r.getMessage()]
    assert len(refusals) == 1  # one line per tenant and minute, not one per guess
    assert WRONG_KEY not in caplog.text and ACME_KEY not in caplog.text


@pytest.mark.usefixtures("oneapp_tenant")
def test_a_tenant_with_too_many_wrong_keys_refuses_addresses_that_failed_but_not_the_others(
    live_server_url, settings
):
    settings.MCP_FAILED_KEYS_PER_ADDRESS = 100
    settings.MCP_FAILED_KEYS_PER_TENANT = 2

    first = [post(live_server_url, acme(WRONG_KEY), source=f"127.0.0.{n}") for n in (3, 4)]
    again = post(live_server_url, acme(ACME_KEY), source="127.0.0.3")
    clean = post(live_server_url, acme(ACME_KEY), source="127.0.0.5")

    assert [response.status_code for response in first] == [401, 401]
    assert again.status_code == 429
    assert clean.status_code == 200  # a guesser cannot lock the tenant's own clients out


def test_quiet_log_says_one_line_per_subject_and_interval_and_counts_the_rest(caplog):
    clock = Clock()
    quiet = QuietLog(logging.getLogger("tests.quiet"), interval=60, clock=clock)
    caplog.set_level(logging.INFO, logger="tests.quiet")

    for _ in range(5):
        quiet.log(logging.INFO, "acme", "refused %s", "acme")
    quiet.log(logging.INFO, "globex", "refused %s", "globex")
    clock.now += 61
    quiet.log(logging.INFO, "acme", "refused %s", "acme")

    assert [r.getMessage() for r in caplog.records] == [
        "refused acme",
        "refused globex",
        "refused acme (4 more like it in the last 61 s not logged)",
    ]


# Item 10: a database that fails gives 503 with Retry-After, said once, and recovers by itself.


def in_process_post(headers: dict[str, str]) -> tuple[int, dict, dict]:
    async def run() -> tuple[int, dict, dict]:
        response = await AsyncClient().post(
            "/mcp", json.dumps(INITIALIZE), content_type="application/json", headers=headers
        )
        return response.status_code, response.json(), dict(response.headers)

    return async_to_sync(run)()


@pytest.mark.parametrize("failure", [OperationalError])
def test_with_the_database_down_an_uncached_tenant_gets_503_and_the_log_one_line(
    db, make_tenant, monkeypatch, caplog, failure
):
    make_tenant("acme")
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(views, "_quiet", QuietLog(views.logger, interval=30))  # nothing said yet

    def unreachable() -> None:
        raise failure("connection to server at 10.9.9.9 failed: Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "ensure_connection", unreachable)
        answers = [in_process_post(acme(ACME_KEY)) for _ in range(3)]
    recovered = in_process_post(acme(ACME_KEY))

    for status, body, headers in answers:
        assert status == 503
        assert body == {
            "error": "The service cannot read its configuration right now. Retry shortly.",
            "code": "SERVICE_UNAVAILABLE",
        }
        assert headers["Retry-After"] == "5"
    failed = [r for r in caplog.records if "the database failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None  # one line, no traceback
    assert recovered[0] == 401  # the database is back: the request reaches the key check


# Item 11: a key-use write waiting for another process's lock holds up no read.


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_a_write_lock_held_elsewhere_does_not_hold_up_first_requests_or_readyz(
    live_server_url, transactional_db, make_tenant, fake_oneapp
):
    for client_id, key in (("acme", ACME_KEY), ("globex", GLOBEX_KEY)):
        tenant = make_tenant(client_id, core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
        give_key(tenant, key)
    other_process = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, check_same_thread=False)
    other_process.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock, as a migration or a command would
    try:
        assert post(live_server_url, acme(ACME_KEY)).status_code == 200  # its key-use write now waits
        globex = {**acme(GLOBEX_KEY), "X-Client-ID": "globex"}
        assert post(live_server_url, globex).status_code == 200  # a first request: reads, answered at once
        assert httpx.get(live_server_url + "/readyz", timeout=5).status_code == 200
    finally:
        other_process.rollback()
        other_process.close()


# Item 12: a token that the keys cannot decrypt is said once, and the row is not read on every request.


async def test_an_undecryptable_tenant_is_read_once_said_once_and_refused_from_memory(caplog, monkeypatch):
    monkeypatch.setattr(
        cache_module, "_quiet", QuietLog(cache_module.logger, interval=60)
    )  # nothing said yet
    loader = CountingLoader(TokenDecryptionError("The upstream token of acme cannot be decrypted."))
    cache = TenantCache(loader, ttl_seconds=300, max_entries=10)
    caplog.set_level(logging.ERROR, logger="mcp_endpoint")

    for _ in range(5):
        with pytest.raises(TokenDecryptionError):
            await cache.aget("acme")

    assert loader.calls == ["acme"]
    assert [r.getMessage() for r in caplog.records if r.name == "mcp_endpoint.cache"] == [
        "tenant acme cannot be served: The upstream token of acme cannot be decrypted."
    ]


# Item 7 (the front door's part): a client that hangs up has its OneApp call cancelled.


@pytest.mark.usefixtures("oneapp_tenant")
def test_a_client_that_hangs_up_has_its_upstream_call_cancelled(live_server_url, fake_oneapp):
    fake_oneapp.reply("/core-api/core/sucursales", body=[], delay=3)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "core_list_sucursales", "arguments": {}},
    }
    gone_before = metrics.REQUESTS.labels("CLIENT_GONE")._value.get()
    cancelled = metrics.TOOL_CALLS.labels("acme", "core_list_sucursales", "cancelled")
    cancelled_before = cancelled._value.get()

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(live_server_url + "/mcp", headers=acme(ACME_KEY), content=json.dumps(call), timeout=0.5)

    live = tenant_cache()._entries["acme"].live
    deadline = time.monotonic() + 1.5  # well before the upstream's answer at 3 s
    while live._in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live._in_flight == 0
    assert metrics.REQUESTS.labels("CLIENT_GONE")._value.get() == gone_before + 1
    assert cancelled._value.get() == cancelled_before + 1  # the tool call is counted as cancelled, not ok


async def test_failed_key_counts_are_read_only_once_a_key_failed_in_this_worker(monkeypatch, settings):
    # In the worker's memory nothing else adds to them: before any failure every count is 0.
    settings.MCP_FAILED_KEYS_PER_ADDRESS = 1
    monkeypatch.setattr(guards, "_failure_noted_at", -math.inf)
    reads: list[tuple[object, ...]] = []
    read_window = limiter.window

    async def window(*args: str | int) -> limiter.Window:
        reads.append(args)
        return await read_window(*args)

    monkeypatch.setattr(limiter, "window", window)
    tenant = tenant_settings()

    assert await guards.check_failed_keys("192.0.2.7", tenant) is None
    assert reads == []
    await guards.note_failed_key("192.0.2.7", tenant)
    refusal = await guards.check_failed_keys("192.0.2.7", tenant)
    assert refusal is not None and refusal.code == "TOO_MANY_FAILED_KEYS"
    assert reads == [(1, "badkey", "addr", "192.0.2.7")]


async def test_failed_keys_from_one_ipv6_64_count_together_and_a_mapped_ipv4_as_itself(settings):
    # Otherwise a client could spend a fresh count, and our memory, on each of its 2^64 addresses.
    settings.MCP_FAILED_KEYS_PER_ADDRESS = 2
    settings.MCP_FAILED_KEYS_PER_TENANT = 100
    tenant = tenant_settings()

    await guards.note_failed_key("2001:db8:1:2::1", tenant)
    await guards.note_failed_key("2001:db8:1:2:ffff::9", tenant)
    await guards.note_failed_key("::ffff:192.0.2.9", tenant)

    assert await guards.check_failed_keys("2001:db8:1:2::77", tenant) is not None  # same /64
    assert await guards.check_failed_keys("2001:db8:1:3::1", tenant) is None  # the next /64
    assert await guards.check_failed_keys("192.0.2.9", tenant) is None  # one failure so far
    await guards.note_failed_key("192.0.2.9", tenant)
    assert await guards.check_failed_keys("::ffff:192.0.2.9", tenant) is not None
