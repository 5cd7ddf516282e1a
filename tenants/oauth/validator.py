"""The toolkit's request validator, with two rules of ours: a refresh token works only while its user
may still act for the tenant it was issued for (a member, active, the tenant enabled); and a plain
http redirect URI only reaches this machine (RFC 8252 loopback callbacks of native clients)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from oauth2_provider.oauth2_validators import OAuth2Validator

from tenants.oauth.members import tenant_for_member
from tenants.oauth.resources import client_id_in

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class MemberValidator(OAuth2Validator):
    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # The toolkit takes http for any host once "http" is an allowed scheme (it must be, for loopback).
        parts = urlsplit(redirect_uri)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            return False
        return bool(super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs))

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        stored = request.refresh_token_instance
        client_id = client_id_in(stored.resource)
        return client_id is not None and tenant_for_member(stored.user, client_id) is not None
