"""The ASGI front door (mcp_endpoint/asgi.py) under uvicorn: what it leaves to Django, its last-resort 500,
and graceful shutdown of a real uvicorn process (SIGTERM drains the calls in flight, then the lifespan
shutdown closes every tenant's upstream pool, and uvicorn finishes)."""

import asyncio
import signal
import time

import httpx
import pytest
import uvicorn
from uvicorn.lifespan.on import LifespanOn

from mcp_endpoint import asgi as mcp_asgi
from mcp_endpoint.asgi import McpFrontDoor
from tests.helpers import ACME_KEY, CORE, INITIALIZE, mcp_headers
from tests.live_server import UvicornProcess
from tests.mcp_client import connect


@pytest.fixture
def uvicorn_process(transactional_db, tmp_path):
    """One uvicorn process (lifespan on, as by default) on the test database, logging at DEBUG."""
    server = UvicornProcess(
        tmp_path / "uvicorn.log",
        MCP_CHANGE_POLL_SECONDS="1",  # the poller runs, and must be stopped too
        LOG_LEVEL="DEBUG",
    )
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)


def assert_shut_down_cleanly(exit_code: int, log: str) -> None:
    """The lifespan shutdown completed and uvicorn finished, with nothing going wrong on the way."""
    # uvicorn (0.29 and later) re-raises the signal it stopped for once it has finished, so that
    # its parent sees why it ended: after a complete graceful shutdown the status is "killed by
    # SIGTERM" (143 in a shell), which systemd and Kubernetes count as a clean stop.
    assert exit_code == -signal.SIGTERM
    assert log.index("Application shutdown complete.") < log.index("Finished server process")
    assert "Traceback" not in log
    assert " ERROR " not in log and "ERROR:" not in log  # asyncio's "Task was destroyed" included


def assert_pool_closed_after_the_call(log: str) -> None:
    """acme's server, and with it its OneApp pool, was closed by the lifespan shutdown, after the call.

    (An earlier "closed" line can come from the first poll of the change feed, which replays
    acme's creation and so retires the server being built.)"""
    call_logged = log.index("tool call tenant=acme tool=core_list_sucursales upstream_status=200")
    closed_logged = log.index("closed the OneApp pool of tenant acme", call_logged)
    assert log.index("Waiting for application shutdown.") < closed_logged
    assert closed_logged < log.index("Application shutdown complete.")


async def until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("oneapp_tenant")
async def test_sigterm_lets_a_call_in_flight_finish_then_closes_the_pools_and_ends_the_process(
    uvicorn_process, fake_oneapp
):
    fake_oneapp.reply(CORE + "/core/sucursales", body={"data": [{"id": 1}]}, delay=1.5)

    async def call() -> object:
        async with connect(uvicorn_process.url) as client:
            # Listed first: otherwise the SDK lists the tools *after* the call, to validate its
            # result, and that new request would find the listening socket closed.
            await client.list_tools()
            return await client.call_tool("core_list_sucursales", {})

    in_flight = asyncio.create_task(call())
    await until(lambda: fake_oneapp.in_flight == 1)  # the call has reached OneApp and waits there
    uvicorn_process.process.send_signal(signal.SIGTERM)

    result = await asyncio.wait_for(in_flight, timeout=10)
    exit_code = await asyncio.to_thread(uvicorn_process.process.wait, 10)

    assert result.is_error is False
    assert result.structured_content == {"data": [{"id": 1}]}
    assert_shut_down_cleanly(exit_code, uvicorn_process.log)
    log = uvicorn_process.log
    assert log.index("Shutting down") < log.index("Waiting for connections to close.")
    assert_pool_closed_after_the_call(log)


@pytest.mark.usefixtures("oneapp_tenant")
def test_sigterm_on_an_idle_server_closes_the_cached_pools_and_ends_the_process(uvicorn_process):
    headers = {
        "X-Client-ID": "acme",
        "Authorization": f"Bearer {ACME_KEY}",
        "Accept": "application/json, text/event-stream",
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "core_list_sucursales"}}
    assert httpx.post(uvicorn_process.url + "/mcp", json=body, headers=headers, timeout=5).status_code == 200

    uvicorn_process.process.send_signal(signal.SIGTERM)

    assert_shut_down_cleanly(uvicorn_process.process.wait(timeout=10), uvicorn_process.log)
    assert_pool_closed_after_the_call(uvicorn_process.log)


class UnclosableCache:
    """A tenant cache whose shutdown fails (a pool that cannot be closed)."""

    async def aclose(self) -> None:
        raise RuntimeError("the MCP session manager of tenant acme stopped")


async def test_a_failure_while_closing_the_pools_is_reported_to_uvicorn_as_a_failed_shutdown(
    monkeypatch, caplog
):
    monkeypatch.setattr(mcp_asgi, "tenant_cache", UnclosableCache)
    config = uvicorn.Config(McpFrontDoor(django_app=None), lifespan="auto", log_config=None)
    lifespan = LifespanOn(config)

    await lifespan.startup()
    await lifespan.shutdown()

    # Raised instead, uvicorn's default ("auto") lifespan would log "ASGI 'lifespan' protocol
    # appears unsupported." at INFO, then "Application shutdown complete.".
    assert lifespan.shutdown_failed is True
    assert lifespan.error_occurred is False
    assert lifespan.should_exit is True
    assert "could not close every tenant's OneApp pool at shutdown" in caplog.text


def test_the_admin_still_goes_through_django(live_server_url):
    response = httpx.get(live_server_url + "/admin/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies


def test_an_unexpected_error_is_a_logged_500_without_a_traceback(live_server_url, monkeypatch, caplog):
    async def broken(request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("mcp_endpoint.asgi.answer", broken)
    response = httpx.post(live_server_url + "/mcp", headers=mcp_headers(), json=INITIALIZE)
    assert response.status_code == 500
    assert response.json() == {"error": "Internal error. It has been logged.", "code": "INTERNAL_ERROR"}
    assert "secret internals" in caplog.text
