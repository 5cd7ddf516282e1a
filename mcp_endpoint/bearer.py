"""OAuth access tokens at a tenant's URL, /mcp/<client_id>: checked with no database query when warm.

A token is looked up once per worker (by its SHA-256, the toolkit's own checksum; never by the token
itself), with its user's membership, and what matters of it is kept: the one resource (tenant URL) it
was issued for, its expiry, and the tools its scopes withhold. A change that could end a token (it or
its grant revoked, a membership removed, its user deactivated, the tenant disabled) is a TenantChange
of the tenant (tenants/signals.py), and drops that tenant's tokens here as it drops its live tenant.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.dispatch import receiver
from oauth2_provider.models import get_access_token_model

from mcp_endpoint import guards, refusals
from mcp_endpoint.exchange import McpRequest, bearer_credential
from mcp_endpoint.live_tenant import LiveTenant
from mcp_endpoint.quiet_log import QuietLog
from tenants.audit import Caller, CallerKind
from tenants.models import Membership
from tenants.oauth.resources import client_id_in, metadata_url, public_origin, resource_url
from tenants.oneapp.catalog import TOOL_NAMES, WRITING_TOOL
from tenants.signals import tenant_changed

logger = logging.getLogger(__name__)
_quiet = QuietLog(logger, interval=60.0)  # one line per tenant and minute, however many tokens are tried

SCOPES = "read write"
READING_TOOLS = frozenset(TOOL_NAMES) - {WRITING_TOOL}
MAX_TOKENS = 100_000  # per worker; the oldest is forgotten first (and looked up again if still used)


@dataclass(frozen=True, slots=True)
class CheckedToken:
    client_id: str
    resource: str
    expires_at: float  # epoch seconds
    withheld: frozenset[str]  # the tools its scopes do not cover
    caller: str  # its user, for the per-caller limit
    who: Caller  # its user and client, for the audit log


def withheld_by(scopes: set[str]) -> frozenset[str]:
    """'read' covers every tool but the writing one, 'write' that one."""
    return (frozenset() if "read" in scopes else READING_TOOLS) | (
        frozenset() if "write" in scopes else frozenset({WRITING_TOOL})
    )


class TokenCache:
    def __init__(self) -> None:
        self._tokens: dict[str, CheckedToken] = {}
        self._lock = threading.Lock()  # drops arrive from the change poller's thread
        self.generation = 0  # bumped by every drop: a lookup that spans one must not be kept

    def get(self, digest: str) -> CheckedToken | None:
        return self._tokens.get(digest)

    def put(self, digest: str, token: CheckedToken, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            self._tokens[digest] = token
            if len(self._tokens) > MAX_TOKENS:
                del self._tokens[next(iter(self._tokens))]

    def forget_tenant(self, client_id: str) -> None:
        with self._lock:
            self.generation += 1
            self._tokens = {key: token for key, token in self._tokens.items() if token.client_id != client_id}

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._tokens.clear()


tokens = TokenCache()


async def check(request: McpRequest, live: LiveTenant) -> refusals.Refusal | CheckedToken:
    """The valid token a request bears for this tenant; or the 401 to send."""
    origin = public_origin(request.origin)
    credential = bearer_credential(request.headers.get("authorization"))
    if not credential:
        return refusals.sign_in_required(metadata_url(origin, live.client_id), SCOPES)
    digest = hashlib.sha256(credential.encode()).hexdigest()
    token = tokens.get(digest)
    if token is None:
        if refusal := await guards.check_failed_keys(request.client_address, live.settings):
            return refusal
        generation = tokens.generation
        token = await load_token(digest)
        if token is not None:
            tokens.put(digest, token, generation)
    if (
        token is None
        or token.expires_at <= time.time()
        or token.resource != resource_url(origin, live.client_id)
    ):
        await guards.note_failed_key(request.client_address, live.settings)
        _quiet.log(
            logging.INFO, live.client_id, "refused an invalid OAuth token for tenant %s", live.client_id
        )
        return refusals.invalid_token(metadata_url(origin, live.client_id), SCOPES)
    return token


@sync_to_async
def load_token(digest: str) -> CheckedToken | None:
    """The unexpired token with this checksum, if its user is an active member of its enabled tenant."""
    stored = (
        get_access_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=digest)
        .first()
    )
    if stored is None or stored.is_expired() or stored.user is None or not stored.user.is_active:
        return None
    client_id = client_id_in(stored.resource)
    if client_id is None:
        return None
    member = Membership.objects.filter(user=stored.user, tenant__client_id=client_id, tenant__enabled=True)
    if not member.exists():
        return None
    return CheckedToken(
        client_id,
        stored.resource[0],
        stored.expires.timestamp(),
        withheld_by(set(stored.scope.split())),
        caller=f"user:{stored.user.pk}",
        who=Caller(
            CallerKind.OAUTH,
            str(stored.user.pk),
            stored.user.get_username(),
            stored.application.name if stored.application else "",
        ),
    )


def forget_tenant(client_id: str) -> None:
    tokens.forget_tenant(client_id)


@receiver(tenant_changed, dispatch_uid="mcp_endpoint.forget_changed_tenants_tokens")
def _forget_changed_tenants_tokens(*, client_id: str, **kwargs: Any) -> None:
    forget_tenant(client_id)
