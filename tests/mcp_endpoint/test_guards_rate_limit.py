"""The per-tenant and per-caller rate limits of /mcp: sliding one-minute windows (mcp_endpoint.limiter),
here in this process's memory, as without REDIS_URL (test_limiter.py and test_many_instances.py: Redis)."""

import json
import logging

import httpx
import pytest
import redis
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from mcp_endpoint import guards, limiter
from mcp_endpoint.cache import tenant_cache
from mcp_endpoint.live_tenant import LiveTenant, Retired
from mcp_endpoint.quiet_log import QuietLog
from tenants.models import ClientConfig
from tests.helpers import (
    ACME_KEY,
    CALL_TOOL,
    GLOBEX_KEY,
    LimitsClock,
    freeze_limits_clock,
    give_key,
    tenant_settings,
)

MINUTE = 29_000_000  # a minute since the epoch, far from the real one


@pytest.fixture
def clock(monkeypatch) -> LimitsClock:
    monkeypatch.setattr(guards, "_quiet", QuietLog(guards.logger, interval=60))  # nothing said yet
    return freeze_limits_clock(monkeypatch, MINUTE * 60 + 45.5)  # 45.5 s into a minute: 14.5 s left


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
    ("seconds_into_the_minute", "retry_after"), [(0.5, 59), (45.5, 14), (59.0, 1), (59.99, 1)]
)
async def test_retry_after_is_the_whole_seconds_until_one_more_fits_between_1_and_60(
    clock, seconds_into_the_minute, retry_after
):
    clock.now = MINUTE * 60 + seconds_into_the_minute
    acme = tenant_settings(rate_limit_per_minute=1)
    assert await guards.check_rate(acme, None) is None

    refusal = await guards.check_rate(acme, None)

    assert (refusal.status, refusal.code) == (429, "RATE_LIMITED")
    assert dict(refusal.headers) == {"Retry-After": str(retry_after)}


async def test_a_burst_at_the_turn_of_a_minute_gets_no_second_allowance(clock):
    # A fixed window would let 3 more through at once: the last minute's 3 still weigh 2.975.
    acme = tenant_settings(rate_limit_per_minute=3)
    clock.now = MINUTE * 60 + 59.5
    assert [await guards.check_rate(acme, None) is None for _ in range(4)] == [True, True, True, False]

    clock.now += 1
    assert [await guards.check_rate(acme, None) is None for _ in range(3)] == [True, False, False]

    clock.now += 30  # the last minute's 3 now weigh 1.475: one more fits
    assert [await guards.check_rate(acme, None) is None for _ in range(2)] == [True, False]


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


def test_two_minutes_later_the_whole_allowance_is_back(live_server_url, acme, clock):
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]
    clock.now += 120
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]


def test_a_raised_limit_applies_at_once(live_server_url, acme, clock):
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]
    acme.rate_limit_per_minute = 5
    acme.save()  # drops the cached server, whose snapshot held the old limit
    assert statuses(live_server_url, 3) == [200, 200, 429]  # the refused fourth was not counted


def test_a_refused_key_does_not_use_up_the_tenants_quota(live_server_url, acme, clock):
    # Otherwise anybody who knows the client id could lock the tenant's own clients out.
    wrong = "omk_strange1_" + "x" * 43
    assert statuses(live_server_url, 5, key=wrong) == [401] * 5
    assert statuses(live_server_url, 4) == [200, 200, 200, 429]


def test_a_rate_limited_tenant_is_logged_once_a_minute_without_the_key(live_server_url, acme, clock, caplog):
    caplog.set_level(logging.DEBUG, logger="mcp_endpoint")

    assert statuses(live_server_url, 6) == [200, 200, 200, 429, 429, 429]

    limited = [r for r in caplog.records if r.name == "mcp_endpoint.guards" and "rate limited" in r.message]
    assert [r.levelno for r in limited] == [logging.WARNING]  # a client hammering away cannot flood the log
    assert "tenant acme" in limited[0].message and "limit 3 per minute" in limited[0].message
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
    assert async_to_sync(limiter.window)(600, "rate", "acme").held == 1


# The per-caller limit: one access key (later, one signed-in user) within its tenant.

LAPTOP_KEY = "omk_laptop01_" + "l" * 43
PHONE_KEY = "omk_phone001_" + "p" * 43


@pytest.fixture
def acme_with_three_keys(oneapp_tenant):
    ClientConfig.objects.filter(pk=oneapp_tenant.pk).update(
        rate_limit_per_minute=5, caller_rate_limit_per_minute=2
    )
    give_key(oneapp_tenant, LAPTOP_KEY)
    give_key(oneapp_tenant, PHONE_KEY)
    return oneapp_tenant


def test_a_caller_over_its_own_limit_is_refused_without_using_up_its_tenants(
    live_server_url, acme_with_three_keys, clock, fake_oneapp, caplog
):
    caplog.set_level(logging.WARNING, logger="mcp_endpoint")

    over = [post(live_server_url) for _ in range(4)]
    assert [r.status_code for r in over] == [200, 200, 429, 429]
    assert over[2].json()["code"] == "RATE_LIMITED" and over[2].headers["retry-after"] == "14"
    assert statuses(live_server_url, 2, key=LAPTOP_KEY) == [200, 200]
    # The tenant's fifth request, then its limit: the two refused above were not counted for it.
    assert statuses(live_server_url, 2, key=PHONE_KEY) == [200, 429]
    assert len(fake_oneapp.received) == 5
    said = [r.getMessage() for r in caplog.records if "rate limited" in r.getMessage()]
    assert said == [
        "rate limited caller key:omk_acme0key of tenant acme: limit 2 per minute, retry after 14 s",
        "rate limited tenant acme: limit 5 per minute, retry after 14 s",
    ]


async def test_without_a_caller_limit_only_the_tenants_applies(clock):
    acme = tenant_settings(rate_limit_per_minute=3)
    assert [await guards.check_rate(acme, "key:omk_laptop01") is None for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


async def test_the_caller_is_any_string_so_that_a_signed_in_user_can_be_one(clock):
    acme = tenant_settings(rate_limit_per_minute=100, caller_rate_limit_per_minute=1)
    assert await guards.check_rate(acme, "user:42") is None
    assert (await guards.check_rate(acme, "user:42")).code == "RATE_LIMITED"
    assert await guards.check_rate(acme, "user:43") is None
    assert await guards.check_rate(acme, None) is None  # no caller known: the tenant's limit alone


def test_with_redis_every_limit_is_counted_there(live_server_url, acme_with_three_keys, settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.MCP_FAILED_KEYS_PER_ADDRESS = 2
    wrong = "omk_strange1_" + "x" * 43

    assert statuses(live_server_url, 3) == [200, 200, 429]  # the caller's limit, 2
    assert statuses(live_server_url, 4, key=LAPTOP_KEY) == [200, 200, 429, 429]
    assert statuses(live_server_url, 2, key=PHONE_KEY) == [200, 429]  # the tenant's, 5
    assert statuses(live_server_url, 3, key=wrong) == [401, 401, 429]  # wrong keys from this address

    with redis.Redis.from_url(redis_url) as server:
        keys = {key.decode() for key in server.scan_iter("oneapp-mcp:*")}
    assert {"rate/acme", "rate/acme/key:omk_acme0key", "badkey/addr/127.0.0.1"} <= {
        key.split("LIMITER/")[1].split("}")[0] for key in keys
    }
