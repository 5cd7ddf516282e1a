"""Send N tool calls at once over N pre-opened connections; print the wall time until the last answer.

A raw asyncio client, so that the client itself costs next to nothing next to the server.
Usage: python bench/burst.py URL CALLS HEADERS_JSON BODY_JSON   (prints JSON)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def burst(url: str, calls: int, headers: dict[str, str], body: bytes) -> dict[str, object]:
    parts = urlsplit(url)
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    connections = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(calls)]
    started = time.perf_counter()
    answers = await asyncio.gather(*(call(r, w, request) for r, w in connections), return_exceptions=True)
    wall = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    failures = [
        repr(answer)[:200]
        for answer in answers
        if isinstance(answer, BaseException) or answer[0] != 200 or b'"isError":true' in answer[1]
    ]
    return {"calls": calls, "wall_s": wall, "failures": len(failures), "first_failure": failures[:1]}


if __name__ == "__main__":
    url, calls, headers, body = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4].encode()
    print(json.dumps(asyncio.run(burst(url, calls, headers, body))))
