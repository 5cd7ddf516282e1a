"""Checks between routing and the MCP layer: the tenant's access key (and its last use), failed keys, and
the request rates of the caller and the tenant."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from mcp_endpoint import limiter, refusals
from mcp_endpoint.exchange import bearer_credential
from mcp_endpoint.quiet_log import QuietLog
from tenants.addresses import counted_address
from tenants.keys import StoredKey, find_key, shown_prefix
from tenants.models import AccessKey, TenantSettings

logger = logging.getLogger(__name__)
_quiet = QuietLog(logger, interval=60.0)  # one line per tenant and minute, however many keys are guessed

LAST_USED_EVERY_SECONDS = 60
_last_used_written: dict[int, float] = {}
_writes: set[asyncio.Task[int]] = set()  # held, so the loop's weak references keep them alive


def authenticate(
    authorization: str | None, tenant: TenantSettings, now: datetime
) -> StoredKey | refusals.Refusal | None:
    """The tenant's valid key that the request carries, a refusal, or None when keys are not required."""
    if not settings.MCP_REQUIRE_ACCESS_KEY:
        return None
    if not (authorization or "").strip():
        return refusals.MISSING_ACCESS_KEY
    credential = bearer_credential(authorization)
    key = find_key(credential, tenant.access_keys, now) if credential is not None else None
    if key is None:
        _quiet.log(
            logging.INFO, tenant.client_id, "refused an invalid access key for tenant %s", tenant.client_id
        )
        return refusals.INVALID_ACCESS_KEY
    return key


def note_key_use(key: StoredKey, now: datetime) -> None:
    """Record `last_used_at` about once a minute per key and process, never on every request."""
    last = _last_used_written.get(key.id)
    moment = time.monotonic()
    if last is not None and moment - last < LAST_USED_EVERY_SECONDS:
        return
    _last_used_written[key.id] = moment
    # On a thread of its own, not the ORM's shared one: a write waiting for a lock (another process
    # writing to SQLite) must not hold up the reads that requests wait for.
    task = asyncio.get_running_loop().create_task(record_use(key.id, now), name=f"key-used-{key.id}")
    _writes.add(task)
    task.add_done_callback(_written)


def _record_use(key_id: int, now: datetime) -> int:
    # update(), not save(): a use is not a change that should drop anybody's cached tenant.
    return AccessKey.objects.filter(pk=key_id).update(last_used_at=now)


def _record_use_on_a_pool_thread(key_id: int, now: datetime) -> int:
    try:
        return _record_use(key_id, now)
    finally:
        connection.close()  # this pool thread's own connection: not left open between uses


# Tests that count a request's queries on their own transaction's connection put _record_use here.
record_use = sync_to_async(_record_use_on_a_pool_thread, thread_sensitive=False)


def _written(task: asyncio.Task[int]) -> None:
    _writes.discard(task)
    # Retrieved here: otherwise a failed write (a locked or unreachable database) surfaces later as
    # asyncio's "Task exception was never retrieved", with a traceback and without saying what it was.
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.warning("could not record the use of an access key (%s): %r", task.get_name(), exc)


def caller_of(key: StoredKey | None) -> str | None:
    """Who makes a request with an access key, for the per-caller limit (an OAuth token names its user)."""
    return None if key is None else f"key:{shown_prefix(key.prefix)}"


async def check_rate(tenant: TenantSettings, caller: str | None) -> refusals.Refusal | None:
    """Count this request against the caller's limit, then the tenant's (mcp_endpoint.limiter).

    The caller's comes first, so that one caller over its own limit does not use up the tenant's.
    """
    if caller is not None and tenant.caller_rate_limit_per_minute is not None:
        limit = tenant.caller_rate_limit_per_minute
        if retry_after := await limiter.take(limit, "rate", tenant.client_id, caller):
            return _rate_limited(f"caller {caller} of tenant {tenant.client_id}", limit, retry_after)
    limit = tenant.rate_limit_per_minute
    if retry_after := await limiter.take(limit, "rate", tenant.client_id):
        return _rate_limited(f"tenant {tenant.client_id}", limit, retry_after)
    return None


def _rate_limited(who: str, limit: int, retry_after: int) -> refusals.Refusal:
    # One warning per tenant or caller and minute, so that a client hammering away cannot flood the log.
    _quiet.log(
        logging.WARNING,
        who,
        "rate limited %s: limit %d per minute, retry after %d s",
        who,
        limit,
        retry_after,
    )
    return refusals.rate_limited(retry_after)


# Failed keys. Keys are 256-bit random, so guessing one is hopeless; the limit is there so that
# trying costs the guesser, not us (no key hashing, logging or counting past the limit). An address
# that failed too often is refused before its key is looked at, for every tenant; and once a tenant
# sees too many failures, addresses that have failed at all are refused for it too. A good key from
# an address that never failed is always checked: a guesser cannot lock a tenant's clients out.


_failure_noted_at = -math.inf  # when this process last counted a failed key (time.monotonic)


async def check_failed_keys(address: str, tenant: TenantSettings) -> refusals.Refusal | None:
    """Before the key is checked: a 429 for an address (or a tenant) with too many failed keys this minute.

    One limiter call for an address that has not failed; a second, for the tenant, only if it has.
    An IPv6 address counts as its /64 (tenants/addresses.py).
    """
    if limiter.counts_locally() and time.monotonic() - _failure_noted_at > limiter.WINDOW_SECONDS:
        return None  # no key failed in this worker for a window: every count here is 0 (a lookup saved)
    per_address, per_tenant = settings.MCP_FAILED_KEYS_PER_ADDRESS, settings.MCP_FAILED_KEYS_PER_TENANT
    by_address = await limiter.window(per_address, "badkey", "addr", counted_address(address))
    if by_address.held >= per_address:
        return refusals.too_many_failed_keys(by_address.retry_after)
    if by_address.held:
        by_tenant = await limiter.window(per_tenant, "badkey", "tenant", tenant.client_id)
        if by_tenant.held >= per_tenant:
            return refusals.too_many_failed_keys(by_tenant.retry_after)
    return None


async def note_failed_key(address: str, tenant: TenantSettings) -> None:
    global _failure_noted_at
    _failure_noted_at = time.monotonic()
    await asyncio.gather(
        limiter.take(settings.MCP_FAILED_KEYS_PER_ADDRESS, "badkey", "addr", counted_address(address)),
        limiter.take(settings.MCP_FAILED_KEYS_PER_TENANT, "badkey", "tenant", tenant.client_id),
    )
