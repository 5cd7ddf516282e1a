"""The OneApp catalog (tenants/oneapp/catalog.py) as MCP tools, and the one MCP server that serves them.

This is the only module that touches the SDK's tool internals (`FuncMetadata`, `ArgModelBase`:
not exported by `mcp.server.mcpserver`, but the only way to give a `Tool` a ready-made argument
model). tests/mcp_endpoint/test_tools.py pins their behaviour, so an SDK upgrade that changes
them fails there first.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, create_model

from mcp_endpoint import metrics
from mcp_endpoint.live_tenant import current_tenant
from tenants.oneapp.catalog import CATALOG, ToolSpec
from tenants.oneapp.client import UpstreamError

logger = logging.getLogger(__name__)

SERVER_NAME = "oneapp-mcp"


def _handler(spec: ToolSpec) -> Callable[..., Awaitable[CallToolResult]]:
    latency = metrics.UPSTREAM_SECONDS.labels(spec.name)

    async def call(ctx: Context, **values: Any) -> CallToolResult:
        tenant = current_tenant()
        path, query, body = spec.upstream_request(values)
        started = time.perf_counter()
        status: int | None = None
        outcome = "ok"
        try:
            status, data = await tenant.upstream.request(spec.method, spec.base, path, query, body)
        except UpstreamError as exc:
            status, outcome = exc.status, exc.kind
            raise ToolError(str(exc)) from None
        finally:
            seconds = time.perf_counter() - started
            # Labelled at the call, not ahead: only combinations that happen take memory.
            metrics.TOOL_CALLS.labels(tenant.client_id, spec.name, outcome).inc()
            if outcome != "busy":
                latency.observe(seconds)
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
        return _result(data)

    return call


def sdk_argument_model(model: type[BaseModel]) -> type[ArgModelBase]:
    """The catalog's argument model as the SDK's `FuncMetadata` wants it: same fields, same rules."""
    # ArgModelBase is one of the bases, which create_model's overloads cannot express for two of them.
    return cast(type[ArgModelBase], create_model(model.__name__, __base__=(model, ArgModelBase)))


def _tool(spec: ToolSpec) -> Tool:
    return Tool(
        fn=_handler(spec),
        name=spec.name,
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
        super().__init__(SERVER_NAME, tools=list(TOOLS), subscriptions=False)

    async def list_tools(self) -> list[MCPTool]:
        allowed = current_tenant().settings.tools
        tools = await super().list_tools()
        return tools if allowed is None else [tool for tool in tools if tool.name in allowed]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        allowed = current_tenant().settings.tools
        if allowed is not None and name not in allowed:
            raise ToolError(f"Unknown tool: {name}")  # as the SDK words a tool it does not have
        return await super().call_tool(name, arguments, context)


def _result(data: Any) -> CallToolResult:
    """The upstream JSON as text, and as structured content (objects as they are, anything else wrapped)."""
    text = json.dumps(data, ensure_ascii=False)
    structured = data if isinstance(data, dict) else {"result": data}
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
