"""The MCP SDK's part of a /mcp request: it is handed the request and its body, and gives back the answer.

The SDK speaks the protocol: its server, handlers, types and result serialisation answer every
message, through its single-exchange entry `serve_one`, for both protocol eras:

- 2026-07-28 (an `MCP-Protocol-Version` header outside the handshake versions): the checks of the
  SDK's own single-exchange HTTP entry (Accept, envelope classification, duplicated routing
  headers, `Mcp-Param-*` headers), in its order, with its error bodies and statuses;
- the 2025 handshake era, stateless: what the SDK's stateless Streamable HTTP transport does in
  JSON mode (Accept, parse, message validation, 202 for notifications, one JSON-RPC reply).

Why not the SDK's session manager: it wants an ASGI conversation replayed through Starlette, a
task group per worker, and on the 2025 path a task, memory streams and a dispatcher per request:
about a third of a tool call's CPU. This module is the one place that reaches into SDK
internals (`_lowlevel_server`, the 2026 entry's private helpers); requirements.txt pins the SDK
and tests/mcp_endpoint/test_tools.py fails on an upgrade, so these are re-checked then.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pydantic_core
from mcp.server import _streamable_http_modern as modern
from mcp.server.connection import Connection
from mcp.server.runner import modern_error_data, serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    unsupported_protocol_version_rejection,
)
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data, progress_token_from_params
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    jsonrpc_message_adapter,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request

from mcp_endpoint import list_replay, tracing
from mcp_endpoint.tools import OneAppServer

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes]

_JSON: Headers = [(b"content-type", b"application/json")]
_SERVER = OneAppServer()
_LOWLEVEL = _SERVER._lowlevel_server  # what the SDK's session manager is given, too
_LIFESPAN_STATE: dict[str, Any] = {}  # what the SDK's default lifespan yields (OneAppServer sets none)


def trace_tenants() -> None:
    """Once tracing has started: the SDK's span of each message names the tenant too."""
    if not any(isinstance(each, tracing.TenantOnSdkSpans) for each in _LOWLEVEL.middleware):
        _LOWLEVEL.middleware.append(tracing.TenantOnSdkSpans())


async def exchange(scope: Scope, body: bytes) -> Reply:
    """Answer one HTTP POST through the SDK: status, headers and the whole JSON body."""
    request = Request(scope)
    version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return await _modern(request, body)
    return await _handshake_era(request, body, version)


async def _serve_one(
    dctx: modern._SingleExchangeDispatchContext,
    method: str,
    params: dict[str, Any] | None,
    connection: Connection,
) -> dict[str, Any]:
    """The SDK's answer to one request (both eras), under the request's span if it is traced."""
    return await serve_one(
        _LOWLEVEL,
        dctx,
        method,
        tracing.without_trace_context(params),
        connection=connection,
        lifespan_state=_LIFESPAN_STATE,
    )


# The 2026-07-28 single exchange, as mcp.server._streamable_http_modern.handle_modern_request
# answers it in JSON mode.


async def _modern(request: Request, body: bytes) -> Reply:
    has_json, has_sse = check_accept_headers(request)
    if not has_json:
        return 406, [], b""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return _modern_reply(
            JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
        )
    if isinstance(decoded, dict) and "id" not in decoded:
        return _modern_notification(decoded, request)
    try:
        req = JSONRPCRequest.model_validate(decoded)
    except ValidationError:
        return _modern_reply(modern._INVALID_BODY)
    if req.method == "subscriptions/listen" and not has_sse:
        return 406, [], b""  # a listen answer is a stream, never JSON (OneAppServer serves none anyway)
    duplicated = find_duplicated_routing_header(request.headers.items())
    if duplicated is not None:
        rejection = InboundLadderRejection(
            code=HEADER_MISMATCH, message=f"{duplicated} header appears more than once"
        )
        return _modern_rejection(rejection, req)
    verdict = classify_inbound_request(decoded, headers=dict(request.headers))
    if isinstance(verdict, InboundLadderRejection):
        return _modern_rejection(verdict, req)
    param_rejection = await modern._mcp_param_rejection(_LOWLEVEL, request, req, verdict, _LIFESPAN_STATE)
    if param_rejection is not None:
        return _modern_rejection(param_rejection, req)
    replay = list_replay.key_of(req.method, req.params, verdict.protocol_version)
    if (kept := list_replay.replayed(replay)) is not None:
        return 200, _JSON, _envelope(_json_bytes(req.id), kept)
    connection = Connection.from_envelope(
        verdict.protocol_version, verdict.client_info, verdict.client_capabilities
    )
    dctx = modern._SingleExchangeDispatchContext(
        transport=TransportContext(kind="streamable-http", can_send_request=False, headers=request.headers),
        request_id=req.id,
        message_metadata=ServerMessageMetadata(request_context=request),
        progress_token=progress_token_from_params(req.params),
    )
    try:
        result = await _serve_one(dctx, req.method, req.params, connection)
    except Exception as exc:
        return _modern_reply(JSONRPCError(jsonrpc="2.0", id=req.id, error=modern_error_data(exc)))
    encoded = _json_bytes(result)
    list_replay.keep(replay, encoded)
    return 200, _JSON, _envelope(_json_bytes(req.id), encoded)


def _json_bytes(value: Any) -> bytes:
    """JSON as the SDK's 2026 entry encodes its replies (json.dumps, compact)."""
    return json.dumps(value, separators=(",", ":")).encode()


def _envelope(request_id: bytes, result: bytes) -> bytes:
    """A success reply around a result already encoded: serve_one's result is the SDK's JSON-mode
    dump, and each era's encoder writes a nested object as it writes it alone, so this is byte for
    byte what encoding {"jsonrpc", "id", "result"} whole gives, without building and dumping a
    JSONRPCResponse of it a second time."""
    return b'{"jsonrpc":"2.0","id":' + request_id + b',"result":' + result + b"}"


def _modern_notification(decoded: dict[str, Any], request: Request) -> Reply:
    """Accepted (202) and dropped, as the SDK's entry does; refused if malformed or of an unserved version."""
    try:
        JSONRPCNotification.model_validate(decoded)
    except ValidationError:
        return _modern_reply(modern._INVALID_BODY)
    requested = request.headers.get(MCP_PROTOCOL_VERSION_HEADER, "")
    if (unsupported := unsupported_protocol_version_rejection(requested)) is not None:
        return _modern_rejection(unsupported, None)
    return 202, [], b""


def _modern_rejection(rejection: InboundLadderRejection, req: JSONRPCRequest | None) -> Reply:
    error = ErrorData(code=rejection.code, message=rejection.message, data=rejection.data)
    return _modern_reply(JSONRPCError(jsonrpc="2.0", id=None if req is None else req.id, error=error))


def _modern_reply(message: JSONRPCError) -> Reply:
    status = ERROR_CODE_HTTP_STATUS.get(message.error.code, 200)
    body = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    if message.id is None:
        body["id"] = None  # JSON-RPC wants `id: null` on the wire when the request id was unreadable
    return status, _JSON, json.dumps(body, separators=(",", ":")).encode()


# The 2025 handshake era, stateless, as mcp.server.streamable_http.StreamableHTTPServerTransport
# answers a POST in JSON mode under the session manager's stateless path.


async def _handshake_era(request: Request, body: bytes, version_hint: str | None) -> Reply:
    has_json, _ = check_accept_headers(request)
    if not has_json:
        return _handshake_error(406, INVALID_REQUEST, "Not Acceptable: Client must accept application/json")
    try:
        raw = pydantic_core.from_json(body)
    except ValueError as exc:
        return _handshake_error(400, PARSE_ERROR, f"Parse error: {exc}")
    try:
        message = jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except ValidationError as exc:
        return _handshake_error(400, INVALID_PARAMS, f"Validation error: {exc}")
    if not isinstance(message, JSONRPCRequest):
        # Notifications and responses: accepted. Nothing of ours acts on a client notification
        # in a stateless exchange (there is no session for `initialized` or a cancellation to reach).
        return 202, _JSON, b""
    version = version_hint or DEFAULT_NEGOTIATED_VERSION
    replay = list_replay.key_of(message.method, message.params, version)
    if (kept := list_replay.replayed(replay)) is not None:
        return 200, _JSON, _envelope(pydantic_core.to_json(message.id), kept)
    connection = Connection.from_envelope(version, None, None)
    dctx = modern._SingleExchangeDispatchContext(
        transport=TransportContext(kind="streamable-http", can_send_request=False),
        request_id=message.id,
        message_metadata=ServerMessageMetadata(request_context=request),
        progress_token=progress_token_from_params(message.params),
    )
    try:
        result = await _serve_one(dctx, message.method, message.params, connection)
    except Exception as exc:
        error = handler_exception_to_error_data(exc)
        if error is None:  # the SDK's dispatcher answers code 0 with the text (its "v1 compat")
            logger.exception("handler for %r raised", message.method)
            error = ErrorData(code=0, message=str(exc))
        return _handshake_reply(JSONRPCError(jsonrpc="2.0", id=message.id, error=error))
    # Encoded as _dump (pydantic's JSON) would encode the whole reply, byte for byte.
    encoded = pydantic_core.to_json(result)
    list_replay.keep(replay, encoded)
    return 200, _JSON, _envelope(pydantic_core.to_json(message.id), encoded)


def _handshake_error(status: int, code: int, message: str) -> Reply:
    return (
        status,
        _JSON,
        _dump(JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))),
    )


def _handshake_reply(message: JSONRPCError) -> Reply:
    return 200, _JSON, _dump(message)


def _dump(message: JSONRPCError) -> bytes:
    return message.model_dump_json(by_alias=True, exclude_unset=True).encode()
