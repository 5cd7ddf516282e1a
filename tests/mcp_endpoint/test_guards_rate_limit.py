"""The per-tenant rate limit of /mcp: a fixed one-minute window counted through Django's cache."""

import json
import logging
import time

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import AsyncClient

from mcp_endpoint import guards
from mcp_endpoint.cache import tenant_cache
from mcp_endpoint.live_tenant import LiveTenant, Retired
from tenants.models import ClientConfig, TenantSettings
from tests.helpers import ACME_KEY, CALL_TOOL, GLOBEX_KEY, give_key

WINDOW = 29_000_000  # a fixed minute, so that no test straddles the turn of a real one


class Clock:
    """Stands in for the `time` module in guards: time() is set by the test, the rest is real."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Counters live in the default cache for two minutes: no window may leak into another test.
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(WINDOW * 60 + 45.5)  # 45.5 s into the window: 14.5 s left
    monkeypatch.setattr(guards, "time", clock)
    return clock


@pytest.fixture
def acme(oneapp_tenant):
    ClientConfig.objects.filter(pk=oneapp_tenant.pk).update(rate_limit_per_minute=3)
    return oneapp_tenant


def post(url: str, client_id: str = "acme", key: str = ACME_KEY) -> httpx.Response:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "X-Client-ID": client_id,
        "Authorization": f"Bearer {key}",
    }
    return httpx.post(url + "/mcp", headers=headers, content=json.dumps(CALL_TOOL).encode())


def statuses(url: str, count: int, **kwargs) -> list[int]:
    return [post(url, **kwargs).status_code for _ in range(count)]


def test_requests_over_the_tenants_limit_get_429_with_retry_after_and_never_reach_oneapp(
    live_server_url, acme, clock, fake_oneapp
):
    assert statuses(live_server_url, 3) == [200, 200, 200]

    response = post(live_server_url)

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "14"
    body = response.json()
    assert body["code"] == "RATE_LIMITED"
    assert "14 s" in body["error"]
    assert statuses(live_server_url, 2) == [429, 429]
    assert len(fake_oneapp.received) == 3


@pytest.mark.parametrize(
    ("seconds_into_the_minute", "retry_after"),
    [(0.0, 60), (0.5, 59), (45.5, 14), (59.0, 1), (59.99, 1)],
)
async def test_retry_after_is_the_whole_seconds_to_the_next_window_between_1_and_60(
    clock, seconds_into_the_minute, retry_after
):
    clock.now = WINDOW * 60 + seconds_into_the_minute
    tenant = TenantSettings(
        client_id="acme",
        core_base_url="https://core.example.test",
        client_base_url="https://front.example.test",
        authorization="",
        client_header="",
        http_timeout_ms=1000,
        rate_limit_per_minute=1,
    )
    assert await guards.check_rate(tenant) is None

    refusal = await guards.check_rate(tenant)

    assert (refusal.status, refusal.code) == (429, "RATE_LIMITED")
    assert dict(refusal.headers) == {"Retry-After": str(retry_after)}


def test_the_limit_is_per_tenant_so_another_tenant_is_unaffected(
    live_server_url, acme, clock, make_tenant, fake_oneapp
):
    globex = make_tenant(
        "globex", core_base_url=fake_oneapp.url + "/core-api", client_base_url=fake_oneapp.url
    )
    globex.rate_limit_per_minute = 3
    globex.save()
    give_key(globex, GLOBEX_KEY)

    assert statuses(live_server_url, 4) == [200, 200, 200, 429]
    assert statuses(live_server_url, 3, client_id="globex", key=GLOBEX_KEY) == [200, 200, 200]
    assert {r.headers["client"] for r in fake_oneapp.received} == {"acme", "globex"}


def test_a_new_minute_starts_a_new_count(live_server_url, acme, clock):
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]
    clock.now += 60
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]


def test_a_raised_limit_applies_at_once(live_server_url, acme, clock):
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]
    acme.rate_limit_per_minute = 5
    acme.save()  # drops the cached server, whose snapshot held the old limit
    assert statuses(live_server_url, 2) == [200, 429]  # the fifth request of the minute, then the sixth


def test_a_refused_key_does_not_use_up_the_tenants_quota(live_server_url, acme, clock):
    # Otherwise anybody who knows the client id could lock the tenant's own clients out.
    wrong = "omk_strange1_" + "x" * 43
    assert statuses(live_server_url, 5, key=wrong) == [401] * 5
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]


def test_the_limit_holds_through_a_cache_other_than_locmem_whose_counter_is_visible_there(
    live_server_url, acme, clock, settings, tmp_path, fake_oneapp
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    assert not isinstance(caches["default"], LocMemCache)

    assert statuses(live_server_url, 5) == [200, 200, 200, 429, 429]

    assert caches["default"].get(f"mcp:rate:acme:{WINDOW}") == 5
    assert list((tmp_path / "cache").iterdir())  # the counter is in the files, not in this process
    assert len(fake_oneapp.received) == 3


def test_a_rate_limited_request_is_logged_by_tenant_without_the_key(live_server_url, acme, clock, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mcp_endpoint")

    assert statuses(live_server_url, 5) == [200, 200, 200, 429, 429]

    limited = [r for r in caplog.records if r.name == "mcp_endpoint.guards" and "rate limited" in r.message]
    assert [r.levelno for r in limited] == [logging.WARNING, logging.DEBUG]  # one warning per window
    assert "tenant acme" in limited[0].message and "limit 3" in limited[0].message
    assert ACME_KEY not in caplog.text and ACME_KEY[13:] not in caplog.text


def test_a_request_looked_up_again_after_its_tenant_retired_is_counted_once(
    make_tenant, fake_oneapp, clock, monkeypatch
):
    # The key's use recorded on this test's transaction: on a pool thread of its own, the write would
    # wait for that transaction's lock on SQLite (20 s), then fail.
    monkeypatch.setattr(guards, "record_use", sync_to_async(guards._record_use))
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
    give_key(tenant, ACME_KEY)
    serving = LiveTenant.serving
    retired: list[LiveTenant] = []

    def retire_the_first(live: LiveTenant, *args):
        if not retired:  # as if the tenant changed between the lookup and the call
            retired.append(live)
            tenant_cache().invalidate(live.client_id)
            raise Retired(live.client_id)
        return serving(live, *args)

    monkeypatch.setattr(LiveTenant, "serving", retire_the_first)
    headers = {
        "Accept": "application/json, text/event-stream",
        "X-Client-ID": "acme",
        "Authorization": f"Bearer {ACME_KEY}",
    }

    async def call() -> int:
        response = await AsyncClient().post(
            "/mcp", CALL_TOOL, content_type="application/json", headers=headers
        )
        await retired[0].aclose()
        await (await tenant_cache().aget("acme")).aclose()
        return response.status_code

    assert async_to_sync(call)() == 200
    assert retired
    assert caches["default"].get(f"mcp:rate:acme:{WINDOW}") == 1
