"""Calls to one tenant's OneApp API over a pooled keep-alive `httpx.AsyncClient`.

Every failure becomes an `UpstreamError` whose message is safe to show a model: it names the
status or the network fault, never the token or a request header.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import socket
import ssl
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import certifi
import httpx
from httpx_aiohttp import AiohttpTransport

from tenants.models import TenantSettings, validate_header_value

logger = logging.getLogger(__name__)

MAX_ERROR_SNIPPET = 200
USER_AGENT = "oneapp-mcp"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~25 ms; one context shared by every tenant's pool keeps a
    # cold tenant cheap.
    return ssl.create_default_context(cafile=certifi.where())


class UpstreamError(Exception):
    """A OneApp call failed; the message is meant for the model that called the tool."""

    def __init__(self, message: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # for metrics: busy, timeout, unreachable, transport, status, not_json
        self.status = status


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
            timeout=tenant.http_timeout_ms / 1000,
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
        try:
            async with asyncio.timeout(self.timeout_ms / 1000):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamError(
                f"Too many OneApp calls in progress for this client (at most {self.max_concurrent_calls} "
                "at once); try again shortly.",
                "busy",
            ) from None
        try:
            return await self._send(method, base, path, query, body)
        finally:
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
        except httpx.HTTPError as exc:
            raise self._failure(exc, url) from None
        except ValueError:  # aiohttp refuses some URLs and header combinations before sending
            raise UpstreamError(
                f"The request to OneApp at {_host(url)} could not be made: its URL or headers are not valid.",
                "transport",
            ) from None
        return response.status_code, self._parse(response)

    def _failure(self, exc: httpx.HTTPError, url: str) -> UpstreamError:
        # Read from the whole chain: the aiohttp transport reports a refused connection as a
        # connect *timeout*, but keeps the original error as the cause.
        reason = _connect_reason(exc)
        if reason is not None or isinstance(exc, httpx.ConnectError):
            return UpstreamError(
                f"Could not connect to OneApp at {_host(url)}: {reason or 'the connection failed'}.",
                "unreachable",
            )
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamError(f"OneApp did not answer within {self.timeout_ms} ms.", "timeout")
        return UpstreamError(
            f"The connection to OneApp at {_host(url)} failed ({type(exc).__name__}).", "transport"
        )

    def _parse(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise UpstreamError(
                f"OneApp answered {response.status_code} {response.reason_phrase}: {self._snippet(response)}",
                "status",
                status=response.status_code,
            )
        try:
            return response.json()
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


def _host(url: str) -> str:
    """host[:port], without the user:password@ that a base URL may carry."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else str(parts.hostname)
    return f"{host}:{parts.port}" if parts.port else host


def _connect_reason(exc: BaseException) -> str | None:
    """The network fault behind a failed call, from the OS error in its exception chain, if any."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "the host name could not be resolved"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    if "name or service not known" in str(exc).lower():
        return "the host name could not be resolved"
    return None
