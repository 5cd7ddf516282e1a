"""The toolkit's request validator, with one rule of ours: a refresh token works only while its user
may still act for the tenant it was issued for (a member, active, the tenant enabled)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from tenants.oauth.members import tenant_for_member
from tenants.oauth.resources import client_id_in


class MemberValidator(OAuth2Validator):
    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        stored = request.refresh_token_instance
        client_id = client_id_in(stored.resource)
        return client_id is not None and tenant_for_member(stored.user, client_id) is not None
