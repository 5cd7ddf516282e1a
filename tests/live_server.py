"""Serve the real ASGI application with uvicorn, in a thread of this process or in processes of their own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UvicornThread:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def database_url() -> str:
    """The test database, as a URL another process can open."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class UvicornProcess:
    """`python -m uvicorn oneapp_site.asgi:application` in a process of its own, on the test database,
    with the real settings (not the test suite's); started when constructed, once /healthz answers."""

    command: ClassVar[tuple[str, ...]] = (sys.executable, "-m", "uvicorn", "oneapp_site.asgi:application")

    def __init__(self, log_path: Path, *options: str, workers: int = 1, **env: str) -> None:
        from django.conf import settings

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        # OpenTelemetry's variables only as a test gives them: a shell's collector gets no test traces.
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
        full_env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "oneapp_site.settings",
            "ENV_FILE": "",
            "SECRET_KEY": "test-uvicorn-process",
            "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
            "DATABASE_URL": database_url(),
            "LOG_LEVEL": "WARNING",
            **env,
        }
        if "PROMETHEUS_MULTIPROC_DIR" not in env:
            full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [*self.command, "--port", str(self.port), *options]
        if workers > 1:
            command += ["--workers", str(workers)]
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
            )
        # A bound, not an expectation: two workers take seconds to start, many more on a busy machine.
        deadline = time.monotonic() + 60
        while not answers(self.url + "/healthz"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise RuntimeError(self.log)
            time.sleep(0.1)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


# Headers of one hop (one connection and its framing): the proxy frames what it sends itself.
_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}


class HeaderAddingProxy:
    """A reverse proxy that adds fixed headers to every request, for clients that cannot send headers of
    their own (the MCP conformance suite). Everything else, Host and Origin included, passes as sent."""

    def __init__(self, target: str, headers: dict[str, str]) -> None:
        self.target = target
        self.added = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        self.server = UvicornThread(self)  # an ASGI application itself (a bound method would read as ASGI 2)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> HeaderAddingProxy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        replaced = {name for name, _ in self.added} | _HOP_BY_HOP
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in replaced]
        query = scope["query_string"].decode()
        url = self.target + scope["raw_path"].decode() + (f"?{query}" if query else "")
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.request(scope["method"], url, headers=headers + self.added, content=body)
        # httpx decodes a compressed body, so its Content-Encoding no longer applies either.
        dropped = _HOP_BY_HOP | {b"content-encoding"}
        passed = [(name, value) for name, value in response.headers.raw if name.lower() not in dropped]
        passed.append((b"content-length", str(len(response.content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": passed})
        await send({"type": "http.response.body", "body": response.content})
