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
MAX_AGE_SECONDS = "600"
MAX_REQUESTED_HEADERS = 2048  # characters of Access-Control-Request-Headers echoed back
# Header names (RFC 9110 tokens), comma-separated: echoed only then. A 2026 client's Mcp-Param-*
# names depend on the tool, so no fixed list would do.
_HEADER_NAMES = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*")


def is_preflight(request: McpRequest) -> bool:
    return request.method == "OPTIONS" and "access-control-request-method" in request.headers


def preflight(request: McpRequest) -> Answer:
    """The answer to a preflight: allowed for a listed origin, otherwise refused as its request would be."""
    origin = _listed_origin(request)
    if origin is None:
        return refusals.FORBIDDEN_ORIGIN.answer()
    headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", ALLOWED_METHODS),
        ("Access-Control-Max-Age", MAX_AGE_SECONDS),
        ("Vary", "Origin, Access-Control-Request-Headers"),
    ]
    requested = request.headers.get("access-control-request-headers", "").strip()
    if requested and len(requested) <= MAX_REQUESTED_HEADERS and _HEADER_NAMES.fullmatch(requested):
        headers.append(("Access-Control-Allow-Headers", requested))
    return Answer(200, tuple(headers), b"", PREFLIGHT)


def for_origin(request: McpRequest, answer: Answer) -> Answer:
    """`answer`, readable by the page that sent the request if its origin is listed."""
    origin = _listed_origin(request)
    if origin is None or answer.outcome == PREFLIGHT:  # a preflight's answer names it already
        return answer
    cors = (
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        ("Vary", "Origin"),
    )
    return dataclasses.replace(answer, headers=answer.headers + cors)


def _listed_origin(request: McpRequest) -> str | None:
    origin = request.headers.get("origin")
    return origin if origin is not None and origin in settings.MCP_ALLOWED_ORIGINS else None
