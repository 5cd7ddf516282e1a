"""Where a tools/call's CPU goes, layer by layer, in one process (no HTTP server), in both protocol eras.

Each figure is the process CPU of one request, sequential, median over alternating rounds:
- ours, through the ASGI front door; the bare SDK app, through its own ASGI app;
- `sdk.exchange` alone (the entry's checks, the SDK's dispatch, the tool and its OneApp call),
  which both share: the bare app serves the same tools through the same SDK server;
- the same three for a 2025-06-18 tools/call (`*_2025`), where the bare app's SDK runs a session
  manager per request;
- an unserved method (the SDK's dispatch and nothing else) and a replayed tools/list (the entry's
  checks and nothing else) through `sdk.exchange`;
- the tool's OneApp call alone (OneAppClient.request).
uvicorn's share (parsing, the event loop) is the same for both apps and is not in these figures.

Usage (bench/run.py runs it with its database and the fast fake OneApp, which the tenant uses too):
    BENCH_UPSTREAM=http://127.0.0.1:PORT python bench/layers.py CLIENT_ID ACCESS_KEY   (prints JSON)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import django
import uvloop

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")
django.setup()

from mcp_endpoint import audit_trail, sdk  # noqa: E402

RECORD = audit_trail.record  # the bare app's module turns the audit log off for the whole process

import bare_app  # noqa: E402  # bench/: run as a script, this folder is on sys.path
from run import HANDSHAKE, MODERN, TOOL, Client  # noqa: E402

from mcp_endpoint.audit_trail import audit_buffer  # noqa: E402
from mcp_endpoint.cache import tenant_cache  # noqa: E402
from oneapp_site.asgi import application  # noqa: E402
from tenants.oneapp.catalog import CATALOG  # noqa: E402

ROUNDS = 7
CALLS = 1000
Scope = dict[str, Any]


def request(client: Client, method: str, era: str = MODERN) -> tuple[Scope, bytes]:
    headers = {**client.headers(method, era), "Host": "127.0.0.1:8000"}
    body = client.body(method, era).encode()
    headers["Content-Length"] = str(len(body))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    return scope, body


async def through_asgi(app: Any, scope: Scope, body: bytes) -> None:
    """One request as uvicorn hands it over: the body, then (after the answer) the hang-up."""
    answered = asyncio.Event()
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] not in (200, 404):
            raise RuntimeError(f"answered {message['status']}")
        if message["type"] == "http.response.body":
            answered.set()

    await app(scope, receive, send)


async def cpu_us(step: Callable[[], Awaitable[Any]]) -> float:
    """CPU per call of `step`, the audit log's writing included: what the calls left in its buffer
    is written before the clock stops, so that a later step is not charged with it."""
    for _ in range(CALLS // 10):  # warm
        await step()
    await write_audit_log()
    started = time.process_time()
    for _ in range(CALLS):
        await step()
    await write_audit_log()
    return (time.process_time() - started) / CALLS * 1e6


async def write_audit_log() -> None:
    """What the audit log's buffer holds, written as its writer thread writes it: off the event loop,
    where Django refuses database calls (a flush from here raised, and dropped the records)."""
    await asyncio.to_thread(audit_buffer().flush)


async def measure(client_id: str, key: str) -> dict[str, float]:
    ours, bare = Client("", client_id, key), Client("")
    call, unserved, listing = (request(ours, m) for m in ("tools/call", "ping", "tools/list"))
    bare_call = request(bare, "tools/call")
    call_2025, bare_call_2025 = request(ours, "tools/call", HANDSHAKE), request(bare, "tools/call", HANDSHAKE)
    await tenant_cache().aget(client_id)

    async def exchange(scope: Scope, body: bytes) -> None:
        live = await tenant_cache().aget(client_id)
        assert live is not None
        async with live.serving():
            await sdk.exchange(scope, body)

    spec = next(spec for spec in CATALOG if spec.name == TOOL)
    path, query, payload = spec.upstream_request({})

    async def upstream_call() -> None:
        live = await tenant_cache().aget(client_id)
        assert live is not None
        await live.upstream.request(spec.method, spec.base, path, query, payload, template=spec.path)

    # name: (one request, whether its tool calls are written to the audit log: ours only)
    steps: dict[str, tuple[Callable[[], Awaitable[Any]], bool]] = {
        "ours": (lambda: through_asgi(application, *call), True),
        "bare": (lambda: through_asgi(bare_app.app, *bare_call), False),
        "exchange": (lambda: exchange(*call), False),
        "unserved": (lambda: exchange(*unserved), False),
        "replayed_list": (lambda: exchange(*listing), False),
        "upstream_call": (upstream_call, False),
        "ours_2025": (lambda: through_asgi(application, *call_2025), True),
        "bare_2025": (lambda: through_asgi(bare_app.app, *bare_call_2025), False),
        "exchange_2025": (lambda: exchange(*call_2025), False),
    }
    figures: dict[str, list[float]] = {name: [] for name in steps}
    async with bare_app.sdk_app.router.lifespan_context(bare_app.sdk_app):
        for number in range(ROUNDS):
            for name, (step, audited) in list(steps.items())[:: 1 if number % 2 == 0 else -1]:
                audit_trail.record = RECORD if audited else bare_app.no_record
                figures[name].append(await cpu_us(step))
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    client_id, key = sys.argv[1], sys.argv[2]
    print(json.dumps(uvloop.run(measure(client_id, key))), flush=True)
    os._exit(0)  # the bare app's session manager and the tenants' pools need no orderly close here


if __name__ == "__main__":
    main()
