"""The audit log's writer (mcp_endpoint/audit_trail.py): the buffer and its batches against the real
database, and one row per tool call made through the SDK's client against our /mcp under uvicorn."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from mcp import MCPError
from prometheus_client import REGISTRY

from mcp_endpoint import audit_trail
from mcp_endpoint.audit_trail import AuditBuffer, Pending, audit_buffer
from mcp_endpoint.audit_trail import insert as real_insert
from tenants.audit import ANONYMOUS, ToolCall
from tenants.models import ClientConfig
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, WRONG_SECRET_KEY, mcp_headers, tenant_settings
from tests.live_server import UvicornProcess
from tests.mcp_client import MODES, connect

SECRET_URL = "https://fotos.example.test/a.jpg?X-Amz-Signature=canary-signature-5b1e&size=2"


def audit_count(result: str) -> float:
    return REGISTRY.get_sample_value("oneapp_mcp_audit_records_total", {"result": result}) or 0.0


def pending(tool: str = "core_list_sucursales", outcome: str = "ok") -> Pending:
    return Pending(time.time(), tenant_settings(), ANONYMOUS, tool, outcome, 200, 0.0123, None)


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)


@pytest.fixture
def table_gone(transactional_db: None) -> Iterator[None]:
    """The audit table renamed away, so that every write to it fails in the database, then back."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tenants_toolcall RENAME TO tenants_toolcall_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE tenants_toolcall_away RENAME TO tenants_toolcall")


# The buffer


def test_a_flush_writes_the_buffer_in_batches_of_500(db, monkeypatch):
    buffer = AuditBuffer(capacity=2000, interval=3600)
    written = audit_count("written")
    for n in range(1200):
        buffer._pending.append(pending(tool=f"tool{n % 3}"))  # as add() does, without starting the thread
    batches: list[int] = []

    def insert(batch, using="default"):  # one statement each: an INSERT, or COPY on PostgreSQL
        batches.append(len(batch))
        real_insert(batch, using)

    monkeypatch.setattr(audit_trail, "insert", insert)
    assert buffer.flush() == 1200
    assert batches == [500, 500, 200]

    assert ToolCall.objects.count() == 1200
    assert set(ToolCall.objects.values_list("tool", flat=True)) == {"tool0", "tool1", "tool2"}
    assert audit_count("written") - written == 1200
    assert buffer.flush() == 0  # nothing left


def test_the_writer_thread_writes_what_is_added(transactional_db):
    buffer = AuditBuffer(capacity=100, interval=0.05)
    for _ in range(3):
        buffer.add(pending())
    wait_for(lambda: ToolCall.objects.count() == 3)
    row = ToolCall.objects.first()
    assert (row.client_id, row.tool, row.outcome, row.upstream_status) == (
        "acme",
        "core_list_sucursales",
        "ok",
        200,
    )
    assert row.duration_ms == pytest.approx(12.3)
    assert row.caller_kind == "none" and row.arguments is None
    buffer.stop()
    assert not buffer._thread.is_alive()


def test_a_full_buffer_drops_records_and_counts_them(db):
    buffer = AuditBuffer(capacity=3, interval=3600)
    dropped = audit_count("dropped_buffer_full")
    buffer._thread = threading.current_thread()  # counts as started: this test flushes by hand
    for _ in range(5):
        buffer.add(pending())

    assert audit_count("dropped_buffer_full") - dropped == 2
    assert buffer.flush() == 3
    assert ToolCall.objects.count() == 3


def test_when_the_database_fails_the_batch_is_dropped_and_counted(table_gone):
    buffer = AuditBuffer(capacity=100, interval=3600)
    buffer._thread = threading.current_thread()
    dropped = audit_count("dropped_database")
    for _ in range(4):
        buffer.add(pending())

    assert buffer.flush() == 0

    assert audit_count("dropped_database") - dropped == 4
    assert not buffer._pending  # dropped, not kept to grow without bound


# Through /mcp


def flush() -> int:
    return audit_buffer().flush()


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_call_through_the_sdk_client_is_one_row_with_who_what_and_how(
    live_server_url, fake_oneapp, mode
):
    fake_oneapp.reply(CORE + "/core/zonas", body=[{"id": 3}])
    before = time.time()
    async with connect(live_server_url, mode=mode) as client:
        await client.list_tools()  # not a tool call: no row
        result = await client.call_tool("core_list_zonas", {"zone_id": 3})
    assert result.is_error is False

    assert await sync_to_async(flush)() == 1
    [row] = [row async for row in ToolCall.objects.all()]
    assert (row.client_id, row.tool, row.outcome, row.upstream_status) == (
        "acme",
        "core_list_zonas",
        "ok",
        200,
    )
    assert (row.caller_kind, row.caller, row.caller_name, row.caller_client) == (
        "key",
        "omk_acme0key",
        "tests",
        "",
    )
    assert before <= row.at.timestamp() <= time.time()
    assert 0 < row.duration_ms < 20_000
    assert row.arguments is None  # the tenant does not store arguments


@pytest.mark.usefixtures("oneapp_tenant")
async def test_failures_refusals_and_bad_arguments_are_rows_with_their_outcome(live_server_url, fake_oneapp):
    await ClientConfig.objects.filter(client_id="acme").aupdate(allowed_tools=["core_list_sucursales"])
    fake_oneapp.reply(CORE + "/core/sucursales", status=503, body={"error": "down"})
    async with connect(live_server_url) as client:
        assert (await client.call_tool("core_list_sucursales", {})).is_error
        with pytest.raises(MCPError):  # not allowed for acme: -32602, as an unknown tool
            await client.call_tool("core_list_zonas", {})
        with pytest.raises(MCPError):
            await client.call_tool("no_such_tool", {})
        assert (await client.call_tool("core_list_sucursales", {"extra": 1})).is_error

    assert await sync_to_async(flush)() == 4
    rows = [(r.tool, r.outcome, r.upstream_status) async for r in ToolCall.objects.order_by("id")]
    assert rows == [
        ("core_list_sucursales", "status", 503),
        ("core_list_zonas", "refused", None),
        ("no_such_tool", "refused", None),
        ("core_list_sucursales", "invalid_arguments", None),
    ]


@pytest.mark.usefixtures("oneapp_tenant")
async def test_stored_arguments_keep_their_values_and_lose_anything_secret(live_server_url, fake_oneapp):
    await ClientConfig.objects.filter(client_id="acme").aupdate(audit_arguments=True)
    secret_search = f"{CANARY_TOKEN} and {ACME_KEY}"
    async with connect(live_server_url) as client:
        await client.call_tool("checklist_list_checks", {"search": secret_search, "page": 2})
        await client.call_tool(
            "moai_visapp_foto", {"foto_url": SECRET_URL, "criterios": [{"id": 1, "nombre": "limpieza"}]}
        )

    assert await sync_to_async(flush)() == 2
    first, second = [row.arguments async for row in ToolCall.objects.order_by("id")]
    assert first == {"search": "[redacted] and [redacted]", "page": 2, "limit": None}
    assert second["foto_url"] == "https://fotos.example.test/a.jpg?X-Amz-Signature=[redacted]&size=[redacted]"
    stored = repr([first, second])
    for secret in (CANARY_TOKEN.split()[1], ACME_KEY, "canary-signature-5b1e"):
        assert secret not in stored


@pytest.mark.usefixtures("oneapp_tenant")
async def test_a_failing_database_drops_the_record_and_the_client_gets_its_answer(
    live_server_url, fake_oneapp, table_gone
):
    dropped = audit_count("dropped_database")
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    assert result.is_error is False

    assert await sync_to_async(flush)() == 0
    assert audit_count("dropped_database") - dropped == 1


@pytest.mark.usefixtures("oneapp_tenant")
def test_shutdown_writes_the_records_still_buffered(transactional_db, tmp_path):
    # An hour between writes: only the lifespan shutdown can have written the row.
    server = UvicornProcess(tmp_path / "uvicorn.log", AUDIT_LOG_FLUSH_SECONDS="3600")
    try:
        headers = mcp_headers()
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "core_list_sucursales"}}
        assert httpx.post(server.url + "/mcp", json=body, headers=headers, timeout=10).status_code == 200
        assert ToolCall.objects.count() == 0

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == -signal.SIGTERM
    finally:
        server.stop()

    [row] = ToolCall.objects.all()
    assert (row.client_id, row.tool, row.caller, row.outcome) == (
        "acme",
        "core_list_sucursales",
        "omk_acme0key",
        "ok",
    )
    assert "Traceback" not in server.log


@pytest.mark.usefixtures("oneapp_tenant")
def test_refusals_at_the_door_are_counted_not_written(live_server_url):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "core_list_sucursales"}}
    refused = [
        httpx.post(
            live_server_url + "/mcp", json=body, headers=mcp_headers(key=WRONG_SECRET_KEY), timeout=10
        ),
        httpx.post(live_server_url + "/mcp", json=body, headers=mcp_headers(client_id="nobody"), timeout=10),
    ]
    assert [response.status_code for response in refused] == [401, 403]
    assert flush() == 0
    assert not ToolCall.objects.exists()
