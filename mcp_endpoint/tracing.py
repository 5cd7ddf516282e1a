"""OpenTelemetry traces of /mcp requests, exported over OTLP/HTTP when an endpoint is configured.

Off (no OTLP endpoint, the default), nothing is installed: `active()` is false, the request path
skips its span, and the OneApp client and the database wrapper see no recording span and do
nothing. On, each worker installs its own provider at start (the lifespan; uvicorn's workers are
separate processes) and flushes it at shutdown. A /mcp request is then one trace:

    the caller's span (a `traceparent` header, else `params._meta.traceparent`)
      └ POST /mcp (ours: tenant, status, outcome) ─ database queries (the tenant's lookup)
          └ tools/call <tool> (the MCP SDK's own span) ─ GET <OneApp path template> (tenants/oneapp)

The exporter, sampler, batching and resource read the standard `OTEL_*` variables themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mcp_endpoint.exchange import McpRequest
from mcp_endpoint.live_tenant import current_tenant
from mcp_endpoint.tools import project_version

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

TENANT_ID = "oneapp.tenant.id"  # the client id (X-Client-ID) of the tenant a request was served for
OUTCOME = "oneapp.mcp.outcome"  # as the requests metric counts it: a refusal's code, or MCP_<status>
SERVICE_NAME = "oneapp-mcp"

# W3C trace context only: a caller's baggage is neither read nor passed on to OneApp.
_W3C = TraceContextTextMapPropagator()
_TRACE_KEYS = frozenset(("traceparent", "tracestate"))
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
_DB_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "oracle": "oracle.db"}
_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"([^"]+)"')

_tracer = trace.get_tracer(__name__)
_provider: TracerProvider | None = None  # once started (the SDK is imported only then)


def active() -> bool:
    """Whether this process exports traces (its provider was started)."""
    return _provider is not None


def start() -> bool:
    """Install this process's provider and exporter, if an OTLP endpoint is configured. Idempotent."""
    global _provider
    if _provider is not None or not settings.TRACING_ENABLED:
        return _provider is not None
    # Imported here: a process that does not trace never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.util.re import parse_env_headers

    resource = Resource.create({"service.version": project_version()})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))  # OTEL_SERVICE_NAME wins
    provider = TracerProvider(resource=resource)
    # As settings read them, which may be from files (the exporter reads only the variables).
    exporter = OTLPSpanExporter(
        endpoint=settings.OTEL_TRACES_ENDPOINT,
        headers=dict(parse_env_headers(settings.OTEL_TRACES_HEADERS, liberal=True)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    connection_created.connect(_wrap_queries, dispatch_uid="mcp_endpoint.tracing")
    for connection in connections.all(initialized_only=True):
        _wrap_queries(connection.__class__, connection)
    return True


def stop() -> None:
    """Export what is left and stop exporting (blocking: at most the exporter's timeout)."""
    if _provider is not None:
        _provider.shutdown()


# The request's span


@contextmanager
def request_span(request: McpRequest) -> Iterator[Span]:
    """The server span of one /mcp request, continuing the caller's trace if it sent one."""
    method = request.method if request.method in _METHODS else "_OTHER"
    attributes = {
        "http.request.method": method,
        "http.route": "/mcp",
        "url.path": "/mcp",
        "url.scheme": str(request.scope.get("scheme", "http")),
    }
    with _tracer.start_as_current_span(
        f"{method} /mcp",
        context=_caller_context(request),
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,  # an exception's text is nobody's business outside this process
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise


def answered(span: Span, status: int, outcome: str) -> None:
    span.set_attribute("http.response.status_code", status)
    span.set_attribute(OUTCOME, outcome)
    if status >= 500:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)


def note_tenant(client_id: str) -> None:
    """Name the tenant on the request's span (once it is known to exist: never a client's guess)."""
    if _provider is not None:
        trace.get_current_span().set_attribute(TENANT_ID, client_id)


def _caller_context(request: McpRequest) -> Context:
    """The caller's trace: its `traceparent` header; else the protocol's `params._meta.traceparent`
    (MCP's convention, SEP-414), read from the body only if the bytes are there; else a new trace."""
    if "traceparent" in request.headers:
        context = _W3C.extract(request.headers)
        if _valid(context):
            return context
    if b"traceparent" in request.body:
        context = _W3C.extract(_meta_trace_keys(request.body))
        if _valid(context):
            return context
    return Context()


def _meta_trace_keys(body: bytes) -> dict[str, str]:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {key: value for key, value in meta.items() if key in _TRACE_KEYS and isinstance(value, str)}


def _valid(context: Context) -> bool:
    return trace.get_current_span(context).get_span_context().is_valid


def without_trace_context(params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The params without `_meta.traceparent`/`tracestate` while tracing: the request's span has
    taken the caller's trace already, so the SDK's span nests under it instead of beside it."""
    if _provider is None or not params:
        return params
    meta = params.get("_meta")
    if not isinstance(meta, dict) or not _TRACE_KEYS & meta.keys():
        return params
    return {**params, "_meta": {key: value for key, value in meta.items() if key not in _TRACE_KEYS}}


class TenantOnSdkSpans(ServerMiddleware[Any]):
    """Names the tenant on the MCP SDK's span of each message too (its OpenTelemetry middleware is
    first in the chain, so this runs inside that span)."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        note_tenant(current_tenant().client_id)
        return await call_next(ctx)


# Database queries: Django's own hook on every connection, whatever the backend. Written here rather
# than taken from two instrumentation packages (psycopg's and sqlite3's, both beta) to keep one small
# rule: a span only inside a traced request, with the SQL as Django sends it (placeholders, never values).


def _wrap_queries(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if _trace_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_trace_query)


def _trace_query(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    if not trace.get_current_span().is_recording():  # the change feed's polling, the admin
        return execute(sql, params, many, context)
    vendor = context["connection"].vendor
    operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    table = _TABLE.search(sql)
    attributes = {
        "db.system.name": _DB_SYSTEMS.get(vendor, "other_sql"),
        "db.operation.name": operation,
        "db.query.text": sql,
    }
    if table:
        attributes["db.collection.name"] = table.group(1)
    name = f"{operation} {table.group(1)}" if table else attributes["db.system.name"]
    with _tracer.start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise
