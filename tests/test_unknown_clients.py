"""Unknown client ids cost nothing that lasts: no bookkeeping is left behind, and an over-long id
is refused before any lookup (hardening issue, item 1)."""

import json

import httpx
import pytest

from mcp_endpoint.cache import TenantCache
from tenants.models import TenantSettings
from tests.conftest import ACME_KEY
from tests.mcp_client import INITIALIZE, JSON_HEADERS

INVALID = b'{"error": "Client ID must contain only alphanumeric characters (a-z, 0-9).", "code": "INVALID_CLIENT_ID"}'


async def nobody(client_id: str) -> TenantSettings | None:
    return None


async def test_unknown_ids_leave_no_entry_build_or_stale_mark_behind():
    cache = TenantCache(nobody, ttl_seconds=300, max_entries=10)

    for n in range(200):
        assert await cache.aget(f"unknown{n}") is None

    assert len(cache) == 0
    assert cache._building == {}
    assert not cache._builds_in_flight
    assert cache._stale_builds == set()


async def test_a_change_during_a_build_still_marks_it_stale_and_the_mark_goes_with_the_build():
    loaded = []

    async def slow_load(client_id: str) -> TenantSettings | None:
        loaded.append(client_id)
        if len(loaded) == 1:
            cache.invalidate(client_id)  # the row changes while this build reads it
        return None

    cache = TenantCache(slow_load, ttl_seconds=300, max_entries=10)
    cache.invalidate("acme")  # no build in flight: nothing to mark
    assert cache._stale_builds == set()

    assert await cache.aget("acme") is None

    assert cache._stale_builds == set() and not cache._builds_in_flight


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("length", [65, 8000])
def test_a_client_id_longer_than_64_characters_is_invalid_not_looked_up(live_server_url, length):
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}", "X-Client-ID": "a" * length}

    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(INITIALIZE))

    assert (response.status_code, response.content) == (403, INVALID)


@pytest.mark.usefixtures("oneapp_tenant")
def test_a_client_id_of_64_characters_is_looked_up(live_server_url):
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {ACME_KEY}", "X-Client-ID": "a" * 64}

    response = httpx.post(live_server_url + "/mcp", headers=headers, content=json.dumps(INITIALIZE))

    assert response.status_code == 403
    assert response.json()["code"] == "UNKNOWN_CLIENT"
