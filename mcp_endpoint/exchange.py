"""The two forms a /mcp request takes on its way through: `McpRequest` in, `Answer` out.

Both the ASGI front door (mcp_endpoint.asgi) and Django's URLconf (mcp_endpoint.views.mcp_view)
convert to these once, on the way in, and from them once, on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import parse_header_parameters

Scope = dict[str, Any]
MCP_PATH = "/mcp"  # X-Client-ID names the tenant; at MCP_PATH/<client_id> the URL does


def url_client_id(path: str) -> str | None:
    """The segment after `/mcp/` when the path is a tenant's URL (one non-empty segment), else None."""
    if not path.startswith(MCP_PATH + "/"):
        return None
    segment = path[len(MCP_PATH) + 1 :]
    return segment if segment and "/" not in segment else None


def is_mcp_path(path: str) -> bool:
    """Whether the path is one /mcp answers: `/mcp` itself, or a tenant's `/mcp/<client_id>`."""
    return path == MCP_PATH or url_client_id(path) is not None


@dataclass(frozen=True, slots=True)
class McpRequest:
    scope: Scope  # the ASGI scope, handed on to the SDK as it came
    body: bytes
    # Lowercase names; a repeated header's values comma-joined, and `_` read as `-`, as Django
    # reads them (so X-Client-ID behaves here exactly as it does through Django's request).
    headers: Mapping[str, str] = field(repr=False)

    @classmethod
    def from_scope(cls, scope: Scope, body: bytes) -> McpRequest:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower().replace("_", "-")
            value = raw_value.decode("latin-1")
            headers[name] = headers[name] + "," + value if name in headers else value
        return cls(scope, body, headers)

    @property
    def url_client_id(self) -> str | None:
        """The client id segment of `/mcp/<client_id>` as sent (not yet checked); None at `/mcp`."""
        return url_client_id(str(self.scope.get("path", "")))

    @property
    def method(self) -> str:
        return str(self.scope.get("method", "")).upper()

    @property
    def client_address(self) -> str:
        """The peer's address (the client's, behind a proxy whose headers uvicorn is told to trust)."""
        client = self.scope.get("client")
        return str(client[0]) if client else "unknown"

    @property
    def origin(self) -> str:
        """The origin the request was sent to, as its scheme and Host say (check `host_allowed` first)."""
        return f"{self.scope.get('scheme', 'http')}://{self.headers.get('host', '')}"

    @property
    def content_type(self) -> str:
        value = self.headers.get("content-type", "")
        return value if value == "application/json" else parse_header_parameters(value)[0]

    def host_allowed(self) -> bool:
        """Whether the Host is one of ALLOWED_HOSTS, judged as Django's `get_host()` judges it."""
        host = self.headers.get("host")
        if host is None:
            server_name, server_port = self.scope.get("server") or ("unknown", "0")
            host = f"{server_name}:{server_port}"
        return _host_allowed(host)


MAX_JUDGED_HOSTS = 256  # Host values whose verdict is kept; a client sending new ones cannot grow it
_judged_hosts: dict[str, bool] = {}
_judged_for: tuple[object, bool] | None = None  # the ALLOWED_HOSTS (by identity) and DEBUG judged for


def _host_allowed(host: str) -> bool:
    """Django's verdict on a Host, kept per Host value: every request has one, nearly always the same."""
    global _judged_for
    allowed_hosts, debug = settings.ALLOWED_HOSTS, settings.DEBUG
    if _judged_for is None or _judged_for[0] is not allowed_hosts or _judged_for[1] != debug:
        _judged_hosts.clear()  # settings replaced (tests): judge afresh
        _judged_for = (allowed_hosts, debug)
    verdict = _judged_hosts.get(host)
    if verdict is None:
        if debug and not allowed_hosts:
            allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
        domain, _ = split_domain_port(host)
        verdict = bool(domain) and validate_host(domain, allowed_hosts)
        if len(_judged_hosts) >= MAX_JUDGED_HOSTS:
            _judged_hosts.clear()
        _judged_hosts[host] = verdict
    return verdict


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    outcome: str  # what the requests metric counts: a refusal's code, or MCP_<status> from the SDK

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers to send, with the body's length (so the server need not chunk a body it has whole)."""
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
        headers.append((b"content-length", str(len(self.body)).encode()))
        return headers


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <credential>` value (the scheme in any case), or None."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


def body_too_large(size: int) -> bool:
    """The one size rule for request bodies (MCP_MAX_REQUEST_BYTES), whichever way the body is read."""
    return size > settings.MCP_MAX_REQUEST_BYTES
