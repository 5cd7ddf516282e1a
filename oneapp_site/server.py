"""How oneapp-mcp is served: `python -m oneapp_site.server [uvicorn options]`.

This is uvicorn's own command line for `oneapp_site.asgi:application` with safe defaults put first
(any option given after them wins), so that `scripts/serve` and the production command are both
safe by default:

- `--http oneapp_site.server:GuardedHttpToolsProtocol`: uvicorn's httptools protocol (its fastest)
  with the limits uvicorn lacks. uvicorn puts no bound on a request's header section with httptools
  (64 MB was accepted; 128 MB took 31 s to parse, as the parser grows it by concatenation), and none
  on the time a client may take to send its headers or its body, with either parser (its keep-alive
  timeout only runs between requests). This protocol refuses a header section over
  `SERVER_MAX_HEADER_BYTES` with 431 before the parser sees the excess, closes a connection that has
  not delivered a request's headers `SERVER_HEADER_TIMEOUT_SECONDS` after it opened or after the
  request's first byte (408 if it sent part of one), and closes one that has not delivered the body
  its headers promised `SERVER_BODY_TIMEOUT_SECONDS` after them (408).
- `--timeout-graceful-shutdown 30`: on SIGTERM, requests still running after 30 s are cancelled, so
  the process ends in bounded time whatever the upstreams do.
- `--no-access-log`: uvicorn's access log formats and writes a line per request on the event loop
  (with the per-call INFO line, now at DEBUG, it cost 12-14 % of tool-call throughput); the
  Prometheus metrics count every request by tenant and outcome instead. `--access-log` turns it on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn.main
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from mcp_endpoint.quiet_log import QuietLog

APPLICATION = "oneapp_site.asgi:application"
PROTOCOL = "oneapp_site.server:GuardedHttpToolsProtocol"
GRACEFUL_SHUTDOWN_SECONDS = 30

logger = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class HttpLimits:
    """How much, and how slowly, a client may send a request. Read from the environment."""

    max_header_bytes: int = 32 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # After a refusal (431), how long the connection keeps reading and dropping what the client is
    # still sending, so that the client reads the refusal instead of a reset.
    linger: float = 1.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> HttpLimits:
        return cls(
            max_header_bytes=int(
                _positive(environ, "SERVER_MAX_HEADER_BYTES", cls.max_header_bytes, integer=True)
            ),
            header_timeout=_positive(environ, "SERVER_HEADER_TIMEOUT_SECONDS", cls.header_timeout),
            body_timeout=_positive(environ, "SERVER_BODY_TIMEOUT_SECONDS", cls.body_timeout),
        )


def _positive(environ: Mapping[str, str], name: str, default: float, integer: bool = False) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, not {raw!r}")
    return value


# A flood of slow or oversized requests must not become a flood of log lines: one per kind and 10 s.
_quiet = QuietLog(logger, interval=10.0)


def _say(message: str) -> None:
    _quiet.log(logging.WARNING, message, message)


# Called for every request: named directly, as zero-argument super() costs about 0.5 µs a call on 3.11.
_parse = HttpToolsProtocol.data_received


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a bound on the header section's size and on the time a
    client may take to send a request's headers, then its body.

    The size is counted here, on the bytes given to the parser, not by the parser's callbacks: they
    see a header only once httptools has assembled it, which is where the cost is."""

    limits: ClassVar[HttpLimits | None] = None  # per process, read at the first connection

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        cls = type(self)
        if cls.limits is None:
            cls.limits = HttpLimits.from_environment()
        self.max_header_bytes = cls.limits.max_header_bytes
        self.header_timeout = cls.limits.header_timeout
        self.body_timeout = cls.limits.body_timeout
        self.linger = cls.limits.linger
        # Bytes the current header section may still take; None while a body is being read.
        self.header_budget: int | None = self.max_header_bytes
        self.deadline: asyncio.TimerHandle | None = None
        self.deadline_for_body = False
        self.refused = False

    # The connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a request is held no longer than one that sends it slowly.
        self._arm(self.header_timeout, self._headers_timed_out, for_body=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        budget = self.header_budget
        if budget is not None and len(data) <= budget and not self.refused:
            # The usual case: all of it may still belong to the header section.
            self.header_budget = budget - len(data)
            _parse(self, data)
        else:
            self._receive_past_the_budget(data)
        if self.header_budget != self.max_header_bytes:  # not between two requests
            self._watch_the_request_being_read()

    def _receive_past_the_budget(self, data: bytes) -> None:
        if self.refused:
            return  # lingering after a refusal: dropped unread
        while True:
            budget = self.header_budget
            if budget is None or len(data) <= budget:
                if budget is not None:
                    self.header_budget = budget - len(data)
                super().data_received(data)
                return
            # More bytes than the header section may still take: give the parser only those, and
            # the rest once they have ended it.
            head, data = data[:budget], data[budget:]
            self.header_budget = 0
            if head:
                super().data_received(head)
                if self.transport.is_closing():
                    return
            if self.header_budget == 0:
                self._refuse_oversized_headers()
                return

    def _watch_the_request_being_read(self) -> None:
        """A request is being read (its headers or its body): make sure a deadline runs for it. It
        runs from the first byte of the headers (or the opening of the connection), and from the end
        of the headers for the body; a request read whole in one go never sets one."""
        if self.refused or self.transport.is_closing():
            return
        if self.header_budget is None:
            if not self.deadline_for_body:
                self._arm(self.body_timeout, self._body_timed_out, for_body=True)
        elif self.header_budget < self.max_header_bytes and self.deadline is None:
            self._arm(self.header_timeout, self._headers_timed_out, for_body=False)

    # Parser callbacks

    def on_headers_complete(self) -> None:
        self.header_budget = None
        if self.deadline is not None:
            self._disarm()
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self.header_budget = self.max_header_bytes
        if self.deadline is not None:
            self._disarm()
        HttpToolsProtocol.on_message_complete(self)

    # Deadlines

    def _arm(self, seconds: float, callback: Callable[[], None], for_body: bool) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, callback)
        self.deadline_for_body = for_body

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.deadline_for_body = False

    def _handed_over(self) -> bool:
        """The connection is closing, or has been handed to another protocol (a WebSocket)."""
        return self.transport.is_closing() or self.transport.get_protocol() is not self

    def _headers_timed_out(self) -> None:
        self.deadline = None
        if self._handed_over():
            return
        cycle: RequestResponseCycle | None = self.cycle  # None until the first request's headers
        if cycle is not None and not cycle.response_complete:
            # The next request's headers are late while a response is being made (pipelining):
            # that response is finished, then the connection closed.
            cycle.keep_alive = False
            return
        _say("Closed a connection that sent no headers within SERVER_HEADER_TIMEOUT_SECONDS")
        if self.header_budget is not None and self.header_budget < self.max_header_bytes:
            self._send_error(408, b"Request headers were not received in time.\n")
        self.transport.close()

    def _body_timed_out(self) -> None:
        self.deadline = None
        self.deadline_for_body = False
        if self._handed_over():
            return
        _say("Closed a connection that sent no body within SERVER_BODY_TIMEOUT_SECONDS (408)")
        cycle: RequestResponseCycle | None = self.cycle
        if cycle is not None and not cycle.response_started:
            # To the application the client has gone (its receive() answers http.disconnect, its
            # sends are dropped); the client is told why.
            cycle.disconnected = True
            cycle.message_event.set()
            self._send_error(408, b"The request body was not received in time.\n")
        self.transport.close()

    # Refusals

    def _refuse_oversized_headers(self) -> None:
        _say("Refused request headers larger than SERVER_MAX_HEADER_BYTES (431)")
        self._disarm()
        self.refused = True
        cycle: RequestResponseCycle | None = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined request, while the one before is being answered: that answer is
            # finished, then the connection closed; what else comes is dropped.
            cycle.keep_alive = False
            return
        self._send_error(431, b"Request header fields too large.\n")
        # Read on for a moment, dropping what arrives, so that a client still sending its headers
        # reads the 431 before the close, which would otherwise reach it as a reset.
        try:
            self.transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):  # TLS transports cannot half-close
            self.transport.close()
            return
        self.loop.call_later(self.linger, self.transport.close)

    def _send_error(self, status: int, message: bytes) -> None:
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(message)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                message,
            ]
        )
        self.transport.write(b"".join(content))


def server_options(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The options put before the command's own: the guarded protocol, no access log, and the
    graceful timeout (`SERVER_GRACEFUL_SHUTDOWN_SECONDS`, or 30). Raises ValueError for a bad limit."""
    HttpLimits.from_environment(environ)
    seconds = _positive(environ, "SERVER_GRACEFUL_SHUTDOWN_SECONDS", GRACEFUL_SHUTDOWN_SECONDS, integer=True)
    return ["--http", PROTOCOL, "--no-access-log", "--timeout-graceful-shutdown", str(int(seconds))]


def _check_before_serving() -> None:
    """Run Django's system checks once, here: each worker runs them too (oneapp_site/asgi.py), but a
    worker that stops on an error (a malformed TOKEN_ENCRYPTION_KEYS) is restarted by uvicorn's
    supervisor for good, while the port takes connections that never get an answer."""
    import django
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    django.setup()
    try:
        call_command("check")
    except SystemCheckError as error:
        sys.exit(f"oneapp_site.server: not starting.\n{error}")


def main(argv: Sequence[str] | None = None) -> None:
    """uvicorn's command line for the application, with the safe defaults first."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")
    # Loading the settings reads .env into the environment, as every worker will: check the limits
    # now, so that a bad value stops the command instead of failing every connection.
    from django.conf import settings

    settings.DEBUG  # noqa: B018 - the access loads the settings
    try:
        options = server_options()
    except ValueError as error:
        sys.exit(f"oneapp_site.server: {error}")
    _check_before_serving()
    arguments = list(sys.argv[1:] if argv is None else argv)
    uvicorn.main.main(args=[APPLICATION, *options, *arguments], prog_name="python -m oneapp_site.server")


if __name__ == "__main__":
    main()
