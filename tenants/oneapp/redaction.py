"""Keeping a tenant's OneApp token out of everything a model or a log sees.

OneApp may echo the token it was sent: whole, in another case, wrapped over lines, or cut short.
`Redactor` replaces each echo with `[redacted]`. What counts as an echo:

- Only the credential matters: the header value without its scheme word (`Bearer`), compared
  without regard to ASCII case.
- Whitespace, control and non-ASCII characters, `"` and `\\` between its characters are ignored
  ("gaps"): a token wrapped over two lines, or split by a zero-width space, is still one echo.
- Any run of at least 8 consecutive characters of the credential is an echo, so a long prefix or
  suffix is caught too. A shorter fragment of a random token of usual length (32 characters or
  more) leaves too much unknown to matter, while 8 given characters of it turn up in an answer by
  chance about once in 36**8 (3e12); a dictionary word in a token (`upstream`) is redacted wherever
  it appears, which is harmless. A credential of 8 characters or fewer is redacted only whole; one
  over 131 characters (a JWT) in runs of ceil((length - 4) / 32) + 4 or more (36 for 1,000), so
  that a text is searched at most 32 times.

Deliberate disguise (base64, reversed, a separator every few characters) is out of reach and not
attempted: OneApp holds the token anyway; what matters is that an accidental echo never reaches a
model or a log.

Cost, so that a body at the size cap does not hold the event loop: a text is normalised in C
(one `bytes.translate`) and searched for "anchors", 5 characters taken every 4 (or more)
characters of the credential; every echo contains one. Only where an anchor turns up is anything
done in Python. A JSON body is first searched as it came (its escapes made gaps); only if that finds
an anchor are its strings collected and searched together, and only the strings with an anchor
redacted one by one. Past `MAX_HITS` anchors, a text, or a whole body, is replaced by `[redacted]`:
an answer crowded with pieces of the token is not worth picking apart.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from typing import Any

MARK = "[redacted]"
MIN_ECHO = 8
MAX_ANCHORS = 32
MAX_HITS = 4096

_GAP_BYTES = bytes(range(0x21)) + b'"\\' + bytes(range(0x7F, 0x100))
_GAP_RUN = re.compile(r"([^\x21\x23-\x5b\x5d-\x7e]+)")  # the same gaps, in text
# A printable ASCII character escaped as \u00XX could hide an echo from a search of the raw body;
# such a body is searched string by string instead.
_ESCAPED_PRINTABLE = re.compile(rb"\\u00[2-7][0-9a-fA-F]")
# Every JSON escape but \/ (a slash, which a token may hold) is a gap: \", \\, \n, \uXXXX of a
# non-ASCII or control character. Matched from the left, so \\n is a backslash and an n.
_GAP_ESCAPE = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|[^/])")
_BARRIERS = b"|~`^{}<>;,"  # one not in the credential separates strings searched together


_ASCII_LOWER = bytes.maketrans(bytes(range(0x41, 0x5B)), bytes(range(0x61, 0x7B)))


def _normal(data: bytes) -> bytes:
    return data.translate(_ASCII_LOWER, _GAP_BYTES)  # one pass: lower case, gaps gone


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def credential_of(authorization: str) -> str:
    """The secret part of an Authorization value: what follows a scheme word, or the whole value."""
    scheme, _, rest = authorization.strip().partition(" ")
    return rest.strip() or scheme


class Redactor:
    def __init__(self, authorization: str) -> None:
        secret = _normal(credential_of(authorization).encode("ascii", "ignore"))
        self._secret = secret.decode()
        if len(secret) <= MIN_ECHO:
            size = step = len(secret)
        else:
            size, step = 5, max(4, math.ceil((len(secret) - 4) / MAX_ANCHORS))
        self._min = size + step - 1 if len(secret) > MIN_ECHO else len(secret)
        offsets = range(0, len(secret) - size + 1, step) if secret else range(0)
        self._anchors = [(offset, secret[offset : offset + size]) for offset in offsets]
        self._barrier = next((bytes([b]) for b in _BARRIERS if b not in secret), None)

    def _might_echo(self, normal: bytes) -> bool:
        return any(anchor in normal for _, anchor in self._anchors)

    def text(self, text: str) -> str:
        """`text` with every echo of the credential replaced by MARK."""
        if not self._anchors:
            return text
        normal = _normal(_encode(text))
        hits = sum(normal.count(anchor) for _, anchor in self._anchors)
        if not hits:
            return text
        if hits > MAX_HITS:
            return MARK
        parts = _GAP_RUN.split(text)  # words (no gaps) at even indexes, runs of gaps between them
        words = parts[0::2]
        found = self._echoes("".join(words).lower())
        if not found:
            return text
        # Where each word starts, in the text and in the joined words.
        text_starts = [0, *itertools.accumulate(len(part) for part in parts)][0::2]
        word_starts = [0, *itertools.accumulate(len(word) for word in words)][:-1]

        def in_text(index: int) -> int:
            word = bisect.bisect_right(word_starts, index) - 1
            return text_starts[word] + index - word_starts[word]

        pieces, done = [], 0
        for start, end in found:
            pieces += [text[done : in_text(start)], MARK]
            done = in_text(end - 1) + 1
        pieces.append(text[done:])
        return "".join(pieces)

    def body_may_echo(self, body: bytes) -> bool:
        """Whether a JSON body (as received) may hold an echo; False is certain, True may be wrong."""
        if not self._anchors:
            return False
        if b"\x00" in body[:4]:
            return True  # UTF-16 or UTF-32, not searched as bytes
        if b"\\" in body:
            if _ESCAPED_PRINTABLE.search(body):
                return True
            body = _GAP_ESCAPE.sub(b" ", body).replace(b"\\/", b"/")
        return self._might_echo(_normal(body))

    def json(self, value: Any) -> Any:
        """Parsed JSON with every echo redacted, in place: strings, keys, and numbers (as MARK)."""
        if not isinstance(value, dict | list):
            return self._scalar(value)
        texts, places = _scalars(value)
        chosen = self._candidates(texts)
        if chosen is None:
            return MARK
        # Values before keys: a key changed first would lose the place of its value.
        for index in sorted(chosen, key=lambda i: places[i][2]):
            container, key, is_key = places[index]
            redacted = self.text(texts[index])
            if redacted == texts[index]:
                continue
            if is_key:
                items = list(container.items())
                container.clear()
                container.update((redacted if k == key else k, item) for k, item in items)
            else:
                container[key] = redacted if isinstance(container[key], str) else MARK
        return value

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and self.text(str(value)) != str(value)
        ):
            return MARK
        return value

    def _candidates(self, texts: list[str]) -> list[int] | None:
        """Indexes of the texts with an anchor (searched together); None: more than MAX_HITS."""
        if self._barrier is None:
            return [i for i, text in enumerate(texts) if self._might_echo(_normal(_encode(text)))]
        normal = _normal(_encode(self._barrier.decode().join(texts)))
        hits: set[int] = set()
        for _, anchor in self._anchors:
            at = normal.find(anchor)
            while at >= 0:
                hits.add(at)
                if len(hits) > MAX_HITS:
                    return None
                end = normal.find(self._barrier, at)  # on to the next text
                at = normal.find(anchor, end) if end >= 0 else -1
        chosen: list[int] = []
        index = counted = 0
        for at in sorted(hits):
            index += normal.count(self._barrier, counted, at)
            counted = at
            if not chosen or chosen[-1] != index:
                chosen.append(index)
        return chosen

    def _echoes(self, normal: str) -> list[tuple[int, int]]:
        """The echoes in `normal` (joined words, lower case) as merged [start, end) ranges."""
        secret, size = self._secret, len(self._anchors[0][1])
        anchors = [(offset, anchor.decode()) for offset, anchor in self._anchors]
        next_hit = {offset: normal.find(anchor) for offset, anchor in anchors}
        found: list[tuple[int, int]] = []
        while hits := [index for index in next_hit.values() if index >= 0]:
            at = min(hits)
            start, end = at, at
            for offset in [offset for offset, index in next_hit.items() if index == at]:
                # Extend the anchor both ways for as long as the text goes on as the credential does.
                before = _common_suffix(normal, at, secret, offset)
                after = _common_prefix(normal, at + size, secret, offset + size)
                if size + before + after >= self._min:
                    start, end = min(start, at - before), max(end, at + size + after)
            if end > start:
                while found and start <= found[-1][1]:
                    start, end = min(start, found[-1][0]), max(end, found.pop()[1])
                found.append((start, end))
            resume = max(end, at + 1)
            for offset, anchor in anchors:
                if 0 <= next_hit[offset] < resume:
                    next_hit[offset] = normal.find(anchor, resume)
        return found


def _scalars(root: dict[Any, Any] | list[Any]) -> tuple[list[str], list[tuple[Any, Any, bool]]]:
    """Every string and number under `root` as text, with where it is: (container, key, is it the key)."""
    texts: list[str] = []
    places: list[tuple[Any, Any, bool]] = []
    stack: list[dict[Any, Any] | list[Any]] = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, dict):
            for key in container:
                texts.append(key)
                places.append((container, key, True))
        pairs = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in pairs:
            if isinstance(item, str):
                texts.append(item)
                places.append((container, key, False))
            elif isinstance(item, dict | list):
                stack.append(item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                texts.append(str(item))
                places.append((container, key, False))
    return texts, places


def _common_prefix(a: str, i: int, b: str, j: int) -> int:
    """How many characters a[i:] and b[j:] have in common at their start."""
    low, high = 0, max(0, min(len(a) - i, len(b) - j))
    while low < high:
        middle = (low + high + 1) // 2
        if a[i : i + middle] == b[j : j + middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, i: int, b: str, j: int) -> int:
    """How many characters a[:i] and b[:j] have in common at their end."""
    low, high = 0, min(i, j)
    while low < high:
        middle = (low + high + 1) // 2
        if a[i - middle : i] == b[j - middle : j]:
            low = middle
        else:
            high = middle - 1
    return low
