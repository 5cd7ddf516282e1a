"""Many instances as production runs them: two uvicorn processes of two workers each, on their own ports,
sharing one PostgreSQL and one Redis. A tenant's limit holds across all four workers, a Redis that dies
fails open and comes back, and a change made through one instance reaches the other within 2 s."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from mcp_endpoint.limiter import RETRY_REDIS_AFTER_SECONDS
from tenants.models import AccessKey, ClientConfig
from tests.helpers import ACME_KEY, CALL_TOOL, JSON_HEADERS, give_key
from tests.live_server import UvicornProcess
from tests.redis_server import RedisServer, needs_redis

LAPTOP_KEY = "omk_laptop01_" + "l" * 43
STAFF, PASSWORD = "staff", "correct-horse-battery-staple"

pytestmark = needs_redis


@dataclass
class Instance:
    server: UvicornProcess

    def post(self, key: str = ACME_KEY) -> httpx.Response:
        # A new connection each time, so that both of the instance's workers take turns answering.
        headers = {**JSON_HEADERS, "X-Client-ID": "acme", "Authorization": f"Bearer {key}"}
        return httpx.post(self.server.url + "/mcp", headers=headers, json=CALL_TOOL, timeout=10)

    def uncounted(self) -> float:
        """Limit checks served uncounted, summed over the instance's workers."""
        text = httpx.get(self.server.url + "/metrics", timeout=10).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "oneapp_mcp_limits_uncounted_total"
        )


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()  # the test's own: it kills it
    yield server
    server.kill()


@pytest.fixture
def instances(transactional_db, tmp_path, redis_server) -> Iterator[tuple[Instance, Instance]]:
    if connection.vendor != "postgresql":
        pytest.skip(
            "instances share one PostgreSQL, as in production: runs in scripts/test's PostgreSQL pass"
        )

    def start(name: str) -> UvicornProcess:
        metrics_dir = tmp_path / f"metrics-{name}"
        metrics_dir.mkdir()
        return UvicornProcess(
            tmp_path / f"{name}.log",
            workers=2,
            REDIS_URL=redis_server.url,
            MCP_CHANGE_POLL_SECONDS="1",
            MCP_FAILED_KEYS_PER_ADDRESS="1000",  # a revoked key is tried again and again below
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # both start at once: each takes seconds
        starting = [pool.submit(start, name) for name in ("a", "b")]
    servers = [future.result() for future in starting if future.exception() is None]
    try:
        a, b = (future.result() for future in starting)  # raises a failure to start, once all are kept
        yield Instance(a), Instance(b)
    finally:
        for server in servers:
            server.stop()


def test_a_tenants_limit_holds_across_both_instances_and_outlives_a_redis_outage(
    instances, redis_server, oneapp_tenant, fake_oneapp
):
    ClientConfig.objects.filter(pk=oneapp_tenant.pk).update(rate_limit_per_minute=10)
    a, b = instances

    def burst(count: int) -> Counter[tuple[int, str]]:
        """`count` requests at once from 6 threads, to both instances in turn."""
        targets = itertools.islice(itertools.cycle(instances), count)
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(Instance.post, targets))
        return Counter((r.status_code, r.json().get("code", "ok")) for r in responses)

    assert burst(30) == {(200, "ok"): 10, (429, "RATE_LIMITED"): 20}
    assert len(fake_oneapp.received) == 10

    redis_server.kill()
    served = burst(8)
    assert served == {(200, "ok"): 8}  # fail open: served, uncounted
    assert a.uncounted() + b.uncounted() >= 8
    assert "serving uncounted" in a.server.log + b.server.log

    redis_server.start()  # the same port, empty (no persistence)
    time.sleep(RETRY_REDIS_AFTER_SECONDS + 0.5)  # every worker tries Redis again after this pause
    uncounted = a.uncounted() + b.uncounted()
    assert burst(30) == {(200, "ok"): 10, (429, "RATE_LIMITED"): 20}  # counted again, exactly
    assert a.uncounted() + b.uncounted() == uncounted


def warm_every_worker(instances: tuple[Instance, Instance], fake_oneapp) -> None:
    """Until all four workers hold acme's server: each has its own upstream pool, so a new upstream
    connection is a worker's first call (the kernel chooses which worker accepts a connection)."""
    for sent, instance in enumerate(itertools.cycle(instances)):
        if fake_oneapp.connections >= 4:
            return
        assert sent < 400, "some worker answered nothing in 400 requests"
        assert instance.post().status_code == 200


def signed_in(instance: Instance) -> httpx.Client:
    """A staff session on the instance's admin."""
    client = httpx.Client(base_url=instance.server.url, timeout=30)
    login = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert token, login.text
    data = {"username": STAFF, "password": PASSWORD, "next": "/admin/", "csrfmiddlewaretoken": token.group(1)}
    assert client.post("/admin/login/", data=data).status_code == 302
    return client


def admin_action(client: httpx.Client, changelist: str, action: str, pk: int, **extra: str) -> None:
    data = {"action": action, "_selected_action": str(pk), "index": "0", **extra}
    response = client.post(changelist, data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]})
    assert response.status_code == 302, response.text


def refused_after(instance: Instance, key: str, refusal: str, changed_at: float) -> float:
    """Send requests for 4 s after a change; how long after it the last one was still served."""
    last_served = 0.0
    while time.monotonic() - changed_at < 4:
        response = instance.post(key)
        if response.status_code == 200:
            last_served = time.monotonic() - changed_at
        else:
            assert response.json()["code"] == refusal, response.text
        time.sleep(0.02)
    assert response.status_code != 200, "still served 4 s after the change"
    return last_served


def test_a_key_revoked_and_a_tenant_disabled_through_one_instance_are_refused_by_the_other_within_2_s(
    instances, oneapp_tenant, fake_oneapp
):
    # Hashed as the instances check it (the suite's own settings use a faster hasher they do not know).
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    get_user_model().objects.create_superuser(STAFF, "staff@example.test", password=None)
    get_user_model().objects.filter(username=STAFF).update(password=hashed)
    give_key(oneapp_tenant, LAPTOP_KEY)
    a, b = instances
    warm_every_worker(instances, fake_oneapp)
    admin = signed_in(a)

    acme_key = AccessKey.objects.get(prefix=ACME_KEY[4:12])
    admin_action(admin, "/admin/tenants/accesskey/", "revoke_keys", acme_key.pk)
    revoked_at = time.monotonic()
    assert AccessKey.objects.get(pk=acme_key.pk).revoked_at is not None
    assert refused_after(b, ACME_KEY, "INVALID_ACCESS_KEY", revoked_at) < 2.0
    assert b.post(LAPTOP_KEY).status_code == 200  # the tenant's other key goes on

    admin_action(admin, "/admin/tenants/clientconfig/", "disable_tenants", oneapp_tenant.pk, post="yes")
    disabled_at = time.monotonic()
    assert not ClientConfig.objects.get(pk=oneapp_tenant.pk).enabled
    assert refused_after(b, LAPTOP_KEY, "UNKNOWN_CLIENT", disabled_at) < 2.0
    admin.close()
