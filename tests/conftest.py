"""Shared fixtures (and only fixtures: what tests share besides is in tests/helpers.py). Tests run
against a real database (SQLite, or PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import SyncToAsync
from cryptography.fernet import Fernet
from django.core.cache import caches
from django.db import connections

from mcp_endpoint import guards, limiter, list_replay
from mcp_endpoint.audit_trail import audit_buffer
from mcp_endpoint.cache import tenant_cache
from tenants.models import ClientConfig
from tests.fake_upstream import FakeOneApp
from tests.helpers import ACME_KEY, CANARY_TOKEN, give_key
from tests.live_server import UvicornThread
from tests.redis_server import NO_TEST_REDIS, TEST_REDIS_URL


@pytest.fixture
def make_tenant(db: None) -> Callable[..., ClientConfig]:
    """Create a tenant through the model, with sensible defaults and a canary token."""

    def make(client_id: str = "acme", **fields: Any) -> ClientConfig:
        values: dict[str, Any] = {
            "name": f"Tenant {client_id}",
            "core_base_url": "https://core.example.test",
            "client_base_url": "https://front.example.test",
            "authorization": CANARY_TOKEN,
            "client_header": client_id,
        }
        values.update(fields)
        tenant = ClientConfig(client_id=client_id, **values)
        tenant.full_clean()
        tenant.save()
        return tenant

    return make


@pytest.fixture
def fresh_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session", autouse=True)
def _close_async_orm_connections(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    yield
    # Async tests reach the ORM through asgiref's one shared worker thread, whose connection would
    # otherwise stay open and keep PostgreSQL from dropping the test database.
    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def fake_oneapp() -> Iterator[FakeOneApp]:
    upstream = FakeOneApp().start()
    yield upstream
    upstream.stop()


@pytest.fixture(scope="session")
def live_server_url() -> Iterator[str]:
    """The real ASGI application served by uvicorn on 127.0.0.1, for the whole session."""
    from oneapp_site.asgi import application

    server = UvicornThread(application).start()
    yield server.url
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    # Rows are flushed between tests without signals; a server cached for a tenant of an earlier
    # test must not answer for a new tenant of the same id. Likewise the cache, the limits' counts
    # (in this process's memory), the last-use times of key ids, which the next test's rows reuse,
    # and audit records not yet written.
    tenant_cache().clear()
    caches["default"].clear()
    limiter.forget()
    list_replay.forget()
    guards._last_used_written.clear()
    audit_buffer().discard()
    yield
    tenant_cache().clear()


@pytest.fixture
def oneapp_tenant(transactional_db: None, make_tenant: Callable[..., ClientConfig], fake_oneapp: FakeOneApp):
    """Tenant "acme", whose OneApp is the fake upstream and whose key is ACME_KEY; committed, so the
    live server can read it."""
    tenant = make_tenant("acme", core_base_url=fake_oneapp.url + "/core-api", client_base_url=fake_oneapp.url)
    give_key(tenant, ACME_KEY)
    return tenant


@pytest.fixture
def redis_url() -> str:
    """The test Redis server (scripts/test starts one), emptied: every count starts afresh."""
    if not TEST_REDIS_URL:
        pytest.skip(NO_TEST_REDIS)
    with redis.Redis.from_url(TEST_REDIS_URL) as server:
        server.flushdb()
    return TEST_REDIS_URL
