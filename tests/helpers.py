"""What several test modules share, besides fixtures (those are in conftest.py): the test tenants'
secrets, rows as the tests make them, JSON-RPC requests for /mcp, the admin's URLs and messages, and
a clock for the limits."""

from __future__ import annotations

import time
from typing import Any

import limits.storage.memory
import limits.strategies
import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse

from mcp_endpoint import limiter
from tenants.keys import hash_key
from tenants.models import AccessKey, ClientConfig, TenantSettings

# Secrets

CANARY_TOKEN = "Bearer canary-upstream-token-7f3a9c1e2b"
# A fixed, well-formed access key for tenant "acme", so tests can send it without reading it back.
ACME_KEY = "omk_acme0key_" + "canaryAccessKeyForTheTestSuiteOnly0123456789"[:43]
GLOBEX_KEY = "omk_globex01_" + "g" * 43  # for tenant "globex", where a test makes one next to acme
REVOKED_KEY = "omk_revoked1_" + "r" * 43
# Acme's prefix with another secret: what a guess that got the visible part right looks like.
WRONG_SECRET_KEY = ACME_KEY[:13] + "w" * 43
CORE = "/core-api"  # the path prefix of the test tenants' core base URL, to prove paths are joined to it


# Rows


def give_key(tenant: ClientConfig, key: str, **fields: Any) -> AccessKey:
    """Store a known key for a tenant (as AccessKey.issue would, but with a key the test knows)."""
    values = {"name": "tests", **fields}
    return AccessKey.objects.create(tenant=tenant, prefix=key[4:12], key_hash=hash_key(key), **values)


def raw_token(client_id: str) -> str:
    """The token column exactly as the database holds it."""
    with connection.cursor() as cursor:
        # Quoted: AUTHORIZATION is a reserved word in PostgreSQL.
        cursor.execute('SELECT "authorization" FROM tenants_clientconfig WHERE client_id = %s', [client_id])
        return cursor.fetchone()[0]


# /mcp requests

# A 2025-revision initialize request, for tests that speak HTTP without the SDK's client.
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
# A stateless tools/call that reaches OneApp (GET /core/sucursales) if it gets through.
CALL_TOOL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "core_list_sucursales", "arguments": {}},
}
JSON_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def mcp_headers(client_id: str = "acme", key: str = ACME_KEY) -> dict[str, str]:
    """The headers of a configured client: JSON, its tenant, and its access key."""
    return {**JSON_HEADERS, "X-Client-ID": client_id, "Authorization": f"Bearer {key}"}


# The admin

TENANTS_CHANGELIST = reverse("admin:tenants_clientconfig_changelist")
TENANT_ADD = reverse("admin:tenants_clientconfig_add")


def change_url(tenant: ClientConfig) -> str:
    return reverse("admin:tenants_clientconfig_change", args=[tenant.pk])


def tenant_form(**overrides: Any) -> dict[str, Any]:
    """The tenant admin form as a browser posts it for tenant "acme"; `enabled` is a checkbox."""
    data = {
        "client_id": "acme",
        "name": "Acme",
        "description": "",
        "enabled": "on",
        "core_base_url": "https://core.example.test",
        "client_base_url": "https://front.example.test",
        "client_header": "acme",
        "http_timeout_ms": "30000",
        "rate_limit_per_minute": "600",
        "max_concurrent_calls": "50",
        "new_token": "",
        # The members inline's management form (tenants/admin/members.py), with no rows.
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def messages_of(response: Any) -> list[str]:
    """The messages the admin shows with this response."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def view_only_client(*codenames: str) -> Client:
    """A test client signed in as staff who may only view (the given permissions)."""
    user = User.objects.create_user("viewer", password="unused", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def tenant_settings(
    client_id: str = "acme", url: str = "https://core.example.test", **fields: Any
) -> TenantSettings:
    """A tenant's settings as the request path holds them (no row needed), with the canary token."""
    values: dict[str, Any] = {
        "client_id": client_id,
        "core_base_url": url,
        "client_base_url": url,
        "authorization": CANARY_TOKEN,
        "client_header": client_id,
        "http_timeout_ms": 5000,
        **fields,
    }
    return TenantSettings(**values)


# The limits' clock


class LimitsClock:
    """Stands in for the `time` module where the limits read it (mcp_endpoint.limiter and the memory
    storage of the `limits` library): time() is set by the test, the rest is real."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def freeze_limits_clock(monkeypatch: pytest.MonkeyPatch, now: float) -> LimitsClock:
    """The limits counted in this process's memory, at `now` until the test moves the clock."""
    clock = LimitsClock(now)
    for module in (limiter, limits.storage.memory, limits.strategies):
        monkeypatch.setattr(module, "time", clock)
    return clock
