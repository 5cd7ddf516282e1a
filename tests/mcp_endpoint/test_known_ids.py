"""Ids that name no enabled tenant are refused from the list of known ids, without a query each
(mcp_endpoint/known_ids.py), and a tenant created or enabled anywhere is still served at once."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mcp_endpoint import cache as cache_module
from mcp_endpoint.cache import TenantCache, load_tenant
from mcp_endpoint.known_ids import KnownIds, list_enabled_ids
from tenants.models import ClientConfig
from tests.helpers import CANARY_TOKEN

TTL = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(monkeypatch, clock) -> TenantCache:
    """The process-wide cache (changes reach it), with a list of known ids on a clock of the test's."""
    known = KnownIds(list_enabled_ids, ttl_seconds=TTL, clock=clock)
    cache = TenantCache(load_tenant, ttl_seconds=300, max_entries=100, known=known, absent_ttl_seconds=TTL)
    monkeypatch.setattr(cache_module, "_cache", cache)
    return cache


def served(cache: TenantCache, *client_ids: str) -> list[bool]:
    async def ask() -> list[bool]:
        found = []
        for client_id in client_ids:
            live = await cache.aget(client_id)
            found.append(live is not None)
            if live is not None:
                await live.aclose()
        return found

    return async_to_sync(ask)()


def test_a_flood_of_ids_each_new_costs_one_query_in_all(make_tenant, cache):
    make_tenant("acme")
    make_tenant("globex", enabled=False)
    flood = [f"nobody{n}" for n in range(200)] + ["globex"]
    with CaptureQueriesContext(connection) as queries:  # the loads run on this thread (async_to_sync)
        assert served(cache, *flood) == [False] * len(flood)
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        assert served(cache, "acme") == [True]
    assert len(queries) == 2  # a known id is loaded as before: the tenant and its keys


def test_a_tenant_created_after_the_list_is_served_at_its_first_request(transactional_db, make_tenant, cache):
    assert served(cache, "nobody") == [False]  # the list is made now, without initech
    make_tenant("initech")  # its change is signalled after the commit, as from any worker's feed
    assert served(cache, "initech") == [True]


def test_an_enabled_tenant_the_list_missed_is_served_once_the_list_is_older_than_its_ttl(
    make_tenant, cache, clock
):
    assert served(cache, "nobody") == [False]
    # A row written with no change signalled here (bulk_create sends none): only the list's age finds it.
    ClientConfig.objects.bulk_create(
        [ClientConfig(client_id="umbrella", name="Umbrella", authorization=CANARY_TOKEN, client_header="u")]
    )
    assert served(cache, "umbrella") == [False]
    clock.now += TTL + 1
    assert served(cache, "umbrella") == [True]


def test_a_change_while_the_list_is_being_read_is_kept(make_tenant, monkeypatch):
    make_tenant("acme")
    known: KnownIds

    async def list_then_see_a_change() -> set[str]:
        ids = await list_enabled_ids()  # read before hooli exists
        known.add("hooli")  # created and signalled meanwhile
        return ids

    known = KnownIds(list_then_see_a_change, ttl_seconds=TTL)

    async def ask() -> tuple[bool, bool, bool]:
        return (await known.may_exist("hooli"), await known.may_exist("acme"), await known.may_exist("x"))

    assert async_to_sync(ask)() == (True, True, False)
