"""The HTTP server as we run it (`python -m oneapp_site.server`, which `scripts/serve` and the README's
production command both run), over the wire: oversized headers are refused cheaply, clients that
send a request too slowly are disconnected, and SIGTERM ends the process within the graceful
timeout even with a call in flight to an upstream that does not answer."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from oneapp_site.server import PROTOCOL, HttpLimits, server_options
from tests.conftest import ACME_KEY
from tests.live_server import ROOT, UvicornProcess, free_port

# The command both scripts/serve and the production command run; its options come after.
COMMAND = [sys.executable, "-m", "oneapp_site.server"]
# Short limits, so that the tests stay fast; the defaults are checked below.
SHORT = {"SERVER_HEADER_TIMEOUT_SECONDS": "2", "SERVER_BODY_TIMEOUT_SECONDS": "2"}


class ServerProcess(UvicornProcess):
    """The application served by COMMAND (not plain uvicorn) in a process of its own."""

    command = (*COMMAND, "--host", "127.0.0.1")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """One server for the tests that need no tenant, with 2-second header and body timeouts."""
    process = ServerProcess(tmp_path_factory.mktemp("http-server") / "server.log", **SHORT)
    yield process
    process.stop()


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes the connection, and how long that took (None: it
    was still open after `seconds`)."""
    start = time.monotonic()
    received = b""
    while (left := start + seconds - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic() - start
        if not chunk:
            return received, time.monotonic() - start
        received += chunk
    return received, None


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, from a connection kept open."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    assert length is not None, head
    while len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
    return int(match.group(1)) if match else None


def get_healthz(extra_header: bytes = b"") -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_header + b"Connection: close\r\n\r\n"


# Header size


def test_a_1_mb_header_is_refused_with_431_at_once_and_the_worker_goes_on_serving(server):
    sock = server.connect()
    request = get_healthz(b"X-Padding: " + b"a" * 1_000_000 + b"\r\n")
    # Sent from a thread: the server answers (and stops reading) long before the last byte.
    sender = threading.Thread(target=lambda: _send_ignoring_resets(sock, request), daemon=True)
    start = time.monotonic()
    sender.start()
    response, closed_after = read_until_closed(sock, 5)
    elapsed = time.monotonic() - start
    sock.close()

    assert status_of(response) == 431, response[:200]
    assert b"connection: close" in response.lower()
    assert closed_after is not None
    assert elapsed < 2
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def _send_ignoring_resets(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server answered and closed before the last byte
        sock.sendall(data)


def test_headers_under_the_limit_are_served_even_when_they_arrive_with_a_large_body(server):
    # 30,000 header bytes (under the 32 KiB default), then a 512 KB body in the same writes: only the
    # header section counts.
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "pad": "' + b"p" * 512_000 + b'"}'
    request = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + b"X-Padding: "
        + b"b" * 30_000
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    with server.connect() as sock:
        sock.sendall(request)
        response, closed_after = read_until_closed(sock, 5)

    assert status_of(response) == 403, response[:300]  # the body was read, then X-Client-ID checked
    assert b'"MISSING_CLIENT_ID"' in response
    assert closed_after is not None


def test_keep_alive_requests_and_a_body_sent_in_pieces_are_served(server):
    with server.connect() as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status_of(read_response(sock)) == 200
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
        time.sleep(0.3)
        sock.sendall(b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        for piece in (body[:10], body[10:30], body[30:]):
            time.sleep(0.3)
            sock.sendall(piece)
        assert status_of(read_response(sock)) == 403


# Slow clients


def test_a_connection_that_sends_part_of_its_headers_then_nothing_is_closed_in_time(server):
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        response, closed_after = read_until_closed(sock, 6)

    assert closed_after is not None, "still open"
    assert 1.5 < closed_after < 4
    assert status_of(response) == 408


def test_a_connection_that_drips_its_headers_is_closed_2_s_after_it_began(server):
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ")
        start = time.monotonic()
        closed_after = None
        while time.monotonic() - start < 6:
            try:
                sock.sendall(b"a")  # one byte every quarter second, forever
            except OSError:
                closed_after = time.monotonic() - start
                break
            sock.settimeout(0.25)
            try:
                if sock.recv(65536) == b"":
                    closed_after = time.monotonic() - start
                    break
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed_after = time.monotonic() - start
                break

    assert closed_after is not None, "still open"
    assert 1.5 < closed_after < 4


def test_a_connection_that_sends_nothing_is_closed_in_time(server):
    with server.connect() as sock:
        response, closed_after = read_until_closed(sock, 6)

    assert closed_after is not None, "still open"
    assert 1.5 < closed_after < 4
    assert response == b""  # nothing was asked: nothing is answered


def test_a_connection_that_sends_headers_but_not_the_promised_body_is_closed_in_time(server):
    with server.connect() as sock:
        sock.sendall(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'X-Client-ID: acme\r\nContent-Length: 100\r\n\r\n{"jsonrpc": '
        )
        response, closed_after = read_until_closed(sock, 6)

    assert closed_after is not None, "still open"
    assert 1.5 < closed_after < 4
    assert status_of(response) == 408
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


# Shutdown


@pytest.mark.usefixtures("oneapp_tenant")
def test_sigterm_with_a_call_in_flight_to_an_upstream_that_never_answers_ends_it_with_a_503_in_time(
    fake_oneapp, tmp_path
):
    fake_oneapp.reply("/core-api/core/sucursales", body={"data": []}, delay=30)  # past the test's end
    server = ServerProcess(tmp_path / "server.log", SERVER_GRACEFUL_SHUTDOWN_SECONDS="2")
    try:
        headers = {
            "X-Client-ID": "acme",
            "Authorization": f"Bearer {ACME_KEY}",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
        }
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "core_list_sucursales"}}
        answered: list[httpx.Response | Exception] = []

        def in_flight() -> None:
            try:
                answered.append(httpx.post(server.url + "/mcp", json=call, headers=headers, timeout=20))
            except httpx.HTTPError as error:
                answered.append(error)

        caller = threading.Thread(target=in_flight, daemon=True)
        caller.start()
        deadline = time.monotonic() + 10
        while fake_oneapp.in_flight < 1:  # the call has reached the upstream, which holds it
            assert time.monotonic() < deadline, server.log
            time.sleep(0.02)

        start = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            exit_code = server.process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail("still running 8 s after SIGTERM, with a 2 s graceful timeout")
        took = time.monotonic() - start
        caller.join(timeout=5)
    finally:
        server.stop()

    assert took < 5, f"ended {took:.1f} s after SIGTERM"
    assert exit_code == -signal.SIGTERM  # uvicorn re-raises the signal once it has finished
    assert "timeout graceful shutdown exceeded" in server.log
    assert "Application shutdown complete." in server.log  # the pools were closed, as on any stop
    assert answered, "the caller got nothing at all"
    response = answered[0]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 503 and response.json()["code"] == "SHUTTING_DOWN"
    assert response.headers["Retry-After"] == "1"
    assert "Traceback" not in server.log and "Exception in ASGI application" not in server.log
    assert "a /mcp request was cancelled unfinished: the server is stopping" in server.log


# The commands


def test_the_defaults_are_the_safe_ones():
    limits = HttpLimits.from_environment({})
    assert 16 * 1024 <= limits.max_header_bytes <= 64 * 1024
    assert limits.header_timeout <= 30
    assert limits.body_timeout <= 60
    options = server_options({})
    assert options[options.index("--http") + 1] == PROTOCOL
    assert "--no-access-log" in options
    assert options[options.index("--timeout-graceful-shutdown") + 1] == "30"
    assert server_options({"SERVER_GRACEFUL_SHUTDOWN_SECONDS": "7"})[-2:] == [
        "--timeout-graceful-shutdown",
        "7",
    ]


def test_no_access_log_by_default_and_one_line_per_request_when_asked(server, tmp_path):
    # The access log costs a share of every request's CPU; operators count requests in /metrics.
    httpx.get(server.url + "/healthz", timeout=5).raise_for_status()
    logged = ServerProcess(tmp_path / "server.log", "--access-log")
    try:
        httpx.get(logged.url + "/healthz", timeout=5).raise_for_status()
        deadline = time.monotonic() + 5
        while '"GET /healthz HTTP/1.1" 200' not in logged.log:
            assert time.monotonic() < deadline, logged.log
            time.sleep(0.05)
    finally:
        logged.stop()
    assert "GET /healthz" not in server.log


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVER_MAX_HEADER_BYTES", "32k"),
        ("SERVER_MAX_HEADER_BYTES", "0"),
        ("SERVER_HEADER_TIMEOUT_SECONDS", "-1"),
        ("SERVER_BODY_TIMEOUT_SECONDS", "nan"),
        ("SERVER_GRACEFUL_SHUTDOWN_SECONDS", "2.5"),
    ],
)
def test_a_bad_limit_stops_the_command_with_its_name(name, value):
    env = {**os.environ, "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "oneapp_site.settings", name: value}
    run = subprocess.run(
        [*COMMAND, "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )

    assert run.returncode != 0
    assert name in run.stderr


def test_scripts_serve_and_the_documented_production_command_run_the_safe_server():
    serve = (ROOT / "scripts" / "serve").read_text()
    assert re.search(r"^exec \.venv/bin/python -m oneapp_site\.server ", serve, re.MULTILINE)
    readme = (ROOT / "README.md").read_text()
    production = readme[readme.index("## Production") :]
    production = production[: production.index("\n## ", 1)]
    command = re.search(r"```sh\n(.*?)```", production, re.DOTALL)
    assert command is not None
    assert ".venv/bin/python -m oneapp_site.server " in command.group(1)
    assert "uvicorn oneapp_site.asgi:application" not in command.group(1)


def test_a_malformed_encryption_key_stops_the_command_before_any_worker_starts(tmp_path):
    # Checked in each worker only, it restart-looped workers for good while the port took
    # connections that were never answered.
    port = free_port()
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "oneapp_site.settings",
        "SECRET_KEY": "test-http-server-process",
        "TOKEN_ENCRYPTION_KEYS": "not-a-fernet-key",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    run = subprocess.run(
        [*COMMAND, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode != 0
    assert "tenants.E002" in run.stderr and "not-a-fernet-key" not in run.stderr
    assert "Started parent process" not in run.stderr  # no worker was ever started
