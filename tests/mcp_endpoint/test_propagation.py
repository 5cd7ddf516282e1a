"""Changes reach every worker: the TenantChange feed, and two real uvicorn workers."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import transaction
from oauth2_provider.models import AccessToken

from mcp_endpoint.propagation import GAP_GRACE_SECONDS, MAX_GAP, ChangeFeed, prune_old_changes
from tenants.models import AccessKey, ClientConfig, Membership, TenantChange
from tests.helpers import ACME_KEY
from tests.live_server import UvicornProcess
from tests.oauth_member import issue_token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_poll_replays_recent_changes_so_none_made_before_it_is_missed(db, make_tenant):
    make_tenant("acme")
    assert ChangeFeed().poll() == {"acme"}


def test_saving_a_tenant_or_a_key_and_deleting_them_each_record_a_change(db, make_tenant):
    feed = ChangeFeed()
    feed.poll()
    tenant = make_tenant("acme")
    assert feed.poll() == {"acme"}
    key, _ = AccessKey.issue(tenant, "laptop")
    assert feed.poll() == {"acme"}
    key.revoke()
    assert feed.poll() == {"acme"}
    tenant.delete()
    assert feed.poll() == {"acme"}
    assert feed.poll() == set()


def test_who_may_hold_oauth_tokens_is_a_change_of_the_tenants_tokens_only(db, make_tenant):
    tenant = make_tenant("acme")
    feed = ChangeFeed()
    feed.poll()
    user = User.objects.create_user("ana")
    membership = Membership.objects.create(user=user, tenant=tenant)
    assert (feed.poll(), feed.tokens_changed) == (set(), {"acme"})
    issue_token(user, "http://testserver/mcp/acme")
    assert (feed.poll(), feed.tokens_changed) == (set(), set())  # a new token ends nothing
    AccessToken.objects.get().revoke()
    assert (feed.poll(), feed.tokens_changed) == (set(), {"acme"})
    user.is_active = False
    user.save()
    assert (feed.poll(), feed.tokens_changed) == (set(), {"acme"})
    membership.delete()
    tenant.save()  # with a tenant change in the same poll, the tenant's apply covers its tokens too
    assert (feed.poll(), feed.tokens_changed) == ({"acme"}, set())


def test_using_a_key_is_not_a_change(db, make_tenant):
    tenant = make_tenant("acme")
    key, _ = AccessKey.issue(tenant, "laptop")
    feed = ChangeFeed()
    feed.poll()
    AccessKey.objects.filter(pk=key.pk).update(last_used_at="2026-01-01T00:00:00Z")
    assert feed.poll() == set()


def test_a_change_committed_after_a_later_one_was_read_is_still_seen(db):
    # Simulate PostgreSQL's commit order: id 2 becomes visible, then id 1 (delayed commit) does.
    feed = ChangeFeed(clock=Clock())
    feed.poll()
    first = TenantChange.objects.create(client_id="late")
    second = TenantChange.objects.create(client_id="early")
    first_id = first.pk
    first.delete()  # not visible yet
    assert feed.poll() == {"early"}
    assert first_id in feed.gaps

    TenantChange.objects.create(id=first_id, client_id="late")  # now committed
    assert feed.poll() == {"late"}
    assert first_id not in feed.gaps
    assert feed.last_id == second.pk


def test_gaps_are_tracked_only_a_bounded_distance_back(db):
    feed = ChangeFeed(clock=Clock())
    feed.poll()
    TenantChange.objects.create(id=10_000, client_id="far")
    feed.poll()
    assert len(feed.gaps) == MAX_GAP
    assert min(feed.gaps) == 10_000 - MAX_GAP


def test_a_gap_that_never_fills_is_forgotten_after_the_grace_period(db):
    clock = Clock()
    feed = ChangeFeed(clock=clock)
    feed.poll()
    rolled_back = TenantChange.objects.create(client_id="x")
    rolled_back_id = rolled_back.pk
    TenantChange.objects.create(client_id="y")
    rolled_back.delete()
    feed.poll()
    assert rolled_back_id in feed.gaps
    clock.now += GAP_GRACE_SECONDS + 1
    feed.poll()
    assert feed.gaps == {}


def test_a_poll_is_one_query(db, django_assert_num_queries):
    feed = ChangeFeed()
    feed.poll()
    with django_assert_num_queries(1):
        feed.poll()


def test_old_changes_are_pruned(db):
    TenantChange.objects.create(client_id="old")
    TenantChange.objects.update(created_at="2000-01-01T00:00:00Z")
    TenantChange.objects.create(client_id="new")
    assert prune_old_changes() == 1
    assert list(TenantChange.objects.values_list("client_id", flat=True)) == ["new"]


def test_a_rolled_back_change_is_never_recorded(db, make_tenant):
    tenant = make_tenant("acme")
    feed = ChangeFeed()
    feed.poll()
    with pytest.raises(RuntimeError), transaction.atomic():
        tenant.name = "Never"
        tenant.save()
        raise RuntimeError
    assert feed.poll() == set()


@pytest.fixture
def two_workers(transactional_db, tmp_path):
    server = UvicornProcess(tmp_path / "uvicorn.log", workers=2, MCP_CHANGE_POLL_SECONDS="1")
    yield server.url + "/mcp"
    server.stop()


def call_tool(url: str) -> None:
    # A new connection each time, so that both workers take turns answering.
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "core_list_sucursales"}}
    headers = {"X-Client-ID": "acme", "Authorization": f"Bearer {ACME_KEY}", "Accept": "application/json"}
    response = httpx.post(url, json=body, headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    assert json.loads(response.text)["result"]["isError"] is False


def test_a_token_changed_by_another_process_reaches_both_workers_within_2_seconds(
    two_workers, oneapp_tenant, fake_oneapp
):
    # Each worker has its own keep-alive pool: a second upstream connection means both have served
    # (and so both hold acme's server). Which worker accepts a connection is the kernel's choice.
    deadline = time.monotonic() + 20
    while fake_oneapp.connections < 2:
        assert time.monotonic() < deadline, "one worker answered every call for 20 s"
        call_tool(two_workers)

    tenant = ClientConfig.objects.get(client_id="acme")
    tenant.authorization = "Bearer rotated-by-another-process"
    changed_at = time.monotonic()
    tenant.save()  # this test's process is not one of the workers

    last_old_seen_after = 0.0
    while time.monotonic() - changed_at < 4:
        fake_oneapp.received.clear()
        call_tool(two_workers)
        if fake_oneapp.received[0].headers["authorization"] != "Bearer rotated-by-another-process":
            last_old_seen_after = time.monotonic() - changed_at
        time.sleep(0.02)
    print(f"\nold token last seen {last_old_seen_after * 1000:.0f} ms after the change")
    assert last_old_seen_after < 2.0
