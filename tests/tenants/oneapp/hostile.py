"""A hostile OneApp: a raw asyncio HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose.

Each connection reads one request head and hands the connection to a *behaviour*, a coroutine that
writes whatever it likes (or nothing) and may never finish. The server runs on the test's own event
loop, so a test drives it and the client under test together; a behaviour may keep writing until the
client goes away, and the server notes how many body bytes went out before that happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import socket
import ssl
import struct
import tempfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Behaviour = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request as received, and the connection to answer it on."""

    head: bytes
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    upstream: HostileUpstream

    @property
    def request_headers(self) -> dict[str, str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)
        }

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        self.upstream.body_bytes_sent += len(data)


@dataclass
class HostileUpstream:
    behaviour: Behaviour
    tls: ssl.SSLContext | None = None
    connections: int = 0
    body_bytes_sent: int = 0  # every byte a behaviour wrote with Exchange.send
    client_went_away: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    async def start(self) -> HostileUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await self.behaviour(Exchange(head, reader, writer, self))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            self.client_went_away.set()  # the client hung up: what the slow behaviours wait for
        except asyncio.CancelledError:
            pass  # close() ends what is left; asyncio would log a cancelled handler as an error
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def hostile(behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> AsyncIterator[HostileUpstream]:
    upstream = await HostileUpstream(behaviour, tls).start()
    try:
        yield upstream
    finally:
        await upstream.close()


# Answers.


def head(
    status: int = 200, reason: str = "OK", headers: Iterable[tuple[str, str]] = (), length: int | None = None
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(
    body: bytes, status: int = 200, reason: str = "OK", headers: Iterable[tuple[str, str]] = ()
) -> Behaviour:
    """A well-formed answer with this body (whatever its size), then the connection stays open."""

    async def behaviour(exchange: Exchange) -> None:
        exchange.writer.write(head(status, reason, headers, len(body)))
        await exchange.send(body)
        await exchange.reader.read()  # keep-alive until the client closes

    return behaviour


def late(delay: float, body: bytes = b"[]") -> Behaviour:
    """A well-formed answer that starts only after `delay` seconds."""

    async def behaviour(exchange: Exchange) -> None:
        await asyncio.sleep(delay)
        await answer(body)(exchange)

    return behaviour


def endless_json(chunked: bool = True, piece: bytes = b"1," * 8192) -> Behaviour:
    """A JSON list that never ends: chunked, or with a Content-Length far beyond anything sane."""

    async def behaviour(exchange: Exchange) -> None:
        if chunked:
            exchange.writer.write(head(headers=[("Transfer-Encoding", "chunked")]))
            frame = b"%x\r\n%s\r\n" % (len(piece), piece)
        else:
            exchange.writer.write(head(length=1 << 40))
            frame = piece
        await exchange.send(b"1\r\n[\r\n" if chunked else b"[")
        while True:
            await exchange.send(frame)

    return behaviour


def gzip_bomb(inflated: int) -> tuple[Behaviour, int]:
    """A gzip-encoded JSON string that inflates to `inflated` bytes; returns the behaviour and its size on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"a" * (1 << 20)
    parts = [compressor.compress(b'"')]
    parts += [compressor.compress(block) for _ in range(inflated // len(block))]
    parts += [compressor.compress(b'"'), compressor.flush()]
    body = b"".join(parts)
    assert len(gzip.decompress(body)) == inflated // len(block) * len(block) + 2
    return answer(body, headers=[("Content-Encoding", "gzip")]), len(body)


def drip(data: bytes, every: float, status_line_too: bool = False) -> Behaviour:
    """An answer sent one byte at a time, `every` seconds apart (just the body, or the whole response)."""

    async def behaviour(exchange: Exchange) -> None:
        prefix = head(length=len(data))
        dripped = prefix + data if status_line_too else data
        if not status_line_too:
            exchange.writer.write(prefix)
        for byte in dripped:
            await exchange.send(bytes([byte]))
            await asyncio.sleep(every)
        await exchange.reader.read()

    return behaviour


def hang_up(after: bytes = b"") -> Behaviour:
    """Send `after` (nothing, or the start of an answer), then close the connection cleanly."""

    async def behaviour(exchange: Exchange) -> None:
        exchange.writer.write(after)
        await exchange.writer.drain()

    return behaviour


def reset_after_request() -> Behaviour:
    """Read the request, then abort the connection with a TCP reset (SO_LINGER 0), answering nothing."""

    async def behaviour(exchange: Exchange) -> None:
        sock = exchange.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        exchange.writer.transport.abort()

    return behaviour


def raw(data: bytes) -> Behaviour:
    """Send these bytes as they are, then keep the connection open."""

    async def behaviour(exchange: Exchange) -> None:
        exchange.writer.write(data)
        await exchange.writer.drain()
        await exchange.reader.read()

    return behaviour


# TLS with a certificate nobody signed.


def self_signed_tls() -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context.load_cert_chain(cert_file, key_file)
    return context
