"""Calls to one tenant's OneApp API over a pooled keep-alive httpx transport (aiohttp's pool).

Every failure becomes an `UpstreamError` whose message is safe to show a model: it says truly what
went wrong (tenants/oneapp/faults.py), never the token or a request header. The whole call, from
waiting for a free slot to the last byte of the answer, is bounded by the tenant's timeout; the
answer by its size cap (tenants/oneapp/body.py); and every echo of the token in what OneApp sends
back is redacted (tenants/oneapp/redaction.py).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import logging
import re
import ssl
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import aiohttp
import certifi
import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tenants.models import TenantSettings, validate_header_value
from tenants.oneapp.body import (
    ACCEPT_ENCODING,
    MAX_NESTING,
    BodyTooLarge,
    UnreadableEncoding,
    nested_too_deeply,
    read_capped,
)
from tenants.oneapp.faults import UpstreamError, describe, host
from tenants.oneapp.redaction import Redactor

__all__ = ["MAX_ERROR_SNIPPET", "OneAppClient", "UpstreamError"]

logger = logging.getLogger(__name__)

MAX_ERROR_SNIPPET = 200
ERROR_BODY_BYTES = 64 * 1024  # of an error answer, enough for the snippet after its whitespace is squeezed
MAX_REASON = 100
USER_AGENT = "oneapp-mcp"

_tracer = trace.get_tracer(__name__)
_W3C = TraceContextTextMapPropagator()  # the trace context only: no baggage goes to OneApp


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~25 ms; one context shared by every tenant's pool keeps a
    # cold tenant cheap.
    return ssl.create_default_context(cafile=certifi.where())


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """The URL parsed once: most calls go to a few fixed paths, and parsing cost half of building a
    Request (7 of 13 µs). httpx.URL is immutable, so every call may share it; URLs carry no
    credentials (base URLs may not, and the token goes in a header)."""
    return httpx.URL(url)


class _RedactingTransport(httpx.AsyncBaseTransport):
    """Redacts the reason phrase as it arrives, before anything reads it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        reason = response.extensions.get("reason_phrase")
        if reason:
            text = self._redactor.text(reason.decode("ascii", errors="ignore"))
            response.extensions["reason_phrase"] = text.encode("ascii", errors="ignore")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class OneAppClient:
    """One tenant's connection pool to OneApp, with that tenant's credentials, timeout and size cap."""

    def __init__(self, tenant: TenantSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
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
        self.max_response_bytes = tenant.max_response_bytes
        # The tenant's own cap on calls in flight, so that one busy tenant cannot hold every
        # connection and file descriptor of the worker.
        self.max_concurrent_calls = tenant.max_concurrent_calls
        self._slots = asyncio.Semaphore(tenant.max_concurrent_calls)
        self._redactor = Redactor(tenant.authorization)
        limits = httpx.Limits(
            max_connections=tenant.max_concurrent_calls, max_keepalive_connections=tenant.max_concurrent_calls
        )
        # httpx's own pool (httpcore) scans every connection on every request and response,
        # which costs seconds at a thousand concurrent calls; aiohttp's pool does not.
        inner = transport or AiohttpTransport(verify=_tls_context(), limits=limits, trust_env=False)
        # The transport is called directly, with httpx's own Request and Response: an AsyncClient
        # would merge headers and URLs, run auth, redirect and cookie handling on every call (for
        # nothing: none of them applies here), which cost a fifth of the client's CPU per call.
        # No proxy from the environment can see tenants' tokens: the transport ignores it.
        self._transport = _RedactingTransport(inner, self._redactor)
        self._headers = httpx.Headers({"Accept": "*/*", **headers})
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def request(
        self,
        method: str,
        base: str,
        path: str,
        query: dict[str, str],
        body: Any = None,
        template: str | None = None,
    ) -> tuple[int, Any]:
        """Send one call and return (status, parsed JSON). Raises UpstreamError.

        Inside a traced request, the call is a client span named by `template` (the path with its
        `{placeholders}`, or `path` when it has none), and OneApp is sent its `traceparent`."""
        url = self.bases[base] + path
        if query:
            # Commas stay literal: the contract sends lists as `areas=1,2,3`.
            url += "?" + urlencode(query, safe=",")
        content = None if body is None else json.dumps(body)
        if not trace.get_current_span().is_recording():  # no tracing: nothing more than this check
            return await self._request(method, url, content, None)
        return await self._traced_request(method, base, template or path, url, content)

    async def _traced_request(
        self, method: str, base: str, template: str, url: str, content: str | None
    ) -> tuple[int, Any]:
        # Never the URL itself: no query values, no user:password@ a base URL may carry.
        parts = urlsplit(self.bases[base])
        route = parts.path.rstrip("/") + template
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.template": route,
            "server.address": parts.hostname or "",
            "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        }
        with _tracer.start_as_current_span(
            f"{method} {route}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,  # an UpstreamError's text may quote OneApp's answer
            set_status_on_exception=False,
        ) as span:
            headers: dict[str, str] = {}
            _W3C.inject(headers)
            try:
                status, data = await self._request(method, url, content, headers)
            except UpstreamError as exc:
                if exc.status is not None:
                    span.set_attribute("http.response.status_code", exc.status)
                span.set_attribute("error.type", str(exc.status) if exc.kind == "status" else exc.kind)
                span.set_status(StatusCode.ERROR)
                raise
            span.set_attribute("http.response.status_code", status)
            return status, data

    async def _request(
        self, method: str, url: str, content: str | None, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
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
                return await self._send(method, url, content, headers)
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
        self, method: str, url: str, content: str | None, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        try:
            request = httpx.Request(
                method,
                _parsed(url),
                headers=self._headers if headers is None else {**self._headers, **headers},
                content=content,
            )
            response = await self._transport.handle_async_request(request)
            try:
                return response.status_code, await self._read(response)
            finally:
                await response.aclose()
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise describe(exc, url, self.timeout_ms) from None
        except ValueError:  # aiohttp refuses some URLs and header combinations before sending
            raise UpstreamError(
                f"The request to OneApp at {host(url)} could not be made: its URL or headers are not valid.",
                "transport",
            ) from None

    async def _read(self, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            if not response.is_success:
                raw = await read_capped(
                    response, min(self.max_response_bytes, ERROR_BODY_BYTES), truncate=True
                )
            else:
                raw = await read_capped(response, self.max_response_bytes)
        except BodyTooLarge:
            raise UpstreamError(
                f"OneApp's answer is larger than this client's limit of {_size(self.max_response_bytes)}; "
                "ask for less (a filter or a smaller page).",
                "too_large",
                status=status,
            ) from None
        except UnreadableEncoding as exc:
            raise UpstreamError(
                f"OneApp answered {status} in an encoding this client cannot read ({exc}).",
                "bad_response",
                status=status,
            ) from None
        if not response.is_success:
            reason = _cut(response.reason_phrase, MAX_REASON)  # redacted by the transport
            raise UpstreamError(
                f"OneApp answered {status} {reason}: {self._snippet(raw, response)}", "status", status=status
            )
        return self._parse(raw, status)

    def _parse(self, raw: bytes, status: int) -> Any:
        # At the default cap (4 MiB) json.loads holds the event loop for some tens of milliseconds;
        # the cap's ceiling (16 MiB) bounds it. It cannot be moved to a thread: it never releases the GIL.
        data: Any = None
        try:
            data = json.loads(raw)
            deep = nested_too_deeply(raw)
        except RecursionError:
            deep = True
        except ValueError:
            raise UpstreamError(
                f"OneApp answered {status} with a body that is not JSON.", "not_json", status=status
            ) from None
        if deep:
            raise UpstreamError(
                f"OneApp answered {status} with JSON nested more than {MAX_NESTING} levels deep.",
                "not_json",
                status=status,
            )
        return self._redactor.json(data) if self._redactor.body_may_echo(raw) else data

    def _snippet(self, raw: bytes, response: httpx.Response) -> str:
        encoding = response.charset_encoding or "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = "utf-8"
        text = " ".join(raw.decode(encoding, errors="replace").split()) or "(empty body)"
        # Redacted before it is cut: a token across the cut must not be cut back into view.
        return _cut(self._redactor.text(text), MAX_ERROR_SNIPPET)

    async def aclose(self) -> None:
        self._closed = True
        await self._transport.aclose()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _size(count: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def _is_header_value(value: str) -> bool:
    # RegexValidator compiles the pattern it is given; the stub also allows the str it was given.
    return cast(re.Pattern[str], validate_header_value.regex).search(value) is not None
