"""What went wrong on the wire, in words safe for a model, and a kind for metrics.

The aiohttp transport reports most network faults as httpx's ConnectTimeout (a reset, a refused
connection, a certificate it did not trust) and lets some through as its own exceptions (headers it
will not read); the cause is in the exception chain, so that is where each fault is recognised.
No message repeats an exception's own text: aiohttp's may quote what OneApp sent, token included.
Only a real timeout is told as one.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import aiohttp
import httpx
from aiohttp import http_exceptions

# What aiohttp would not read in an answer, by the parser's exception; the first that matches wins.
_UNREADABLE: tuple[tuple[type[BaseException], str], ...] = (
    (http_exceptions.LineTooLong, "a header line is too long"),
    (http_exceptions.BadStatusLine, "its status line is malformed"),
    (http_exceptions.InvalidHeader, "a header is malformed"),
    (http_exceptions.TransferEncodingError, "its chunked body is malformed"),
    (http_exceptions.ContentEncodingError, "its body does not decode"),
)


class UpstreamError(Exception):
    """A OneApp call failed; the message is meant for the model that called the tool."""

    def __init__(self, message: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        # For metrics: busy, timeout, unreachable, tls, reset, closed, bad_response, too_large, status,
        # not_json, transport (anything else).
        self.kind = kind
        self.status = status


def host(url: str) -> str:
    """host[:port], without the user:password@ that a base URL may carry."""
    parts = urlsplit(url)
    name = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else str(parts.hostname)
    return f"{name}:{parts.port}" if parts.port else name


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def describe(exc: BaseException, url: str, timeout_ms: int) -> UpstreamError:
    """The UpstreamError for a failed exchange with OneApp at `url`, under a timeout of `timeout_ms`."""
    where = host(url)
    chain = list(_chain(exc))

    def find(*kinds: type[BaseException]) -> BaseException | None:
        return next((cause for cause in chain if isinstance(cause, kinds)), None)

    if (
        find(socket.gaierror, aiohttp.ClientConnectorDNSError)
        or "name or service not known" in str(exc).lower()
    ):
        return UpstreamError(
            f"Could not connect to OneApp at {where}: the host name could not be resolved.", "unreachable"
        )
    if find(ConnectionRefusedError):
        return UpstreamError(f"Could not connect to OneApp at {where}: connection refused.", "unreachable")
    if find(ssl.SSLCertVerificationError):
        # aiohttp's own certificate error counts as one too; OpenSSL's reason is on the original.
        reasons = (getattr(cause, "verify_message", None) for cause in chain)
        reason = next((reason for reason in reasons if reason), "it is not trusted")
        return UpstreamError(
            f"The TLS certificate of OneApp at {where} could not be verified: {reason}.", "tls"
        )
    if find(ssl.SSLError, aiohttp.ClientSSLError):
        return UpstreamError(f"The TLS handshake with OneApp at {where} failed.", "tls")
    if find(ConnectionResetError):
        return UpstreamError(f"The connection to OneApp at {where} was reset.", "reset")
    if find(aiohttp.ServerDisconnectedError):
        return UpstreamError(f"OneApp at {where} closed the connection without answering.", "closed")
    if find(http_exceptions.ContentLengthError):
        return UpstreamError(
            f"OneApp at {where} closed the connection before its whole answer arrived.", "closed"
        )
    for kind, what in _UNREADABLE:
        if find(kind):
            return _unreadable(where, what)
    if (bad := find(http_exceptions.BadHttpMessage)) is not None:
        many = "too many headers" in str(getattr(bad, "message", "")).lower()
        return _unreadable(where, "it has too many headers" if many else "it is not valid HTTP")
    if find(aiohttp.ServerTimeoutError, TimeoutError):
        return UpstreamError(f"OneApp did not answer within {timeout_ms} ms.", "timeout")
    if find(aiohttp.ClientConnectorError, httpx.ConnectError):
        return UpstreamError(f"Could not connect to OneApp at {where}: the connection failed.", "unreachable")
    os_error = find(OSError)
    if isinstance(os_error, OSError) and isinstance(os_error.errno, int):
        return UpstreamError(
            f"The connection to OneApp at {where} failed: {os.strerror(os_error.errno)}.", "transport"
        )
    return UpstreamError(
        f"The connection to OneApp at {where} failed ({type(chain[-1]).__name__}).", "transport"
    )


def _unreadable(where: str, what: str) -> UpstreamError:
    return UpstreamError(f"OneApp at {where} sent an answer that could not be read: {what}.", "bad_response")
