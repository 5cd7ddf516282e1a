"""Every refusal /mcp answers, with its JSON error body, in one place; and the X-Client-ID rules of the
OneApp contract (docs/oneapp-contract.md), with those of a tenant's own URL, /mcp/<client_id>.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from oauth2_provider.www_authenticate import build_bearer_challenge

from mcp_endpoint.exchange import Answer
from tenants.identifiers import is_client_id, normalise_client_id


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    error: str
    headers: tuple[tuple[str, str], ...] = ()

    def answer(self) -> Answer:
        body = json.dumps({"error": self.error, "code": self.code}).encode()
        return Answer(self.status, (("Content-Type", "application/json"), *self.headers), body, self.code)


MISSING_CLIENT_ID = Refusal(
    403, "MISSING_CLIENT_ID", "Missing X-Client-ID header. Provide client identifier."
)
DUPLICATE_CLIENT_ID = Refusal(
    400, "DUPLICATE_CLIENT_ID", "Multiple X-Client-ID headers detected. Provide exactly one."
)
INVALID_CLIENT_ID = Refusal(
    403, "INVALID_CLIENT_ID", "Client ID must contain only alphanumeric characters (a-z, 0-9)."
)
CLIENT_ID_MISMATCH = Refusal(
    400,
    "CLIENT_ID_MISMATCH",
    "The X-Client-ID header names another client than the URL /mcp/<client_id> does. "
    "Send the same client id, or leave the header out.",
)
METHOD_NOT_ALLOWED = Refusal(
    405,
    "METHOD_NOT_ALLOWED",
    "Only POST is supported at /mcp (stateless Streamable HTTP).",
    (("Allow", "POST"),),
)
FORBIDDEN_ORIGIN = Refusal(403, "FORBIDDEN_ORIGIN", "Requests from this Origin are not allowed.")
MISSING_ACCESS_KEY = Refusal(
    401,
    "MISSING_ACCESS_KEY",
    "Missing access key. Send it as 'Authorization: Bearer <key>' together with X-Client-ID.",
    (("WWW-Authenticate", 'Bearer realm="oneapp-mcp"'),),
)
_INVALID_ACCESS_KEY = "Invalid access key: it is wrong, revoked, expired, or belongs to another client."
INVALID_ACCESS_KEY = Refusal(
    401,
    "INVALID_ACCESS_KEY",
    _INVALID_ACCESS_KEY,
    # The reason in the challenge too (RFC 6750, section 3): clients that run OAuth discovery on any
    # 401 (the TypeScript SDK, so mcp-remote) never read the body, but some show the challenge.
    (
        (
            "WWW-Authenticate",
            f'Bearer realm="oneapp-mcp", error="invalid_token", error_description="{_INVALID_ACCESS_KEY}"',
        ),
    ),
)
BAD_REQUEST = Refusal(400, "BAD_REQUEST", "Bad request.")
INTERNAL_ERROR = Refusal(500, "INTERNAL_ERROR", "Internal error. It has been logged.")
UNSUPPORTED_MEDIA_TYPE = Refusal(
    415,
    "UNSUPPORTED_MEDIA_TYPE",
    "The request body must be JSON, sent with 'Content-Type: application/json'.",
)
SHUTTING_DOWN = Refusal(
    503,
    "SHUTTING_DOWN",
    "This server was stopping and could not finish the request in time. Send it again.",
    (("Retry-After", "1"),),
)
PAYLOAD_TOO_LARGE = Refusal(413, "PAYLOAD_TOO_LARGE", "The request body is larger than this server accepts.")
DATABASE_UNAVAILABLE = Refusal(
    503,
    "SERVICE_UNAVAILABLE",
    "The service cannot read its configuration right now. Retry shortly.",
    (("Retry-After", "5"),),
)
TENANT_UNAVAILABLE = Refusal(
    503, "TENANT_UNAVAILABLE", "This client's configuration cannot be used right now. Contact the operator."
)


def rate_limited(retry_after: int) -> Refusal:
    return _too_many("RATE_LIMITED", "Too many requests for this client. Retry after {} s.", retry_after)


def too_many_failed_keys(retry_after: int) -> Refusal:
    message = "Too many requests with a wrong access key. Retry after {} s with the right key."
    return _too_many("TOO_MANY_FAILED_KEYS", message, retry_after)


def _too_many(code: str, message: str, retry_after: int) -> Refusal:
    return Refusal(429, code, message.format(retry_after), (("Retry-After", str(retry_after)),))


def unknown_client(client_id: str, in_url: bool = False) -> Refusal:
    where = "the client id in the URL" if in_url else "X-Client-ID header value"
    return Refusal(403, "UNKNOWN_CLIENT", f"Unknown client ID: {client_id}. Check {where}.")


def route_client_id(header: str | None) -> str | Refusal:
    """The normalised client id named by an X-Client-ID header value (several values arrive comma-joined)."""
    value = (header or "").strip()
    if not value:
        return MISSING_CLIENT_ID
    if "," in value:
        return DUPLICATE_CLIENT_ID
    value = normalise_client_id(value)
    if not is_client_id(value):
        return INVALID_CLIENT_ID
    return value


def route_url_client_id(segment: str, header: str | None) -> str | Refusal:
    """The client id of a tenant's URL, /mcp/<segment>; an X-Client-ID sent with it must name the same tenant.

    The URL is not a header: it is taken exactly as written, lowercase, never trimmed or folded.
    """
    if not is_client_id(segment):
        return INVALID_CLIENT_ID
    if header is not None and header.strip() and normalise_client_id(header) != segment:
        return CLIENT_ID_MISMATCH
    return segment


def sign_in_required(resource_metadata: str, scope: str) -> Refusal:
    """No credential at a tenant's URL: the RFC 9728 challenge that starts a client's OAuth sign-in."""
    challenge = build_bearer_challenge(None, {"scope": scope}, resource_metadata_url=resource_metadata)
    return Refusal(
        401,
        "AUTHENTICATION_REQUIRED",
        "Sign in: this MCP URL takes an OAuth access token (WWW-Authenticate says where to get one), "
        "or the client's access key as 'Authorization: Bearer <key>'.",
        (("WWW-Authenticate", challenge),),
    )


def invalid_token(resource_metadata: str, scope: str) -> Refusal:
    attributes = {"error": "invalid_token", "scope": scope}
    challenge = build_bearer_challenge(None, attributes, resource_metadata_url=resource_metadata)
    return Refusal(
        401,
        "INVALID_TOKEN",
        "Invalid access token: it is expired, revoked, or was issued for another MCP URL. Sign in again.",
        (("WWW-Authenticate", challenge),),
    )
