"""What the model sees when OneApp misbehaves: the SDK's MCP client, our /mcp under uvicorn, and a
hostile OneApp on 127.0.0.1 (tests/tenants/oneapp/hostile.py); and how each failure is counted.

Issue 9, items 6 to 9, end to end; the client's own tests are in test_hostile_upstream.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from mcp_endpoint import metrics
from tenants.oneapp.client import OneAppClient
from tests.helpers import ACME_KEY, give_key
from tests.mcp_client import connect
from tests.tenants.oneapp import hostile
from tests.tenants.oneapp.hostile import Behaviour
from tests.tenants.oneapp.test_hostile_upstream import SECRET, TOKEN, echoes

TOOL = "core_list_sucursales"
PREFIX = f"Error executing tool {TOOL}: "


@pytest.fixture
async def acme_upstream(transactional_db, make_tenant) -> AsyncIterator[Callable[..., Any]]:
    """acme_upstream(behaviour, **tenant fields): tenant "acme" (key ACME_KEY) with OneApp misbehaving so."""
    started: list[hostile.HostileUpstream] = []

    async def start(behaviour: Behaviour, tls: Any = None, **fields: Any) -> hostile.HostileUpstream:
        upstream = await hostile.HostileUpstream(behaviour, tls).start()
        started.append(upstream)
        tenant = await sync_to_async(make_tenant)(
            "acme", core_base_url=upstream.url, client_base_url=upstream.url, authorization=TOKEN, **fields
        )
        await sync_to_async(give_key)(tenant, ACME_KEY)
        return upstream

    yield start
    for upstream in started:
        await upstream.close()


def counted(outcome: str) -> float:
    return metrics.TOOL_CALLS.labels("acme", TOOL, outcome)._value.get()


async def call_tool(live_server_url: str, within: float = 30) -> Any:
    async with asyncio.timeout(within), connect(live_server_url) as client:
        return await client.call_tool(TOOL, {})


async def test_the_model_never_sees_an_echo_of_the_token_in_a_success_answer(live_server_url, acme_upstream):
    body = [
        {"id": 1, "nombre": "Centro", "debug": f"auth={TOKEN.lower()}"},
        {"id": 2, "nombre": "Norte", SECRET[:14] + "\n" + SECRET[14:]: True},
    ]
    await acme_upstream(hostile.answer(json.dumps(body).encode(), reason=f"OK {SECRET}"))

    result = await call_tool(live_server_url)

    assert result.is_error is False
    seen = result.content[0].text + json.dumps(result.structured_content)
    assert echoes(seen) == []
    assert result.structured_content == {
        "result": [
            {"id": 1, "nombre": "Centro", "debug": "auth=bearer [redacted]"},
            {"id": 2, "nombre": "Norte", "[redacted]": True},
        ]
    }


async def test_an_answer_over_the_cap_reaches_the_model_as_an_error_naming_the_cap(
    live_server_url, acme_upstream
):
    before = counted("too_large")
    await acme_upstream(hostile.endless_json())

    result = await call_tool(live_server_url)

    assert result.is_error is True
    assert result.content[0].text == PREFIX + (
        "OneApp's answer is larger than this client's limit of 4 MiB; ask for less (a filter or a smaller page)."
    )
    assert counted("too_large") == before + 1


async def test_the_cap_set_on_the_tenant_is_the_one_applied(live_server_url, acme_upstream):
    await acme_upstream(hostile.answer(json.dumps(["x" * 2000]).encode()), max_response_bytes=1024)

    result = await call_tool(live_server_url)

    assert "larger than this client's limit of 1 KiB;" in result.content[0].text


async def test_a_drip_ends_at_the_tenants_timeout(live_server_url, acme_upstream):
    await acme_upstream(hostile.drip(b"[" + b"1," * 99 + b"1]", every=0.1), http_timeout_ms=500)
    started = time.perf_counter()

    result = await call_tool(live_server_url)

    assert result.content[0].text == PREFIX + "OneApp did not answer within 500 ms."
    assert time.perf_counter() - started < 5  # a session's setup, and half a second for the call


@pytest.mark.parametrize(
    ("behaviour", "message", "outcome"),
    [
        (
            hostile.raw(hostile.head(headers=[(f"X-Header-{i}", "v") for i in range(500)], length=2) + b"[]"),
            "OneApp at {host} sent an answer that could not be read: it has too many headers.",
            "bad_response",
        ),
        (
            hostile.raw(hostile.head(headers=[("X-Echo", TOKEN + "v" * 100_000)], length=2) + b"[]"),
            "OneApp at {host} sent an answer that could not be read: a header line is too long.",
            "bad_response",
        ),
        (hostile.reset_after_request(), "The connection to OneApp at {host} was reset.", "reset"),
        (hostile.hang_up(), "OneApp at {host} closed the connection without answering.", "closed"),
    ],
    ids=["too-many-headers", "oversized-header", "reset", "closed"],
)
async def test_each_failure_has_its_own_message_and_outcome_and_no_error_log(
    live_server_url, acme_upstream, caplog, behaviour, message, outcome
):
    caplog.set_level(logging.DEBUG)
    before, ok_before = counted(outcome), counted("ok")
    upstream = await acme_upstream(behaviour)

    result = await call_tool(live_server_url)

    host = upstream.url.split("://")[1]
    assert result.is_error is True
    assert result.content[0].text == PREFIX + message.format(host=host)
    assert (counted(outcome), counted("ok")) == (before + 1, ok_before)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert echoes(caplog.text) == []  # aiohttp's own message quotes the oversized header, token and all


async def test_a_self_signed_certificate_is_told_to_the_model_as_such(live_server_url, acme_upstream):
    before = counted("tls")
    upstream = await acme_upstream(hostile.answer(b"[]"), tls=hostile.self_signed_tls())

    result = await call_tool(live_server_url)

    host = upstream.url.split("://")[1]
    assert result.content[0].text == (
        PREFIX + f"The TLS certificate of OneApp at {host} could not be verified: self-signed certificate."
    )
    assert counted("tls") == before + 1


async def test_json_too_deep_for_the_sdk_reaches_the_model_as_a_tool_error(
    live_server_url, acme_upstream, caplog
):
    # json.loads reads 300 levels; the SDK's serialiser would fail on them with an internal error.
    await acme_upstream(hostile.answer(b"[" * 300 + b"]" * 300))

    result = await call_tool(live_server_url)

    assert (
        result.content[0].text == PREFIX + "OneApp answered 200 with JSON nested more than 100 levels deep."
    )
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_a_failure_the_client_did_not_foresee_is_counted_as_an_error_not_ok(
    live_server_url, acme_upstream, monkeypatch
):
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(OneAppClient, "request", broken)
    before, ok_before = counted("error"), counted("ok")
    await acme_upstream(hostile.answer(b"[]"))

    result = await call_tool(live_server_url)

    assert result.is_error is True
    assert (counted("error"), counted("ok")) == (before + 1, ok_before)
