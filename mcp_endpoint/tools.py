"""The OneApp catalog (tenants/oneapp/catalog.py) as MCP tools, and the one MCP server that serves them.

This is the only module that touches the SDK's tool internals (`FuncMetadata`, `ArgModelBase`:
not exported by `mcp.server.mcpserver`, but the only way to give a `Tool` a ready-made argument
model). tests/mcp_endpoint/test_tools.py pins their behaviour, so an SDK upgrade that changes
them fails there first. It also drops the prompt and resource handlers the SDK's `MCPServer`
registers from the low-level server's `_request_handlers` (SDK 2.3.0): the SDK derives the advertised
capabilities from that table, and its `prompts/get` answered an unknown prompt with JSON-RPC code 0
and an ERROR traceback; unserved, both are -32601 (tests/mcp_endpoint/test_answers.py). An unknown
tool is -32602 here, where the SDK answers a tool result with isError.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, cast

from mcp import MCPError
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import INVALID_PARAMS, CallToolResult, ListToolsResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, ValidationError, create_model
from pydantic_core import ErrorDetails

from mcp_endpoint import audit_trail, budget, metrics
from mcp_endpoint.live_tenant import current_tenant, exposed_tools
from tenants.audit import INVALID_ARGUMENTS, REFUSED
from tenants.oneapp.catalog import CATALOG, ToolSpec
from tenants.oneapp.client import UpstreamError

logger = logging.getLogger(__name__)

SERVER_NAME = "oneapp-mcp"
MAX_LISTINGS = 1024  # distinct allow-lists whose tools/list answer is kept
# What the SDK's MCPServer always registers, but this server has nothing for: left out, they are
# neither advertised as capabilities nor answered (a request for them is -32601, method not found).
UNSERVED_METHODS = (
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
)


def project_version() -> str:
    """The version in pyproject.toml: from the installed distribution if there is one, else the file."""
    try:
        return installed_version(SERVER_NAME)
    except PackageNotFoundError:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])


def _handler(spec: ToolSpec) -> Callable[..., Awaitable[CallToolResult]]:
    latency = metrics.UPSTREAM_SECONDS.labels(spec.name)

    async def call(ctx: Context, **values: Any) -> CallToolResult:
        tenant = current_tenant()
        path, query, body = spec.upstream_request(values)
        started = time.perf_counter()
        status: int | None = None
        outcome = "ok"
        try:
            status, data = await tenant.upstream.request(
                spec.method, spec.base, path, query, body, template=spec.path
            )
        except UpstreamError as exc:
            status, outcome = exc.status, exc.kind
            raise ToolError(str(exc)) from None
        except Exception:
            outcome = "error"  # a fault the client does not know: never counted as ok
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"  # its client hung up, or the server is shutting down
            raise
        finally:
            seconds = time.perf_counter() - started
            # Labelled at the call, not ahead: only combinations that happen take memory.
            metrics.TOOL_CALLS.labels(tenant.client_id, spec.name, outcome).inc()
            if outcome != "busy":
                latency.observe(seconds)
            audit_trail.record(tenant.settings, spec.name, outcome, status, seconds, values)
            # DEBUG, not INFO: a line per call cost an eighth of the throughput. Operators count and
            # time calls by tenant, tool and outcome in the metrics (oneapp_mcp_tool_calls_total,
            # oneapp_mcp_upstream_seconds); LOG_LEVEL=DEBUG brings the lines back.
            logger.debug(
                "tool call tenant=%s tool=%s upstream_status=%s ms=%.1f",
                tenant.client_id,
                spec.name,
                status if status is not None else "-",
                seconds * 1000,
            )
        return _result(data, spec, values, budget.budget_chars(tenant.settings))

    return call


def sdk_argument_model(model: type[BaseModel]) -> type[ArgModelBase]:
    """The catalog's argument model as the SDK's `FuncMetadata` wants it: same fields, same rules."""
    # ArgModelBase is one of the bases, which create_model's overloads cannot express for two of them.
    return cast(type[ArgModelBase], create_model(model.__name__, __base__=(model, ArgModelBase)))


def _tool(spec: ToolSpec) -> Tool:
    return Tool(
        fn=_handler(spec),
        name=spec.name,
        title=spec.title,
        description=spec.description,
        parameters=spec.arguments.model_json_schema(by_alias=True),
        fn_metadata=FuncMetadata(arg_model=sdk_argument_model(spec.arguments)),
        is_async=True,
        context_kwarg="ctx",
        annotations=ToolAnnotations(
            read_only_hint=spec.read_only,
            destructive_hint=False,
            idempotent_hint=spec.read_only,
            open_world_hint=True,
        ),
    )


TOOLS: tuple[Tool, ...] = tuple(_tool(spec) for spec in CATALOG)


class OneAppServer(MCPServer):
    """One MCP server for every tenant: each request sees and may call only its tenant's tools."""

    def __init__(self) -> None:
        # No subscriptions: the catalog never changes while a request runs, and a listen stream would
        # hold its request open for good (the front door hands the SDK a body, not a connection).
        super().__init__(SERVER_NAME, version=project_version(), tools=list(TOOLS), subscriptions=False)
        handlers = self._lowlevel_server._request_handlers  # capabilities are derived from this table
        for method in UNSERVED_METHODS:
            handlers.pop(method, None)

        # tools/list answers, as the SDK dumps them, by allow-list (None: every tool).
        self._listings: dict[frozenset[str] | None, dict[str, Any]] = {}

    async def list_tools(self) -> list[MCPTool]:
        allowed = exposed_tools()
        tools = await super().list_tools()
        return tools if allowed is None else [tool for tool in tools if tool.name in allowed]

    async def _handle_list_tools(  # type: ignore[override]  # a dict result is the SDK's own dump, as serve_one takes it
        self, ctx: Any, params: Any
    ) -> dict[str, Any]:
        # The same answer for every tenant with the same allow-list: the SDK's ListToolsResult, built
        # and dumped once per allow-list. Building, validating and dumping the 18 tools' models on
        # every request was most of a tools/list's CPU.
        allowed = exposed_tools()
        listing = self._listings.get(allowed)
        if listing is None:
            result = ListToolsResult(tools=await self.list_tools())
            listing = result.model_dump(by_alias=True, mode="json", exclude_none=True)
            if len(self._listings) >= MAX_LISTINGS:  # as many allow-lists as tenants, at worst
                self._listings.clear()
            self._listings[allowed] = listing
        return dict(listing)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        tenant = current_tenant().settings
        allowed = exposed_tools()
        if self._tool_manager.get_tool(name) is None or (allowed is not None and name not in allowed):
            # A protocol error, as the spec has it since 2025-06-18 (Tools, "Error Handling": unknown
            # tools are -32602); SDK 2.3.0 answers a result with isError instead. A tool the tenant
            # does not expose is answered exactly as one that does not exist.
            audit_trail.record(tenant, name, REFUSED, None, 0.0, arguments)
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            audit_trail.record(tenant, name, INVALID_ARGUMENTS, None, 0.0, arguments)
            # The SDK's text is pydantic's (class names, input values, documentation links): one short
            # line per problem instead, saying what to send. The cause stays, for the SDK's own log line.
            tool = self._tool_manager.get_tool(name)
            schema = tool.parameters if tool is not None else {}
            problems = "\n".join(argument_problem(error, schema) for error in cause.errors())
            raise ToolError(f"Error executing tool {name}: {problems}") from cause


def _result(data: Any, spec: ToolSpec, values: dict[str, Any], budget_chars: int) -> CallToolResult:
    """The upstream JSON as text, and as structured content (objects as they are, anything else wrapped);
    cut to the response budget, with a note that says so (mcp_endpoint/budget.py)."""
    shaped, text = budget.fit(data, spec, values, budget_chars)
    structured = shaped if isinstance(shaped, dict) else {"result": shaped}
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def argument_problem(error: ErrorDetails, schema: Mapping[str, Any]) -> str:
    """One validation error as one line: where (`zone_id`, `areas_id[0]`) and what to send instead."""
    loc = error["loc"]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    field = _field_schema(schema, loc)
    message = _plain_message(error, field)
    return f"{where}: {message}" if where else message


def _field_schema(schema: Mapping[str, Any], loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The JSON schema of what `loc` points at (optional fields' null alternative left out)."""
    node: Any = schema
    for part in loc:
        if not isinstance(node, Mapping):
            return {}
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
        if isinstance(node, Mapping) and "anyOf" in node:
            node = next((option for option in node["anyOf"] if option.get("type") != "null"), {})
    return dict(node) if isinstance(node, Mapping) else {}


def _integer_rule(field: Mapping[str, Any]) -> str:
    low, high = field.get("minimum"), field.get("maximum")
    if low is not None and high is not None and high < 2**53:
        return f"must be an integer from {low} to {high}"
    return f"must be an integer ≥ {low}" if low is not None else "must be an integer"


def _plain_message(error: ErrorDetails, field: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown argument"
    if field.get("type") == "integer":  # wrong type, unparsable text, a boolean, or out of range
        return _integer_rule(field)
    if kind in ("too_short", "too_long", "list_type") and field.get("type") == "array":
        low, high = field.get("minItems"), field.get("maxItems")
        if low is not None and high is not None:
            return f"must be a list of {low} to {high} items"
        return "must be a list"
    if kind == "string_type":
        return "must be text"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {field.get('maxLength')} characters"
    if kind == "string_pattern_mismatch" and field.get("format") == "date":
        return "must be a date YYYY-MM-DD, e.g. 2024-01-31"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")  # our validators' own words
