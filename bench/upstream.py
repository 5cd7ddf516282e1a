"""A fast fake OneApp for benchmarks: one fixed JSON answer, HTTP/1.1 keep-alive, optional delay.

Hand-written on asyncio because the benchmark needs an upstream that is never the bottleneck.
Usage: python bench/upstream.py PORT [DELAY_SECONDS]
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

BODY = b'{"data": [{"id": 1, "nombre": "Sucursal Centro"}, {"id": 2, "nombre": "Sucursal Norte"}]}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class OneApp(asyncio.Protocol):
    delay = 0.0
    connections = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        OneApp.connections += 1
        # A stream server (create_server) hands its protocols a Transport, which can write.
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.buffer = self.buffer[length:]
            if head.startswith(b"GET /__connections"):
                body = str(OneApp.connections).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            elif self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def main(port: int, delay: float) -> None:
    OneApp.delay = delay
    server = await asyncio.get_running_loop().create_server(OneApp, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
