"""CORS for /mcp: browser pages from the origins in MCP_ALLOWED_ORIGINS may call it, and no others.

A browser sends a preflight (OPTIONS, with no credential and no X-Client-ID) before an MCP POST,
which carries Authorization, a JSON Content-Type and MCP's own headers; and it lets the page read
an answer only if the answer names the page's origin. Without both, an origin listed in
MCP_ALLOWED_ORIGINS was let through the Origin check and then could read nothing.

Hand-written rather than django-cors-headers (which serves the OAuth endpoints): /mcp is answered
by the ASGI front door, before Django's middleware, and needs three headers for listed origins only.
No Access-Control-Allow-Credentials: /mcp takes bearer credentials, never cookies.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from django.conf import settings

from mcp_endpoint import refusals
from mcp_endpoint.exchange import Answer, McpRequest

PREFLIGHT = "CORS_PREFLIGHT"  # the requests metric's outcome for an answered preflight
# GET and DELETE too: a 2025 client opens (GET) and ends (DELETE) a session that way, and must read
# the 405 that says this server has no such thing, instead of failing on a blocked request.
ALLOWED_METHODS = "GET, POST, DELETE"
# What a page may read besides the simple headers: the OAuth challenge, when to retry, the session
# and protocol version the SDKs' clients look for.
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After, Mcp-Session-Id, MCP-Protocol-Version"
MAX_AGE_SECONDS = 600
MAX_REQUESTED_HEADERS = 2048  # characters of Access-Control-Request-Headers echoed back
# Header names (RFC 9110 tokens), comma-separated: echoed only then. A 2026 client's Mcp-Param-*
# names depend on the tool, so no fixed list would do.
_HEADER_NAMES = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")
_ALLOW_ORIGIN = "Access-Control-Allow-Origin"


def is_preflight(request: McpRequest) -> bool:
    headers = request.headers
    return request.method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight(request: McpRequest) -> Answer:
    """The answer to a preflight: allowed for a listed origin, otherwise refused as its request would be."""
    origin = listed_origin(request.headers.get("origin"))
    if origin is None:
        return refusals.FORBIDDEN_ORIGIN.answer()
    headers = [
        (_ALLOW_ORIGIN, origin),
        ("Access-Control-Allow-Methods", ALLOWED_METHODS),
        ("Access-Control-Max-Age", str(MAX_AGE_SECONDS)),
        ("Vary", "Origin, Access-Control-Request-Headers"),
    ]
    requested = request.headers.get("access-control-request-headers", "").strip()
    if requested and len(requested) <= MAX_REQUESTED_HEADERS and _HEADER_NAMES.fullmatch(requested):
        headers.append(("Access-Control-Allow-Headers", requested))
    return Answer(200, tuple(headers), b"", PREFLIGHT)


def readable_by(raw_headers: Iterable[tuple[bytes, bytes]], answer: Answer) -> Answer:
    """`answer`, readable by the page that sent the request (its raw ASGI headers) if its origin is
    listed. Applied where an answer leaves, so that refusals and errors are readable too."""
    if not settings.MCP_ALLOWED_ORIGINS:  # the usual case: no browser may call
        return answer
    origins = [value for name, value in raw_headers if name.lower() == b"origin"]
    origin = listed_origin(origins[0].decode("latin-1")) if len(origins) == 1 else None
    if origin is None or any(name == _ALLOW_ORIGIN for name, _ in answer.headers):  # a preflight's
        return answer
    cors = ((_ALLOW_ORIGIN, origin), ("Access-Control-Expose-Headers", EXPOSED_HEADERS), ("Vary", "Origin"))
    return dataclasses.replace(answer, headers=answer.headers + cors)


def listed_origin(origin: str | None) -> str | None:
    """`origin` if it is one of MCP_ALLOWED_ORIGINS (exactly: our own origin is not implied)."""
    return origin if origin is not None and origin in settings.MCP_ALLOWED_ORIGINS else None
