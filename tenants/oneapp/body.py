"""Reading an upstream body incrementally, decompressed, and never past a size cap.

httpx's own decoders inflate each chunk in full (a 16 KiB gzip chunk may inflate to 16 MiB), so the
raw chunks are inflated here with zlib's `max_length`: at most one byte past the room left is ever
produced. Only the encodings the client asks for (ACCEPT_ENCODING) are read; anything else is refused.
"""

from __future__ import annotations

import zlib

import httpx

ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    pass


class UnreadableEncoding(Exception):
    """A Content-Encoding this client does not read, or a body that does not inflate."""


class _Inflater:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        # deflate is meant to be zlib-wrapped, but some servers send it raw; httpx tries both too.
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate `data`, producing at most room + 1 bytes (one more than fits means too large)."""
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error:
            if self._gzip or self._started:
                raise UnreadableEncoding(self.encoding) from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self._started = True
            return self.feed(data, room)
        self._started = True
        return out

    @property
    def complete(self) -> bool:
        return self._zlib.eof


def _inflater(headers: httpx.Headers) -> _Inflater | None:
    encodings = [value.strip().lower() for value in headers.get_list("content-encoding", split_commas=True)]
    encodings = [value for value in encodings if value not in ("", "identity")]
    if not encodings:
        return None
    if len(encodings) > 1 or encodings[0] not in ("gzip", "x-gzip", "deflate"):
        raise UnreadableEncoding(", ".join(encodings))
    return _Inflater(encodings[0])


async def read_capped(response: httpx.Response, cap: int, truncate: bool = False) -> bytes:
    """The body, decompressed, up to `cap` bytes. Past it: BodyTooLarge, or with `truncate` the first `cap`
    bytes. Stops reading at the cap: the rest is never received (the connection is then not reused)."""
    inflater = _inflater(response.headers)
    declared = response.headers.get("content-length", "")
    if inflater is None and declared.isdigit() and int(declared) > cap and not truncate:
        raise BodyTooLarge  # said so up front: not a byte of it need be read
    body = bytearray()
    async for chunk in response.aiter_raw():
        room = cap - len(body)
        data = inflater.feed(chunk, room) if inflater else chunk
        if len(data) > room:
            if not truncate:
                raise BodyTooLarge
            body += data[:room]
            break
        body += data
    else:
        if inflater and not inflater.complete:
            raise UnreadableEncoding(inflater.encoding)  # cut short: what came inflates to a part
    return bytes(body)
