"""Calls to one tenant's OneApp API over a pooled keep-alive `httpx.AsyncClient`.

Every failure becomes an `UpstreamError` whose message is safe to show a model: it says truly what
went wrong (tenants/oneapp/faults.py), never the token or a request header. The whole call, from
waiting for a free slot to the last byte of the answer, is bounded by the tenant's timeout.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import ssl
from typing import Any, cast
from urllib.parse import urlencode

import aiohttp
import certifi
import httpx
from httpx_aiohttp import AiohttpTransport

from tenants.models import TenantSettings, validate_header_value
from tenants.oneapp.faults import UpstreamError, describe, host

__all__ = ["MAX_ERROR_SNIPPET", "OneAppClient", "UpstreamError"]

logger = logging.getLogger(__name__)

MAX_ERROR_SNIPPET = 200
USER_AGENT = "oneapp-mcp"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~25 ms; one context shared by every tenant's pool keeps a
    # cold tenant cheap.
    return ssl.create_default_context(cafile=certifi.where())


class OneAppClient:
    """One tenant's connection pool to OneApp, with that tenant's credentials and timeout."""

    def __init__(self, tenant: TenantSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        # A token that is no valid header value (saved past the model's validators) would fail in h11
        # with the whole value in its message, which httpcore logs at DEBUG: it never reaches httpx.
        self._unsendable_token = bool(tenant.authorization) and not _is_header_value(tenant.authorization)
        if self._unsendable_token:
            logger.warning("tenant %s: the stored OneApp token is not a valid header value", tenant.client_id)
        elif tenant.authorization:
            headers["Authorization"] = tenant.authorization
        if tenant.client_header:
            headers["client"] = tenant.client_header
        self.bases = {"core": tenant.core_base_url, "client": tenant.client_base_url}
        self.timeout_ms = tenant.http_timeout_ms
        # The tenant's own cap on calls in flight, so that one busy tenant cannot hold every
        # connection and file descriptor of the worker.
        self.max_concurrent_calls = tenant.max_concurrent_calls
        self._slots = asyncio.Semaphore(tenant.max_concurrent_calls)
        self._secrets = _secret_forms(tenant.authorization)
        limits = httpx.Limits(
            max_connections=tenant.max_concurrent_calls, max_keepalive_connections=tenant.max_concurrent_calls
        )
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=None,  # noqa: S113 - one deadline for the whole call instead, in request()
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment must not see tenants' tokens
            # httpx's own pool (httpcore) scans every connection on every request and response,
            # which costs seconds at a thousand concurrent calls; aiohttp's pool does not.
            transport=transport or AiohttpTransport(verify=_tls_context(), limits=limits, trust_env=False),
        )

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def request(
        self, method: str, base: str, path: str, query: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        """Send one call and return (status, parsed JSON). Raises UpstreamError."""
        if self._unsendable_token:
            raise UpstreamError(
                "This client's OneApp token cannot be sent: it is not a valid HTTP header value. "
                "An operator must set it again.",
                "transport",
            )
        # One deadline for all of it: a slot, connecting, sending, the headers and the whole body.
        # Per-phase timeouts let an upstream that drips a byte a second hold a call for good.
        deadline = asyncio.timeout(self.timeout_ms / 1000)
        holding = False
        try:
            async with deadline:
                await self._slots.acquire()
                holding = True
                return await self._send(method, base, path, query, body)
        except TimeoutError:
            if not deadline.expired():
                raise
            if not holding:
                raise UpstreamError(
                    f"Too many OneApp calls in progress for this client (at most {self.max_concurrent_calls} "
                    "at once); try again shortly.",
                    "busy",
                ) from None
            raise UpstreamError(f"OneApp did not answer within {self.timeout_ms} ms.", "timeout") from None
        finally:
            if holding:
                self._slots.release()

    async def _send(
        self, method: str, base: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        url = self.bases[base] + path
        if query:
            # Commas stay literal: the contract sends lists as `areas=1,2,3`.
            url += "?" + urlencode(query, safe=",")
        try:
            response = await self._http.request(
                method, url, content=None if body is None else json.dumps(body)
            )
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise describe(exc, url, self.timeout_ms) from None
        except ValueError:  # aiohttp refuses some URLs and header combinations before sending
            raise UpstreamError(
                f"The request to OneApp at {host(url)} could not be made: its URL or headers are not valid.",
                "transport",
            ) from None
        return response.status_code, self._parse(response)

    def _parse(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise UpstreamError(
                f"OneApp answered {response.status_code} {response.reason_phrase}: {self._snippet(response)}",
                "status",
                status=response.status_code,
            )
        try:
            return response.json()
        except RecursionError:
            raise UpstreamError(
                f"OneApp answered {response.status_code} with JSON nested too deeply to read.",
                "not_json",
                status=response.status_code,
            ) from None
        except ValueError:
            raise UpstreamError(
                f"OneApp answered {response.status_code} with a body that is not JSON.",
                "not_json",
                status=response.status_code,
            ) from None

    def _snippet(self, response: httpx.Response) -> str:
        text = " ".join(response.text.split()) or "(empty body)"
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text if len(text) <= MAX_ERROR_SNIPPET else text[:MAX_ERROR_SNIPPET] + "…"

    async def aclose(self) -> None:
        await self._http.aclose()


def _secret_forms(authorization: str) -> list[str]:
    """The header value, and its credential without the scheme (`Bearer`): an upstream may echo either."""
    value = authorization.strip()
    scheme, _, credential = value.partition(" ")
    forms = [value, credential.strip()] if scheme and credential.strip() else [value]
    return [form for form in forms if form]


def _is_header_value(value: str) -> bool:
    # RegexValidator compiles the pattern it is given; the stub also allows the str it was given.
    return cast(re.Pattern[str], validate_header_value.regex).search(value) is not None
