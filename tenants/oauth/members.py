"""Who may let an MCP client act for a tenant: an active user who is a member of that enabled tenant."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tenants.models import ClientConfig, Membership
from tenants.oauth.resources import client_id_in

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def tenant_for_member(user: Any, client_id: str) -> ClientConfig | None:
    """The enabled tenant `client_id` if `user` is an active member of it (one query), else None."""
    if user is None or not user.is_active or not user.is_authenticated:
        return None
    return ClientConfig.objects.filter(client_id=client_id, enabled=True, memberships__user=user).first()


def active_tokens(membership: Membership) -> list[Any]:
    """The unexpired OAuth access tokens the member let clients have for the membership's tenant."""
    tokens = AccessToken.objects.filter(user_id=membership.user_id, expires__gt=timezone.now())
    tokens = tokens.select_related("application").order_by("-created")
    return [token for token in tokens if client_id_in(token.resource) == membership.tenant.client_id]


def revoke_access(membership: Membership) -> int:
    """End every OAuth grant the member gave for this tenant: its refresh tokens revoked, its access tokens
    deleted (each deletion is a tenant change, so every worker forgets them). Returns how many ended."""
    client_id = membership.tenant.client_id
    ended = 0
    refresh_tokens = RefreshToken.objects.filter(user_id=membership.user_id, revoked__isnull=True)
    for refresh_token in refresh_tokens:
        if client_id_in(refresh_token.resource) == client_id:
            refresh_token.revoke()  # deletes its access token too
            ended += 1
    for token in active_tokens(membership):
        token.revoke()
        ended += 1
    return ended
