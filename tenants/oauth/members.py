"""Who may let an MCP client act for a tenant: an active user who is a member of that enabled tenant."""

from __future__ import annotations

from typing import Any

from tenants.models import ClientConfig


def tenant_for_member(user: Any, client_id: str) -> ClientConfig | None:
    """The enabled tenant `client_id` if `user` is an active member of it (one query), else None."""
    if user is None or not user.is_active or not user.is_authenticated:
        return None
    return ClientConfig.objects.filter(client_id=client_id, enabled=True, memberships__user=user).first()
