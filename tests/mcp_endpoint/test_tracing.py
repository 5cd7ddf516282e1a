"""Traces (mcp_endpoint/tracing.py) as a real uvicorn process exports them to a real OTLP/HTTP receiver
on 127.0.0.1: one trace per /mcp request, from the caller's span to the OneApp call, and no secret in it.

The servers batch for a minute (OTEL_BSP_SCHEDULE_DELAY), so what the receiver holds after they stop
is what each worker's lifespan shutdown flushed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import context, trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from mcp_endpoint import tracing
from mcp_endpoint.exchange import McpRequest
from tests.fake_upstream import FakeOneApp
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, mcp_headers
from tests.live_server import UvicornProcess
from tests.mcp_client import connect
from tests.otlp_receiver import TRACES_PATH, OtlpReceiver, ReceivedSpan

SERVER = Span.SpanKind.SPAN_KIND_SERVER
CLIENT = Span.SpanKind.SPAN_KIND_CLIENT
# The callers' own spans, which our traces must continue.
HEADER_CALLER = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1))
META_CALLER = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1))
SUBGERENCIA_ID = 424242  # a value in a path: only its template may be traced
SEARCH_CANARY = "query-canary-5e1d"  # a query value: never traced


def traceparent(caller: SpanContext) -> str:
    return f"00-{caller.trace_id:032x}-{caller.span_id:016x}-01"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    otlp = OtlpReceiver().start()
    yield otlp
    otlp.stop()


def serve(tmp_path: Any, receiver: OtlpReceiver, workers: int = 1, **env: str) -> UvicornProcess:
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "60000", **env}
    return UvicornProcess(tmp_path / "uvicorn.log", workers=workers, **otel)


def call_tool(url: str, name: str, arguments: dict[str, Any], **headers: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return httpx.post(url + "/mcp", json=body, headers={**mcp_headers(), **headers}, timeout=30)


async def call_with_the_sdk_client_in(caller: SpanContext, url: str) -> None:
    """The SDK's client, called inside the caller's span: it puts the span in `params._meta`."""
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(caller)))
    try:
        async with connect(url) as client:
            result = await client.call_tool("core_list_sucursales", {})
            assert not result.is_error
    finally:
        context.detach(token)


def the_one(spans: list[ReceivedSpan], **where: Any) -> ReceivedSpan:
    found = [span for span in spans if all(getattr(span, name) == value for name, value in where.items())]
    assert len(found) == 1, (where, [(span.name, span.parent_span_id) for span in spans])
    return found[0]


def test_a_tool_call_is_one_trace_from_the_callers_span_to_oneapp(
    oneapp_tenant: Any, fake_oneapp: FakeOneApp, receiver: OtlpReceiver, tmp_path: Any
) -> None:
    server = serve(tmp_path, receiver, workers=2)  # each worker starts its own provider
    try:
        by_header = call_tool(
            server.url,
            "core_list_zonas_by_subgerencia",
            {"id": SUBGERENCIA_ID},
            traceparent=traceparent(HEADER_CALLER),
        )
        asyncio.run(call_with_the_sdk_client_in(META_CALLER, server.url))
        searched = call_tool(server.url, "checklist_list_checks", {"search": SEARCH_CANARY})
    finally:
        server.stop()
    assert by_header.status_code == searched.status_code == 200
    assert "error" not in by_header.json() and "error" not in searched.json()

    # The caller's header: its span → ours → the SDK's → the OneApp call, which OneApp was told of.
    spans = [span for span in receiver.spans if span.trace_id == f"{HEADER_CALLER.trace_id:032x}"]
    request = the_one(spans, kind=SERVER, parent_span_id=f"{HEADER_CALLER.span_id:016x}")
    assert request.name == "POST /mcp"
    assert request.scope == "mcp_endpoint.tracing"
    assert request.attributes["oneapp.tenant.id"] == "acme"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["oneapp.mcp.outcome"] == "MCP_200"
    assert request.resource["service.name"] == "oneapp-mcp"
    sdk = the_one(spans, parent_span_id=request.span_id, scope="mcp-python-sdk")
    assert sdk.name == "tools/call core_list_zonas_by_subgerencia"
    assert sdk.kind == SERVER
    assert sdk.attributes["mcp.method.name"] == "tools/call"
    assert sdk.attributes["gen_ai.tool.name"] == "core_list_zonas_by_subgerencia"
    assert sdk.attributes["oneapp.tenant.id"] == "acme"
    upstream = the_one(spans, parent_span_id=sdk.span_id)
    assert upstream.name == f"GET {CORE}/core/subgerencias/{{id}}/zonas"
    assert upstream.kind == CLIENT
    assert upstream.attributes["url.template"] == f"{CORE}/core/subgerencias/{{id}}/zonas"
    assert upstream.attributes["http.request.method"] == "GET"
    assert upstream.attributes["http.response.status_code"] == 200
    zonas = next(each for each in fake_oneapp.received if each.path.endswith("/zonas"))
    assert zonas.headers["traceparent"] == upstream.traceparent

    # The caller's span in `params._meta` (the SDK's client puts it there, in each of its requests:
    # server/discover, then tools/call): the same shape of trace.
    spans = [span for span in receiver.spans if span.trace_id == f"{META_CALLER.trace_id:032x}"]
    sdk = the_one(spans, name="tools/call core_list_sucursales")
    request = the_one(spans, span_id=sdk.parent_span_id)
    assert (request.name, request.kind) == ("POST /mcp", SERVER)
    assert request.parent_span_id == f"{META_CALLER.span_id:016x}"
    upstream = the_one(spans, parent_span_id=sdk.span_id)
    assert upstream.name == f"GET {CORE}/core/sucursales"
    sucursales = next(each for each in fake_oneapp.received if each.path.endswith("/core/sucursales"))
    assert sucursales.headers["traceparent"] == upstream.traceparent

    # Without a caller's span: a trace of our own, its OneApp call named by the path alone.
    request = the_one(receiver.spans, kind=SERVER, parent_span_id="", name="POST /mcp")
    checks = the_one(receiver.spans, trace_id=request.trace_id, kind=CLIENT, scope="tenants.oneapp.client")
    assert checks.name == "GET /front/api/checklist/data/checks"

    # Each worker's first request for acme looked the tenant up: its queries are spans of that request.
    queries = [span for span in receiver.spans if "db.system.name" in span.attributes]
    assert queries
    servers = {span.span_id for span in receiver.spans if span.name == "POST /mcp"}
    for query in queries:
        assert query.parent_span_id in servers
        assert query.attributes["db.system.name"] in ("sqlite", "postgresql")
        assert "acme" not in query.attributes["db.query.text"]  # Django sends the values apart
    assert any("%s" in query.attributes["db.query.text"] for query in queries)  # as placeholders
    assert any(query.attributes.get("db.collection.name") == "tenants_clientconfig" for query in queries)

    assert_no_secret_in(receiver)
    assert "Traceback" not in server.log


def assert_no_secret_in(receiver: OtlpReceiver) -> None:
    exported = b"".join(receiver.raw)
    for secret in (CANARY_TOKEN, CANARY_TOKEN.split()[1], ACME_KEY, ACME_KEY[13:], SEARCH_CANARY):
        assert secret.encode() not in exported, secret
    assert str(SUBGERENCIA_ID).encode() not in exported


def test_refused_requests_are_traced_and_name_only_real_tenants(
    oneapp_tenant: Any, receiver: OtlpReceiver, tmp_path: Any
) -> None:
    # The collector's credentials, from a file (as a secret is mounted): sent, and never in a span.
    (tmp_path / "otlp-headers").write_text("authorization=Bearer%20collector-canary-31f4")
    server = serve(tmp_path, receiver, OTEL_EXPORTER_OTLP_HEADERS_FILE=str(tmp_path / "otlp-headers"))
    try:
        wrong = call_tool(server.url, "core_list_sucursales", {}, Authorization="Bearer omk_wrong")
        unknown = call_tool(server.url, "core_list_sucursales", {}, **{"X-Client-ID": "nobody"})
    finally:
        server.stop()
    assert wrong.status_code == 401 and unknown.status_code == 403
    requests = [span for span in receiver.spans if span.name == "POST /mcp"]
    assert len(requests) == 2
    for span in requests:
        assert span.status_code == Status.StatusCode.STATUS_CODE_UNSET  # a refusal is not our failure
    refused_key, unknown_id = sorted(requests, key=lambda span: span.attributes["http.response.status_code"])
    assert refused_key.attributes["http.response.status_code"] == 401
    assert refused_key.attributes["oneapp.mcp.outcome"] == "INVALID_ACCESS_KEY"
    assert refused_key.attributes["oneapp.tenant.id"] == "acme"
    assert unknown_id.attributes["http.response.status_code"] == 403
    assert unknown_id.attributes["oneapp.mcp.outcome"] == "UNKNOWN_CLIENT"
    assert "oneapp.tenant.id" not in unknown_id.attributes  # a client's guess is not a tenant
    # Besides them, only their lookups' queries: the list of known ids and acme's row (both on
    # tenants_clientconfig) and keys (the key check needs none); none for the unknown id, which the
    # list already refuses. (acme may be looked up twice: the change feed's first poll replays its
    # creation.)
    queries = {request.span_id: set() for request in requests}
    for span in receiver.spans:
        if span not in requests:
            queries[span.parent_span_id].add(span.name)
    assert queries[refused_key.span_id] == {"SELECT tenants_clientconfig", "SELECT tenants_accesskey"}
    assert queries[unknown_id.span_id] == set()
    assert {headers["authorization"] for headers in receiver.headers} == {"Bearer collector-canary-31f4"}
    assert b"collector-canary-31f4" not in b"".join(receiver.raw)
    assert_no_secret_in(receiver)


def test_a_failed_oneapp_call_is_an_error_in_its_span_and_the_sdks(
    oneapp_tenant: Any, fake_oneapp: FakeOneApp, receiver: OtlpReceiver, tmp_path: Any
) -> None:
    fake_oneapp.reply(f"{CORE}/core/sucursales", status=503, body={"detail": CANARY_TOKEN})
    # The traces' own endpoint this time: used as it is given.
    traces_url = receiver.endpoint + TRACES_PATH
    server = serve(
        tmp_path, receiver, OTEL_EXPORTER_OTLP_ENDPOINT="", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=traces_url
    )
    try:
        response = call_tool(server.url, "core_list_sucursales", {})
    finally:
        server.stop()
    assert response.json()["result"]["isError"] is True
    upstream = the_one(receiver.spans, kind=CLIENT, name=f"GET {CORE}/core/sucursales")
    assert upstream.status_code == Status.StatusCode.STATUS_CODE_ERROR
    assert upstream.attributes["error.type"] == "503"
    assert upstream.attributes["http.response.status_code"] == 503
    sdk = the_one(receiver.spans, span_id=upstream.parent_span_id)
    assert (sdk.attributes["error.type"], sdk.status_code) == (
        "tool_error",
        Status.StatusCode.STATUS_CODE_ERROR,
    )
    request = the_one(receiver.spans, span_id=sdk.parent_span_id)
    assert request.status_code == Status.StatusCode.STATUS_CODE_UNSET  # the request itself was answered
    assert_no_secret_in(receiver)  # OneApp's answer quoted the token: the span holds no text of it


@pytest.mark.parametrize(
    "off",
    [{"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, {"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}],
)
def test_without_an_endpoint_or_when_turned_off_nothing_is_traced(
    off: dict[str, str], oneapp_tenant: Any, fake_oneapp: FakeOneApp, receiver: OtlpReceiver, tmp_path: Any
) -> None:
    server = serve(tmp_path, receiver, **off)
    try:
        response = call_tool(server.url, "core_list_sucursales", {}, traceparent=traceparent(HEADER_CALLER))
    finally:
        server.stop()
    assert response.status_code == 200 and "error" not in response.json()
    assert receiver.raw == []
    assert "traceparent" not in fake_oneapp.received[-1].headers


def caller_of(headers: dict[str, str], meta: Any) -> SpanContext:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}})
    scope = {"type": "http", "headers": [(name.encode(), value.encode()) for name, value in headers.items()]}
    return trace.get_current_span(
        tracing._caller_context(McpRequest.from_scope(scope, body.encode()))
    ).get_span_context()


def test_the_callers_header_wins_over_its_meta_and_a_malformed_one_is_passed_over() -> None:
    header, meta = traceparent(HEADER_CALLER), {"traceparent": traceparent(META_CALLER)}
    assert caller_of({"traceparent": header}, meta).span_id == HEADER_CALLER.span_id
    assert caller_of({"traceparent": "00-garbage"}, meta).span_id == META_CALLER.span_id
    assert caller_of({}, meta).span_id == META_CALLER.span_id
    for malformed in ({"traceparent": 5}, {"traceparent": ["x"]}, {"traceparent": "00-0-0-01"}, "text", None):
        assert not caller_of({"traceparent": "ff-" + header[3:]}, malformed).is_valid  # a new trace
