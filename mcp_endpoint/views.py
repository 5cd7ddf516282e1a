"""POST /mcp (routed by X-Client-ID) and POST /mcp/<client_id>: check the tenant's credential and rate,
then let the SDK answer.

`answer` is the whole request path. The ASGI front door (mcp_endpoint.asgi) calls it in production;
`mcp_view` is the same path reached through Django's URLconf.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.db import Error as DatabaseFailure
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from mcp_endpoint import audit_trail, bearer, cors, guards, metrics, refusals, sdk, tracing
from mcp_endpoint.cache import invalidate, tenant_cache
from mcp_endpoint.exchange import Answer, McpRequest, bearer_credential, body_too_large
from mcp_endpoint.live_tenant import LiveTenant, Retired
from mcp_endpoint.propagation import ensure_polling
from mcp_endpoint.quiet_log import QuietLog
from tenants.audit import Caller
from tenants.crypto import TokenDecryptionError
from tenants.keys import KEY_MARK, StoredKey

logger = logging.getLogger(__name__)
CLIENT_GONE = "CLIENT_GONE"
_quiet = QuietLog(logger, interval=30.0)


async def answer(request: McpRequest) -> Answer:
    """Answer one /mcp request whose body was read (and found not too large)."""
    if not tracing.active():
        return counted(await _route(request))
    with tracing.request_span(request) as span:
        result = counted(await _route(request))
        tracing.answered(span, result.status, result.outcome)
        return result


def counted(result: Answer) -> Answer:
    """Every /mcp answer, refusals included, passes here once on its way out, for the requests metric."""
    metrics.REQUESTS.labels(result.outcome).inc()
    return result


def counted_gone() -> None:
    """A request whose client hung up before its answer (nothing was sent)."""
    metrics.REQUESTS.labels(CLIENT_GONE).inc()


@csrf_exempt
async def mcp_view(request: HttpRequest, client_id: str | None = None) -> HttpResponse:
    """/mcp through Django's URLconf: the same path as the front door's, after Django read the body."""
    if not isinstance(request, ASGIRequest):
        raise ImproperlyConfigured("/mcp is served under ASGI only: uvicorn oneapp_site.asgi:application")
    if body_too_large(_declared_length(request)):
        result = counted(refusals.PAYLOAD_TOO_LARGE.answer())
    else:
        result = await answer(McpRequest.from_scope(dict(request.scope), request.body))
    result = cors.readable_by(request.scope.get("headers", ()), result)
    response = HttpResponse(result.body, status=result.status)
    for name, value in result.headers:
        response.headers[name] = value
    return response


async def _route(request: McpRequest) -> Answer:
    if not request.host_allowed():
        logger.warning("refused a request for a host not in ALLOWED_HOSTS")
        return refusals.BAD_REQUEST.answer()
    if cors.is_preflight(request):  # a browser's, before its request: no X-Client-ID, no credential
        return cors.preflight(request)
    client_id = _route_client_id(request)
    if isinstance(client_id, refusals.Refusal):
        return client_id.answer()
    if not _origin_allowed(request):
        return refusals.FORBIDDEN_ORIGIN.answer()
    return await _serve(request, client_id)


def _forget(client_id: str) -> None:
    """A tenant changed (the change feed): drop its live tenant and the OAuth tokens checked for it."""
    invalidate(client_id)
    bearer.forget_tenant(client_id)


async def _serve(request: McpRequest, client_id: str) -> Answer:
    ensure_polling(_forget, bearer.forget_tenant)
    rate_counted = False
    for _ in range(3):  # a tenant retired between lookup and use is looked up again
        try:
            live = await tenant_cache().aget(client_id)
        except TokenDecryptionError:  # said once per tenant and minute by the cache
            return refusals.TENANT_UNAVAILABLE.answer()
        except DatabaseFailure as exc:  # no connection, or it broke: the next request tries again
            _quiet.log(logging.ERROR, "database", "cannot read tenants: the database failed (%r)", exc)
            return refusals.DATABASE_UNAVAILABLE.answer()
        if live is None:
            return refusals.unknown_client(client_id, in_url=request.url_client_id is not None).answer()
        tracing.note_tenant(live.client_id)
        # The credential is checked against each lookup's settings (a retirement may be its revocation),
        # but the request is counted against the rate limit only once, however often it is looked up.
        withheld = await _admit(request, live, count_rate=not rate_counted)
        if isinstance(withheld, refusals.Refusal):
            return withheld.answer()
        rate_counted = True
        if request.content_type != "application/json":
            # The SDK's 2025 transport refuses any other media type, but its 2026 entry only checks a
            # prefix (so "application/jsonp" reached OneApp): one rule for both, before the SDK.
            return refusals.UNSUPPORTED_MEDIA_TYPE.answer()
        try:
            async with live.serving(withheld):
                status, headers, body = await sdk.exchange(request.scope, request.body)
        except Retired:
            continue
        decoded = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers)
        return Answer(status, decoded, body, f"MCP_{status}")
    return refusals.TENANT_UNAVAILABLE.answer()


NOTHING_WITHHELD: frozenset[str] = frozenset()


async def _admit(
    request: McpRequest, live: LiveTenant, count_rate: bool
) -> refusals.Refusal | frozenset[str]:
    """The tools the request's credential may not use; or why it is refused (credential, method, rate)."""
    try:
        admitted = await _authenticate(request, live)
    except DatabaseFailure as exc:  # a token's first check reads it
        _quiet.log(logging.ERROR, "database", "cannot check a token: the database failed (%r)", exc)
        return refusals.DATABASE_UNAVAILABLE
    if isinstance(admitted, refusals.Refusal):
        return admitted
    if request.method != "POST":
        # After the credential: a wrong or expired one gets its 401 whatever the method (the MCP
        # spec's authorization: invalid or expired tokens MUST get 401). Answered 405 before it, a GET
        # from a client that falls back to the old SSE transport (mcp-remote) ended the session as
        # "SSE error: Non-200 status code (405)", hiding the refused key.
        return refusals.METHOD_NOT_ALLOWED
    withheld, caller = admitted
    if count_rate and (refusal := await guards.check_rate(live.settings, caller)):
        return refusal
    return withheld


async def _authenticate(
    request: McpRequest, live: LiveTenant
) -> refusals.Refusal | tuple[frozenset[str], str | None]:
    """A refusal, or the tools the request's credential may not use and who it is (for the per-caller
    limit).

    /mcp takes access keys only. A tenant's URL takes its access keys as /mcp does (a client that
    configured a key is never sent to OAuth), and otherwise an OAuth access token for that URL.
    """
    credential = bearer_credential(request.headers.get("authorization")) or ""
    oauth = request.url_client_id is not None and not credential.startswith(KEY_MARK)
    if oauth and settings.MCP_REQUIRE_ACCESS_KEY:
        token = await bearer.check(request, live)
        if isinstance(token, refusals.Refusal):
            return token
        audit_trail.identify(token.who)
        return token.withheld, token.caller
    key = await _check_key(request, live)
    return key if isinstance(key, refusals.Refusal) else (NOTHING_WITHHELD, guards.caller_of(key))


async def _check_key(request: McpRequest, live: LiveTenant) -> StoredKey | refusals.Refusal | None:
    """The request's valid key, a refusal, or None when keys are not required."""
    if not settings.MCP_REQUIRE_ACCESS_KEY:
        return None
    if refusal := await guards.check_failed_keys(request.client_address, live.settings):
        return refusal
    now = timezone.now()
    key = guards.authenticate(request.headers.get("authorization"), live.settings, now)
    if key is refusals.INVALID_ACCESS_KEY:  # a wrong key, not a missing one (a client's first try)
        await guards.note_failed_key(request.client_address, live.settings)
    if key is not None and not isinstance(key, refusals.Refusal):
        guards.note_key_use(key, now)
        audit_trail.identify(Caller.of_key(key))
    return key


def _route_client_id(request: McpRequest) -> str | refusals.Refusal:
    header = request.headers.get("x-client-id")
    segment = request.url_client_id
    if segment is None:
        return refusals.route_client_id(header)
    return refusals.route_url_client_id(segment, header)


def _origin_allowed(request: McpRequest) -> bool:
    """No Origin (not a browser), or one listed in MCP_ALLOWED_ORIGINS.

    Our own origin is not implied: under DNS rebinding a hostile page *is* "our" origin.
    """
    origin = request.headers.get("origin")
    return origin is None or cors.listed_origin(origin) is not None


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
