"""Reading an upstream body incrementally, decompressed, and never past a size cap.

httpx's own decoders inflate each chunk in full (a 16 KiB gzip chunk may inflate to 16 MiB), so the
raw chunks are inflated here with zlib's `max_length`: at most one byte past the room left is ever
produced. Only the encodings the client asks for (ACCEPT_ENCODING) are read; anything else is refused.
"""

from __future__ import annotations

import array
import itertools
import zlib

import httpx

ACCEPT_ENCODING = "gzip, deflate"
# Deeper JSON is refused: the SDK's serialiser (pydantic) gives up at 255 levels, with an internal
# error for the model and a traceback in the log. OneApp's answers nest a handful of levels.
MAX_NESTING = 100
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 in, -1 out
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


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


def nested_too_deeply(body: bytes) -> bool:
    """Whether the arrays and objects of a JSON body nest more than MAX_NESTING deep.

    Counted in C: brackets are +1 and -1 steps, the depth their highest running sum, first with the
    brackets inside strings too; only a body that looks too deep so is counted again without its
    strings (slower), so that text such as "[[[" never gets an answer refused. A body built to hide
    its depth behind "]" in strings still meets the SDK's own limit, as an internal error."""
    if body.count(b"[") + body.count(b"{") <= MAX_NESTING or _depth(body) <= MAX_NESTING:
        return False
    # With escaped backslashes and quotes gone, every other piece between quotes is outside strings.
    outside = b"".join(body.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[0::2])
    return _depth(outside) > MAX_NESTING


def _depth(data: bytes) -> int:
    steps = array.array("b", data.translate(_STEPS, _NOT_BRACKETS))
    return max(itertools.accumulate(steps), default=0)
