"""Shared fixtures. Tests run against a real database (SQLite, or PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tenants.models import ClientConfig

CANARY_TOKEN = "Bearer canary-upstream-token-7f3a9c1e2b"


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
