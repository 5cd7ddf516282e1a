"""A fake OneApp: a real HTTP/1.1 server on 127.0.0.1 that records every request it receives."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a timeout test) closes the socket before the reply: expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str  # raw, as sent
    headers: dict[str, str]  # lowercase names
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None  # None: echo what was asked, as JSON
    content_type: str = "application/json"
    delay: float = 0.0
    # Held until as many requests as the barrier has parties wait on it (or its timeout breaks it):
    # a test's proof that the requests were all in flight at once.
    together: threading.Barrier | None = None


@dataclass
class FakeOneApp:
    received: list[Received] = field(default_factory=list)
    replies: dict[str, Reply] = field(default_factory=dict)  # by path; "*" for any
    connections: int = 0
    disconnections: int = 0  # connections that ended (the client closed them, or the server did)
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests it was answering at once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOneApp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, path: str, status: int = 200, body: Any = None, **kwargs: Any) -> None:
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        self.replies[path] = Reply(status, raw, **kwargs)

    def _record(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.replies.get(received.path) or self.replies.get("*") or Reply()

    def _answered(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _disconnected(self) -> None:
        with self._lock:
            self.disconnections += 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as OneApp does
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def setup(self) -> None:
                super().setup()
                fake._connected()

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    fake._disconnected()

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = fake._record(received)
                if reply.together is not None:
                    with contextlib.suppress(threading.BrokenBarrierError):
                        reply.together.wait()
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if body is None:
                    body = json.dumps(
                        {"method": received.method, "path": received.path, "query": received.params}
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    fake._answered()

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
