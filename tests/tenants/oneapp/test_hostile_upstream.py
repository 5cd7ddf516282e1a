"""OneAppClient.request against a hostile OneApp on 127.0.0.1 (tests/tenants/oneapp/hostile.py).

Issue 9: unbounded bodies (item 6), a drip that outlives the timeout (item 7), echoes of the token
that escaped redaction (item 8), and failures that escaped the mapping or were told as timeouts
(item 9).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tenants.models import TenantSettings
from tenants.oneapp.client import OneAppClient, UpstreamError
from tests.helpers import tenant_settings
from tests.tenants.oneapp import hostile
from tests.tenants.oneapp.hostile import Behaviour, HostileUpstream

TOKEN = "Bearer Hx7qL2vNc9RtY4wZpK8sJd3fGm6bVa1e"  # random: no dictionary word to match by chance
SECRET = TOKEN.removeprefix("Bearer ")
MiB = 1 << 20
TOO_LARGE = (
    "OneApp's answer is larger than this client's limit of {}; ask for less (a filter or a smaller page)."
)


def settings(url: str, **fields: Any) -> TenantSettings:
    return tenant_settings("acme", url, **{"authorization": TOKEN, **fields})


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """serve(behaviour, tls=None, **tenant fields) -> (upstream, client); both closed after the test."""
    opened: list[tuple[HostileUpstream, OneAppClient]] = []

    async def start(
        behaviour: Behaviour, tls: Any = None, **fields: Any
    ) -> tuple[HostileUpstream, OneAppClient]:
        upstream = await hostile.HostileUpstream(behaviour, tls).start()
        client = OneAppClient(settings(upstream.url, **fields))
        opened.append((upstream, client))
        return upstream, client

    yield start
    for upstream, client in opened:
        await client.aclose()
        await upstream.close()


async def call(client: OneAppClient, within: float = 20) -> tuple[int, Any]:
    # A bound of the test's own, so that a call that never ends fails the test instead of hanging it.
    async with asyncio.timeout(within):
        return await client.request("GET", "core", "/core/sucursales", {})


async def failure(client: OneAppClient, within: float = 20) -> UpstreamError:
    with pytest.raises(UpstreamError) as excinfo:
        await call(client, within)
    return excinfo.value


def echoes(seen: str) -> list[str]:
    """Runs of 8 or more characters of SECRET in `seen`, in any case, with whitespace (or JSON's
    escaped whitespace) between them ignored: what a reader could put back together."""
    squeezed = re.sub(r"\s+|\\[nrt]", "", seen).lower()
    secret = SECRET.lower()
    return sorted({secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in squeezed})


class Ticker:
    """How long the event loop went without running a task that wants to run every 10 ms."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now


# Item 6: the body is read incrementally, decompressed, and never past the tenant's cap.


async def test_a_body_declared_larger_than_the_cap_is_refused_without_being_read(serve):
    body = b"[" + b"1," * (20 * MiB) + b"1]"  # 40 MiB of valid JSON
    upstream, client = await serve(hostile.answer(body))

    error = await failure(client)

    assert str(error) == TOO_LARGE.format("4 MiB")
    assert error.kind == "too_large"
    assert error.status == 200
    assert upstream.body_bytes_sent < 8 * MiB  # the client hung up; it did not read 40 MiB


async def test_a_huge_body_never_holds_the_event_loop(serve):
    ticker = Ticker()
    ticking = asyncio.create_task(ticker.run())
    _, client = await serve(hostile.endless_json(chunked=False))  # Content-Length: 1 TiB, then "[1,1,…"
    try:
        error = await failure(client)
    finally:
        ticking.cancel()
    assert error.kind == "too_large"
    assert ticker.longest < 1.0


async def test_an_endless_chunked_stream_stops_at_the_cap(serve):
    upstream, client = await serve(hostile.endless_json(chunked=True))
    started = time.perf_counter()

    error = await failure(client)

    assert str(error) == TOO_LARGE.format("4 MiB")
    assert time.perf_counter() - started < 10
    await asyncio.wait_for(upstream.client_went_away.wait(), 5)  # the connection was dropped, not drained
    assert upstream.body_bytes_sent < 16 * MiB  # the cap, and what the sockets' buffers took in


async def test_a_gzip_bomb_is_inflated_no_further_than_the_cap(serve):
    bomb, wire_size = hostile.gzip_bomb(inflated=128 * MiB)
    assert wire_size < MiB  # 128 MiB from about 128 KiB
    _, client = await serve(bomb)

    tracemalloc.start()
    try:
        error = await failure(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert str(error) == TOO_LARGE.format("4 MiB")
    assert peak < 12 * MiB  # not 128 MiB, nor a chunk's worth of inflation (16 KiB can make 16 MiB)


async def test_a_tenant_sets_its_own_cap(serve):
    _, small = await serve(hostile.answer(json.dumps(["x" * 1990]).encode()), max_response_bytes=2000)
    _, smaller = await serve(hostile.answer(json.dumps(["x" * 1990]).encode()), max_response_bytes=1000)

    assert await call(small) == (200, ["x" * 1990])
    assert str(await failure(smaller)) == TOO_LARGE.format("1000 bytes")


async def test_a_body_of_exactly_the_cap_is_read_and_one_byte_more_is_not(serve):
    exact = json.dumps(["y" * 1022]).encode()
    assert len(exact) == 1026
    _, at_cap = await serve(hostile.answer(exact), max_response_bytes=1026)
    _, over_cap = await serve(hostile.answer(exact), max_response_bytes=1025)

    assert await call(at_cap) == (200, ["y" * 1022])
    assert (await failure(over_cap)).kind == "too_large"


async def test_the_cap_counts_the_inflated_size_of_a_compressed_body(serve):
    data = [{"id": i, "nombre": "Sucursal Centro"} for i in range(200)]
    packed = gzip.compress(json.dumps(data).encode())
    inflated = len(json.dumps(data).encode())
    assert len(packed) < 1000 < inflated
    _, roomy = await serve(hostile.answer(packed, headers=[("Content-Encoding", "gzip")]))
    _, tight = await serve(
        hostile.answer(packed, headers=[("Content-Encoding", "gzip")]), max_response_bytes=1000
    )

    assert await call(roomy) == (200, data)
    assert (await failure(tight)).kind == "too_large"


async def test_an_error_answer_over_the_cap_is_still_an_error_with_its_start_shown(serve):
    _, client = await serve(
        hostile.answer(b"Mantenimiento " * 100_000, status=503, reason="Service Unavailable")
    )

    error = await failure(client)

    assert error.kind == "status"
    assert str(error).startswith("OneApp answered 503 Service Unavailable: Mantenimiento Mantenimiento")
    assert str(error).endswith("…")


# Item 7: http_timeout_ms is one deadline for the whole call.


async def test_a_body_dripped_a_byte_at_a_time_ends_at_the_deadline(serve):
    # 100 bytes, one every 0.1 s: each read is quick, the whole answer takes 10 s.
    _, client = await serve(hostile.drip(b"[" + b"1," * 49 + b"1]", every=0.1), http_timeout_ms=500)
    started = time.perf_counter()

    error = await failure(client)

    assert str(error) == "OneApp did not answer within 500 ms."
    assert error.kind == "timeout"
    assert time.perf_counter() - started < 2


async def test_a_status_line_and_headers_dripped_a_byte_at_a_time_end_at_the_deadline(serve):
    _, client = await serve(hostile.drip(b"[]", every=0.05, status_line_too=True), http_timeout_ms=500)
    started = time.perf_counter()

    error = await failure(client)

    assert str(error) == "OneApp did not answer within 500 ms."
    assert time.perf_counter() - started < 2


async def test_the_deadline_counts_the_wait_for_a_free_slot(serve):
    # One slot: the second call waits 0.35 s for it, then OneApp takes 0.35 s more. Each part is
    # within 500 ms; the whole call is not.
    _, client = await serve(hostile.late(0.35), http_timeout_ms=500, max_concurrent_calls=1)
    first = asyncio.create_task(call(client))
    await asyncio.sleep(0.05)
    started = time.perf_counter()

    error = await failure(client)

    assert (await first)[0] == 200
    assert str(error) == "OneApp did not answer within 500 ms."
    assert time.perf_counter() - started < 0.6


# Item 8: no echo of the token reaches the model or a log.

ECHOES = {
    "verbatim": TOKEN,
    "lower-cased": TOKEN.lower(),
    "upper-cased": SECRET.upper(),
    "split by a newline": SECRET[:13] + "\n" + SECRET[13:],
    "wrapped at 10 with spaces": " ".join(SECRET[i : i + 10] for i in range(0, len(SECRET), 10)),
    "long prefix": SECRET[:20] + "…",
    "long suffix": "…" + SECRET[-12:],
    "zero-width space": SECRET[:16] + "\u200b" + SECRET[16:],
}


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
async def test_a_success_body_never_carries_an_echo_of_the_token(serve, echo):
    body = {
        "debug": {"received": f"Authorization: {echo}", echo: "as a key"},
        "rows": [{"id": 1, "nombre": "Centro"}, {"id": 2, "note": f"seen {echo} here"}],
    }
    for ascii_only in (True, False):  # \u-escaped, or UTF-8 as it is
        _, client = await serve(hostile.answer(json.dumps(body, ensure_ascii=ascii_only).encode()))

        status, data = await call(client)

        assert status == 200
        seen = json.dumps(data, ensure_ascii=False)
        assert echoes(seen) == []
        assert "[redacted]" in data["debug"]["received"]
        assert data["rows"][0] == {"id": 1, "nombre": "Centro"}  # the rest as it was


async def test_an_echo_spelled_with_json_escapes_is_redacted_too(serve):
    spelled = "".join(f"\\u{ord(c):04x}" for c in SECRET)  # every character escaped
    _, client = await serve(hostile.answer(b'{"token": "' + spelled.encode() + b'"}'))

    assert await call(client) == (200, {"token": "[redacted]"})


async def test_a_body_that_only_looks_like_the_token_in_part_is_left_alone(serve):
    body = {"short": SECRET[:7], "other": "Hx7qL2v is not it", "n": 1234567}
    _, client = await serve(hostile.answer(json.dumps(body).encode()))

    assert await call(client) == (200, body)


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
async def test_an_error_body_never_carries_an_echo_of_the_token(serve, echo):
    _, client = await serve(
        hostile.answer(f"invalid token {echo} for acme".encode(), status=401, reason="Unauthorized")
    )

    error = await failure(client)

    assert str(error).startswith("OneApp answered 401 Unauthorized: invalid token ")
    assert echoes(str(error)) == []
    assert "[redacted]" in str(error)


async def test_the_reason_phrase_never_carries_the_token_to_the_model_or_the_log(serve, caplog):
    caplog.set_level(logging.DEBUG)
    _, client = await serve(hostile.answer(b"{}", status=401, reason=f"Bad token {SECRET.lower()}"))

    error = await failure(client)

    assert str(error) == "OneApp answered 401 Bad token [redacted]: {}"
    assert echoes(caplog.text) == []


# Item 9: every failure has its own true message and metric kind; none is told as a timeout.


async def test_too_many_headers_is_a_clear_error(serve, caplog):
    headers = [(f"X-Header-{i}", "v") for i in range(500)]
    _, client = await serve(hostile.raw(hostile.head(headers=headers, length=2) + b"[]"))

    error = await failure(client)

    assert (
        str(error)
        == f"OneApp at {host(client)} sent an answer that could not be read: it has too many headers."
    )
    assert error.kind == "bad_response"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_oversized_header_is_a_clear_error_that_does_not_repeat_it(serve):
    _, client = await serve(
        hostile.raw(hostile.head(headers=[("X-Echo", TOKEN + "v" * 100_000)], length=2) + b"[]")
    )

    error = await failure(client)

    assert (
        str(error)
        == f"OneApp at {host(client)} sent an answer that could not be read: a header line is too long."
    )
    assert error.kind == "bad_response"


async def test_a_malformed_status_line_is_a_clear_error(serve):
    _, client = await serve(hostile.raw(b"HTTP/1.1 abc\r\n\r\n"))

    error = await failure(client)

    assert (
        str(error)
        == f"OneApp at {host(client)} sent an answer that could not be read: its status line is malformed."
    )
    assert error.kind == "bad_response"


async def test_a_self_signed_certificate_is_told_as_such(serve):
    _, client = await serve(hostile.answer(b"[]"), tls=hostile.self_signed_tls())

    error = await failure(client)

    assert str(error) == (
        f"The TLS certificate of OneApp at {host(client)} could not be verified: self-signed certificate."
    )
    assert error.kind == "tls"


async def test_a_connection_reset_is_told_as_such(serve):
    _, client = await serve(hostile.reset_after_request())

    error = await failure(client)

    assert str(error) == f"The connection to OneApp at {host(client)} was reset."
    assert error.kind == "reset"


async def test_a_connection_closed_without_an_answer_is_told_as_such(serve):
    _, client = await serve(hostile.hang_up())

    error = await failure(client)

    assert str(error) == f"OneApp at {host(client)} closed the connection without answering."
    assert error.kind == "closed"


async def test_a_connection_closed_halfway_through_the_body_is_told_as_such(serve):
    _, client = await serve(hostile.hang_up(hostile.head(length=100) + b"[1, 2, "))

    error = await failure(client)

    assert str(error) == f"OneApp at {host(client)} closed the connection before its whole answer arrived."
    assert error.kind == "closed"


async def test_a_content_encoding_the_client_did_not_ask_for_is_a_clear_error(serve):
    _, client = await serve(hostile.answer(b"\x28\xb5\x2f\xfd", headers=[("Content-Encoding", "zstd")]))

    error = await failure(client)

    assert str(error) == "OneApp answered 200 in an encoding this client cannot read (zstd)."
    assert error.kind == "bad_response"


async def test_a_corrupt_gzip_body_is_a_clear_error(serve):
    header = gzip.compress(b"[]")[:10]
    invalid_block = b"\xff\xff\xff\xff"  # a final block of the reserved type 3: zlib refuses it
    _, client = await serve(hostile.answer(header + invalid_block, headers=[("Content-Encoding", "gzip")]))

    error = await failure(client)

    assert str(error) == "OneApp answered 200 in an encoding this client cannot read (gzip)."


async def test_a_gzip_body_cut_short_is_a_clear_error(serve):
    packed = gzip.compress(json.dumps(list(range(1000))).encode())
    _, client = await serve(
        hostile.answer(packed[: len(packed) // 2], headers=[("Content-Encoding", "gzip")])
    )

    error = await failure(client)

    assert str(error) == "OneApp answered 200 in an encoding this client cannot read (gzip)."


@pytest.mark.parametrize("depth", [101, 300, 100_000])
async def test_json_nested_too_deeply_is_a_clear_error(serve, depth):
    # The SDK's serialiser gives up at 255 levels; json.loads at about 1,000.
    _, client = await serve(hostile.answer(b"[" * depth + b"]" * depth))

    error = await failure(client)

    assert str(error) == "OneApp answered 200 with JSON nested more than 100 levels deep."
    assert error.kind == "not_json"


async def test_json_nested_100_deep_or_with_brackets_in_its_strings_is_read(serve):
    deep = json.loads("[" * 100 + "]" * 100)
    brackets = {"a": "[[[[" * 100, "b": [{"c": "{{{{" * 100}] * 200}
    _, at_limit = await serve(hostile.answer(json.dumps(deep).encode()))
    _, bracketed = await serve(hostile.answer(json.dumps(brackets).encode()))

    assert await call(at_limit) == (200, deep)
    assert await call(bracketed) == (200, brackets)


async def test_the_client_keeps_working_after_each_hostile_answer(serve):
    # A refused or abandoned answer costs its connection, never the pool.
    calls = 0

    async def first_huge_then_fine(exchange: hostile.Exchange) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await hostile.endless_json()(exchange)
        else:
            await hostile.answer(b'{"ok": true}')(exchange)

    upstream, client = await serve(first_huge_then_fine)

    assert (await failure(client)).kind == "too_large"
    assert await call(client) == (200, {"ok": True})
    assert upstream.connections == 2


def host(client: OneAppClient) -> str:
    return client.bases["core"].split("://", 1)[1]
