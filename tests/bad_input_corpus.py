"""Bad input for POST /mcp: a corpus of malformed and hostile requests, kept as data.

Each `Entry` is one request as it goes on the wire: method, target, the raw header list (duplicates
allowed, str or bytes values), the raw body bytes, what the fake OneApp may receive because of it
(almost always nothing) and which kind of answer is right:

- REFUSED: a 4xx, or a 2xx whose body is a JSON-RPC error or a tool result with isError true;
- ACCEPTED: 202 with an empty body (a notification, which a stateless server drops);
- SERVED: a real result, for a valid request carrying something harmless (the entry says what).

Families are generated from small tables and one template each, so that every entry stays
inspectable: `CORPUS` is a plain tuple, and `pytest --collect-only -q tests/test_bad_input.py` lists
every id. Requests come in two forms, as the SDK client sends them (captured with httpx2 event hooks):
the 2026-07-28 form (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` for tools/call, and `_meta` in
params) and the plain 2025 stateless form (no protocol header, no `_meta`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.helpers import ACME_KEY, CORE, GLOBEX_KEY

PROTOCOL = "2026-07-28"

REFUSED = "refused"
ACCEPTED = "accepted"
SERVED = "served"

Header = tuple[str | bytes, str | bytes]


@dataclass(frozen=True)
class Upstream:
    """One call the fake OneApp may receive: method, path and raw query."""

    method: str
    path: str
    query: str = ""


@dataclass(frozen=True)
class Entry:
    """One request to POST /mcp (unless `method` or `path` say otherwise) and its expected answer."""

    id: str
    description: str
    method: str
    headers: tuple[Header, ...]
    body: bytes
    outcome: str = REFUSED
    upstream: tuple[Upstream, ...] = ()  # exactly what the fake OneApp receives; usually nothing
    path: str = "/mcp"
    raw: bool = False  # sent through a raw socket: httpx (h11) will not put these bytes on the wire


# ---------------------------------------------------------------------------------------------------
# Templates


META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL,
    "io.modelcontextprotocol/clientInfo": {"name": "corpus", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
_ABSENT = object()


def message(method: Any, params: Any = _ABSENT, id: Any = 1, *, modern: bool = True) -> dict[str, Any]:
    """A JSON-RPC request; in the 2026 form its params carry `_meta` (created when absent)."""
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
    if modern and params is _ABSENT:
        params = {}
    if modern and isinstance(params, dict):
        params = {**params, "_meta": META}
    if params is not _ABSENT:
        out["params"] = params
    return out


def encode(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: sent as its JSON escape, as a hostile client would
        return json.dumps(value, separators=(",", ":")).encode()


def wire(
    modern: bool = True,
    mcp_method: str | None = "tools/list",
    tool: str | None = None,
    change: Mapping[str, str | bytes | Sequence[str | bytes] | None] | None = None,
    extra: Iterable[Header] = (),
) -> tuple[Header, ...]:
    """The headers a well-behaved client sends, with some replaced (a list: repeated; None: dropped)."""
    base: list[Header] = [
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
        ("X-Client-ID", "acme"),
        ("Authorization", f"Bearer {ACME_KEY}"),
    ]
    if modern:
        base += [("MCP-Protocol-Version", PROTOCOL), ("Mcp-Method", mcp_method or "")]
        if tool is not None:
            base.append(("Mcp-Name", tool))
    change = dict(change or {})
    # A changed header keeps its place; one that the base lacks goes at the end.
    out = [pair for name, value in base for pair in _as_sent(name, change.pop(name, value))]
    out += [pair for name, value in change.items() for pair in _as_sent(name, value)]
    return (*out, *extra)


def _as_sent(name: str, value: str | bytes | Sequence[str | bytes] | None) -> list[Header]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [(name, item) for item in value]
    return [(name, value)]


def tools_list(modern: bool = True) -> bytes:
    return encode(message("tools/list", modern=modern))


def tools_call(tool: Any, arguments: Any = _ABSENT, *, modern: bool = True) -> bytes:
    params: dict[str, Any] = {"name": tool}
    if arguments is not _ABSENT:
        params["arguments"] = arguments
    return encode(message("tools/call", params, modern=modern))


def has_outer_space(value: str | bytes | None) -> bool:
    """Whether a header value starts or ends with whitespace, which httpx (h11) refuses to send."""
    return value is not None and value != value.strip()


def form(modern: bool) -> str:
    return "2026" if modern else "2025"


CORPUS_FAMILIES: dict[str, list[Entry]] = {}


def family(name: str, entries: Iterable[Entry]) -> None:
    CORPUS_FAMILIES[name] = list(entries)


# ---------------------------------------------------------------------------------------------------
# HTTP methods: only POST is served. A valid tools/list body rides along, so only the method is wrong.

METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "BREW", "M-SEARCH", "get"]

family(
    "http-method",
    [
        Entry(
            f"method-{method}-{form(modern)}",
            f"{method} instead of POST",
            method,
            wire(modern),
            tools_list(modern),
        )
        for method in METHODS
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# Content-Type. The SDK's 2025 transport insists on application/json, its 2026 entry only checked a
# prefix ("application/jsonp" and "application/json\xff" reached OneApp): /mcp now checks the media type
# itself, for both, before the SDK (415).

CONTENT_TYPES: list[tuple[str, str | bytes | None]] = [
    ("missing", None),
    ("empty", ""),
    ("text-plain", "text/plain"),
    ("text-plain-utf8", "text/plain; charset=utf-8"),
    ("multipart", "multipart/form-data; boundary=xyz"),
    ("form-urlencoded", "application/x-www-form-urlencoded"),
    ("garbage", "}{ not a media type"),
    ("json-typo", "application/jsn"),
    ("jsonp", "application/jsonp"),
    ("xml", "application/xml"),
    ("wildcard", "*/*"),
    ("non-utf8", b"application/json\xff"),
]

family(
    "content-type",
    [
        Entry(
            f"content-type-{label}-{form(modern)}",
            f"Content-Type {value!r} on a valid tools/call",
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", {"Content-Type": value}),
            tools_call("core_list_sucursales", {}, modern=modern),
        )
        for label, value in CONTENT_TYPES
        for modern in (True, False)
    ]
    + [
        Entry(
            f"content-type-json-latin1-body-{form(modern)}",
            "application/json; charset=latin-1 with a Latin-1 encoded body (ñ as one byte): not UTF-8 JSON",
            "POST",
            wire(
                modern,
                "tools/call",
                "checklist_list_checks",
                {"Content-Type": "application/json; charset=latin-1"},
            ),
            tools_call("checklist_list_checks", {"search": "baño"}, modern=modern).replace(
                "ñ".encode(), "ñ".encode("latin-1")
            ),
        )
        for modern in (True, False)
    ]
    + [
        Entry(
            f"content-type-json-latin1-ascii-body-{form(modern)}",
            "application/json; charset=latin-1 on a pure-ASCII body, which reads the same in both: harmless",
            "POST",
            wire(
                modern,
                "tools/call",
                "core_list_sucursales",
                {"Content-Type": "application/json; charset=latin-1"},
            ),
            tools_call("core_list_sucursales", {}, modern=modern),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/sucursales"),),
        )
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# Accept: the answer is JSON, so a client that cannot take application/json is refused (406).

ACCEPTS: list[tuple[str, str | bytes | None]] = [
    ("missing", None),
    ("empty", ""),
    ("text-html", "text/html"),
    ("event-stream-only", "text/event-stream"),
    ("image", "image/png, text/*"),
    ("non-utf8", b"application/jso\xee"),
]

family(
    "accept",
    [
        Entry(
            f"accept-{label}-{form(modern)}",
            f"Accept {value!r}: cannot take a JSON answer",
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", {"Accept": value}),
            tools_call("core_list_sucursales", {}, modern=modern),
        )
        for label, value in ACCEPTS
        for modern in (True, False)
    ]
    + [
        Entry(
            f"accept-any-{form(modern)}",
            "Accept */* takes JSON too: harmless",
            "POST",
            wire(modern, "tools/list", change={"Accept": "*/*"}),
            tools_list(modern),
            outcome=SERVED,
        )
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# Huge and many headers.

family(
    "huge-headers",
    [
        Entry(
            "huge-client-id-10k-letters",
            "a 10 kB X-Client-ID of letters: well formed, but no such tenant",
            "POST",
            wire(change={"X-Client-ID": "a" * 10_000}),
            tools_list(),
        ),
        Entry(
            "huge-client-id-10k-symbols",
            "a 10 kB X-Client-ID of symbols",
            "POST",
            wire(False, change={"X-Client-ID": "%" * 10_000}),
            tools_list(False),
        ),
        Entry(
            "huge-client-id-20k",
            "a 20 kB X-Client-ID of letters: well formed, but no such tenant",
            "POST",
            wire(change={"X-Client-ID": "a" * 20_000}),
            tools_list(),
        ),
        Entry(
            "huge-authorization-10k",
            "a 10 kB bearer token",
            "POST",
            wire(change={"Authorization": "Bearer " + "k" * 10_000}),
            tools_list(),
        ),
        Entry(
            "huge-authorization-10k-key-prefix",
            "the right key followed by 10 kB",
            "POST",
            wire(False, change={"Authorization": f"Bearer {ACME_KEY}" + "k" * 10_000}),
            tools_list(False),
        ),
        Entry(
            "huge-mcp-method-10k",
            "a 10 kB Mcp-Method header",
            "POST",
            wire(change={"Mcp-Method": "tools/list" + "x" * 10_000}),
            tools_list(),
        ),
        Entry(
            "huge-mcp-name-10k",
            "a 10 kB Mcp-Name header on a tools/call",
            "POST",
            wire(True, "tools/call", "c" * 10_000),
            tools_call("core_list_sucursales", {}),
        ),
        Entry(
            "many-headers-200-harmless",
            "200 extra X-Junk headers on a valid tools/list: harmless",
            "POST",
            wire(extra=[(f"X-Junk-{n}", "x") for n in range(200)]),
            tools_list(),
            outcome=SERVED,
        ),
        Entry(
            "many-headers-800-harmless",
            "800 extra headers (some 18 kB of head) on a valid tools/list: harmless",
            "POST",
            wire(extra=[(f"X-Junk-{n}", "xxxxxxxx") for n in range(800)]),
            tools_list(),
            outcome=SERVED,
        ),
        Entry(
            "many-client-ids-50",
            "50 X-Client-ID headers, all 'acme'",
            "POST",
            wire(False, change={"X-Client-ID": ["acme"] * 50}),
            tools_list(False),
        ),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Duplicate headers.

family(
    "duplicate-headers",
    [
        Entry(
            f"duplicate-{label}-{form(modern)}",
            description,
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", change),
            tools_call("core_list_sucursales", {}, modern=modern),
        )
        for label, description, change in [
            ("client-id-same", "two X-Client-ID: acme", {"X-Client-ID": ["acme", "acme"]}),
            ("client-id-other", "X-Client-ID acme and globex", {"X-Client-ID": ["acme", "globex"]}),
            ("client-id-and-empty", "X-Client-ID acme and an empty one", {"X-Client-ID": ["acme", ""]}),
            (
                "authorization-same",
                "two Authorization headers with the same valid key",
                {"Authorization": [f"Bearer {ACME_KEY}", f"Bearer {ACME_KEY}"]},
            ),
            (
                "authorization-other",
                "a wrong key, then the valid one",
                {"Authorization": ["Bearer wrong", f"Bearer {ACME_KEY}"]},
            ),
            (
                "content-type-text-then-json",
                "Content-Type text/plain, then application/json",
                {"Content-Type": ["text/plain", "application/json"]},
            ),
        ]
        for modern in (True, False)
    ]
    + [
        Entry(
            "duplicate-protocol-version",
            "MCP-Protocol-Version twice",
            "POST",
            wire(True, "tools/call", "core_list_sucursales", {"MCP-Protocol-Version": [PROTOCOL, PROTOCOL]}),
            tools_call("core_list_sucursales", {}),
        ),
        Entry(
            "duplicate-protocol-version-mixed",
            "MCP-Protocol-Version 2025-11-25, then 2026-07-28: the SDK routes on the first copy, and the "
            "2025 transport serves the valid call (its _meta ignored); only one tool call, the one asked for",
            "POST",
            wire(
                True, "tools/call", "core_list_sucursales", {"MCP-Protocol-Version": ["2025-11-25", PROTOCOL]}
            ),
            tools_call("core_list_sucursales", {}),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/sucursales"),),
        ),
        Entry(
            "duplicate-mcp-method",
            "Mcp-Method twice",
            "POST",
            wire(True, "tools/call", "core_list_sucursales", {"Mcp-Method": ["tools/call", "tools/call"]}),
            tools_call("core_list_sucursales", {}),
        ),
        Entry(
            "duplicate-mcp-name",
            "Mcp-Name twice, two different tools",
            "POST",
            wire(
                True,
                "tools/call",
                "core_list_sucursales",
                {"Mcp-Name": ["core_list_sucursales", "moai_visapp_foto_info"]},
            ),
            tools_call("core_list_sucursales", {}),
        ),
        Entry(
            "duplicate-host",
            "two Host headers (raw: httpx will not send two)",
            "POST",
            wire(extra=[("Host", "127.0.0.1"), ("Host", "evil.example")]),
            tools_list(),
            raw=True,
        ),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Bytes that are not UTF-8 in headers (HTTP allows obs-text; Django reads them as Latin-1).

family(
    "non-utf8-headers",
    [
        Entry(
            f"non-utf8-header-{label}",
            f"{name}: {value!r}",
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", {name: value}),
            tools_call("core_list_sucursales", {}, modern=modern),
        )
        for label, name, value, modern in [
            ("client-id-latin1", "X-Client-ID", b"acm\xe9", True),
            ("client-id-ff", "X-Client-ID", b"\xff\xfe", False),
            ("client-id-utf8-acme-accent", "X-Client-ID", "acmé".encode(), False),
            ("authorization-ff", "Authorization", b"Bearer \xff" + ACME_KEY.encode()[1:], True),
            ("authorization-scheme-latin1", "Authorization", b"B\xe9arer " + ACME_KEY.encode(), False),
            ("protocol-version", "MCP-Protocol-Version", b"2026-07-28\xff", True),
            ("mcp-method", "Mcp-Method", b"tools/call\xff", True),
            ("mcp-name", "Mcp-Name", b"core_list_sucursales\xe9", True),
        ]
    ]
    + [
        Entry(
            f"non-utf8-header-user-agent-{form(modern)}",
            "a User-Agent of raw Latin-1 bytes on a valid tools/list: harmless",
            "POST",
            wire(modern, extra=[("User-Agent", b"agent \xe9\xff")]),
            tools_list(modern),
            outcome=SERVED,
        )
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# X-Client-ID values (each sent in both forms).

CLIENT_IDS: list[tuple[str, str | bytes]] = [
    ("dot-dot-slash", "../"),
    ("dot-dot-slash-acme", "../acme"),
    ("percent-encoded-slash", "..%2f"),
    ("percent-encoded-acme", "%61cme"),
    ("unicode-accent", "acmé".encode()),
    ("full-width", "ａｃｍｅ".encode()),
    ("kelvin-sign", "\u212acme".encode()),
    ("comma-same", "acme,acme"),
    ("comma-space", "acme, globex"),
    ("comma-only", ","),
    ("inner-space", "ac me"),
    ("semicolon", "acme;"),
    ("underscore", "ac_me"),
    ("dash", "ac-me"),
    ("wildcard", "*"),
    ("sql", "acme' OR '1'='1"),
    ("template", "{{acme}}"),
    ("percent-nul", "acme%00"),
    ("tab-inside", "ac\tme"),
    ("unknown", "nobody"),
    ("unknown-digits", "0"),
    ("other-tenant-key-mismatch", "globex"),
]

family(
    "client-id",
    [
        Entry(
            f"client-id-{label}-{form(modern)}",
            f"X-Client-ID {value!r}"
            + (" (a real tenant, but the key is acme's)" if label.startswith("other-tenant") else ""),
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", {"X-Client-ID": value}),
            tools_call("core_list_sucursales", {}, modern=modern),
        )
        for label, value in CLIENT_IDS
        for modern in (True, False)
    ]
    + [
        Entry(
            f"client-id-{label}",
            f"X-Client-ID {value!r}: trimmed and lowercased to 'acme' (the contract), so served",
            "POST",
            wire(True, change={"X-Client-ID": value}),
            tools_list(),
            outcome=SERVED,
            raw=has_outer_space(value),
        )
        for label, value in [("upper", "ACME"), ("padded", "  Acme "), ("nbsp-latin1", b"acme\xa0")]
    ],
)

# ---------------------------------------------------------------------------------------------------
# Authorization forms.

AUTHORIZATIONS: list[tuple[str, str | bytes | None]] = [
    ("missing", None),
    ("empty", ""),
    ("basic", "Basic YWNtZTpwYXNzd29yZA=="),
    ("basic-with-key", f"Basic {ACME_KEY}"),
    ("bearer-alone", "Bearer"),
    ("bearer-spaces", "Bearer    "),
    ("key-without-scheme", ACME_KEY),
    ("truncated", f"Bearer {ACME_KEY[:-1]}"),
    ("extended", f"Bearer {ACME_KEY}0"),
    ("one-char-changed", f"Bearer {ACME_KEY[:-1]}{'X' if ACME_KEY[-1] != 'X' else 'Y'}"),
    ("other-tenants-key", f"Bearer {GLOBEX_KEY}"),
    ("key-then-garbage", f"Bearer {ACME_KEY} extra"),
    ("bearer-bearer", f"Bearer Bearer {ACME_KEY}"),
    ("tab-separator", f"Bearer\t{ACME_KEY}"),
    ("token-scheme", f"Token {ACME_KEY}"),
    ("upstream-canary", "Bearer canary-upstream-token-7f3a9c1e2b"),
    ("comma-joined", f"Bearer {ACME_KEY}, Bearer {ACME_KEY}"),
    ("uppercase-key", f"Bearer {ACME_KEY.upper()}"),
]

family(
    "authorization",
    [
        Entry(
            f"authorization-{label}-{form(modern)}",
            f"Authorization {value!r}",
            "POST",
            wire(modern, "tools/call", "core_list_sucursales", {"Authorization": value}),
            tools_call("core_list_sucursales", {}, modern=modern),
            raw=has_outer_space(value),
        )
        for label, value in AUTHORIZATIONS
        for modern in (True, False)
    ]
    + [
        Entry(
            "authorization-acme-key-for-globex",
            "acme's valid key sent with X-Client-ID globex",
            "POST",
            wire(True, "tools/call", "core_list_sucursales", {"X-Client-ID": "globex"}),
            tools_call("core_list_sucursales", {}),
        ),
    ]
    + [
        Entry(
            f"authorization-{label}",
            f"Authorization {value!r}: the scheme is case-insensitive (RFC 9110) and spaces are trimmed",
            "POST",
            wire(True, "tools/call", "core_list_sucursales", {"Authorization": value}),
            tools_call("core_list_sucursales", {}),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/sucursales"),),
            raw=has_outer_space(value),
        )
        for label, value in [
            ("lowercase-bearer", f"bearer {ACME_KEY}"),
            ("uppercase-bearer", f"BEARER {ACME_KEY}"),
            ("extra-spaces", f"Bearer    {ACME_KEY}   "),
        ]
    ],
)

# ---------------------------------------------------------------------------------------------------
# Raw bytes httpx (h11) refuses to send: CR/LF, NUL and other controls in headers, broken framing.
# The raw helper adds Host, Content-Length (unless the entry frames the body itself) and
# `Connection: close`.

RAW_HEADERS: list[tuple[str, str, bytes]] = [
    ("client-id-crlf-injection", "X-Client-ID", b"acme\r\nX-Client-ID: globex"),
    ("client-id-crlf-authorization", "X-Client-ID", b"evil\r\nAuthorization: Bearer " + ACME_KEY.encode()),
    ("client-id-bare-lf", "X-Client-ID", b"acme\nX-Injected: 1"),
    ("client-id-bare-cr", "X-Client-ID", b"acme\rX-Injected: 1"),
    ("client-id-nul", "X-Client-ID", b"acme\x00"),
    ("client-id-nul-inside", "X-Client-ID", b"ac\x00me"),
    ("client-id-vertical-tab", "X-Client-ID", b"acme\x0b"),
    ("client-id-unit-separator", "X-Client-ID", b"acme\x1f"),
    ("client-id-del", "X-Client-ID", b"acme\x7f"),
    ("authorization-nul-in-key", "Authorization", b"Bearer " + ACME_KEY.encode() + b"\x00"),
    ("authorization-nul-inside-key", "Authorization", b"Bearer " + ACME_KEY.encode()[:20] + b"\x00"),
    ("authorization-crlf", "Authorization", b"Bearer x\r\nX-Client-ID: globex"),
    ("mcp-method-nul", "Mcp-Method", b"tools/list\x00"),
]


family(
    "raw-http",
    [
        Entry(
            f"raw-{label}",
            f"{name}: {value!r} sent raw",
            "POST",
            wire(index % 2 == 0, change={name: value}),
            tools_list(modern=index % 2 == 0),
            raw=True,
        )
        for index, (label, name, value) in enumerate(RAW_HEADERS)
    ]
    + [
        Entry(
            "raw-obs-fold-client-id",
            "an obsolete folded header continuing X-Client-ID",
            "POST",
            (*wire(change={"X-Client-ID": None}), ("X-Client-ID", b"ac\r\n me")),
            tools_list(),
            raw=True,
        ),
        Entry(
            "raw-space-before-colon",
            "'X-Client-ID : acme' (whitespace before the colon, RFC 9112 says reject)",
            "POST",
            (*wire(change={"X-Client-ID": None}), ("X-Client-ID ", "acme")),
            tools_list(),
            raw=True,
        ),
        Entry(
            "raw-content-length-and-chunked",
            "Content-Length and Transfer-Encoding: chunked together (request smuggling shape)",
            "POST",
            (*wire(), ("Content-Length", "4"), ("Transfer-Encoding", "chunked")),
            b"0\r\n\r\n",
            raw=True,
        ),
        Entry(
            "raw-two-content-lengths",
            "two different Content-Length headers",
            "POST",
            (*wire(), ("Content-Length", str(len(tools_list()))), ("Content-Length", "5")),
            tools_list(),
            raw=True,
        ),
        Entry(
            "raw-negative-content-length",
            "Content-Length: -1",
            "POST",
            (*wire(), ("Content-Length", "-1")),
            b"",
            raw=True,
        ),
        Entry(
            "raw-non-numeric-content-length",
            "Content-Length: abc",
            "POST",
            (*wire(), ("Content-Length", "abc")),
            b"",
            raw=True,
        ),
        Entry(
            "raw-huge-declared-content-length",
            "Content-Length: 99999999999 with a tiny body: refused before reading",
            "POST",
            (*wire(), ("Content-Length", "99999999999")),
            tools_list(),
            raw=True,
        ),
        Entry(
            "raw-bad-chunk-size",
            "Transfer-Encoding: chunked with a chunk size that is not hex",
            "POST",
            (*wire(), ("Transfer-Encoding", "chunked")),
            b"zz\r\n{}\r\n0\r\n\r\n",
            raw=True,
        ),
        Entry(
            "raw-header-without-colon",
            "a header line without a colon (after a CRLF smuggled into another value)",
            "POST",
            (*wire(), ("X-Junk", b"x\r\nX-Client-ID acme")),
            tools_list(),
            raw=True,
        ),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Bodies that are not one JSON-RPC request (each sent in both forms; the headers claim tools/list).

DEEP = 100_000

BODIES: list[tuple[str, str, bytes]] = [
    ("empty", "no body at all", b""),
    ("whitespace", "only whitespace", b" \r\n\t "),
    ("null", "JSON null", b"null"),
    ("true", "JSON true", b"true"),
    ("number", "a bare number", b"1"),
    ("string", "a bare string", b'"tools/list"'),
    ("empty-array", "an empty array", b"[]"),
    ("empty-object", "an empty object", b"{}"),
    ("truncated", "JSON cut short", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/li'),
    ("trailing-garbage", "a valid request followed by garbage", tools_list(False) + b"garbage"),
    ("two-objects", "two JSON objects back to back", tools_list(False) + tools_list(False)),
    ("single-quotes", "Python-style quoting", b"{'jsonrpc': '2.0', 'id': 1, 'method': 'tools/list'}"),
    ("nan-id", "NaN as the id (not JSON)", b'{"jsonrpc":"2.0","id":NaN,"method":"tools/list"}'),
    (
        "infinity-id",
        "Infinity as the id (not JSON)",
        b'{"jsonrpc":"2.0","id":Infinity,"method":"tools/list"}',
    ),
    (
        "huge-int-id",
        "a 5000-digit integer id",
        b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"tools/list"}',
    ),
    ("huge-float-id", "1e400 as the id", b'{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}'),
    ("nested-arrays-open", f"{DEEP} unclosed [", b"[" * DEEP),
    ("nested-arrays-closed", f"{DEEP} nested arrays", b"[" * DEEP + b"]" * DEEP),
    ("nested-objects", f"{DEEP} nested objects", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
    (
        "nested-params",
        f"a request whose params nest {DEEP} arrays deep",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":' + b"[" * DEEP + b"]" * DEEP + b"}}",
    ),
    (
        "invalid-utf8",
        "a string with bytes that are not UTF-8",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list\xff"}',
    ),
    (
        "invalid-utf8-key",
        "a key with bytes that are not UTF-8",
        b'{"jsonrpc\xc3":"2.0","id":1,"method":"tools/list"}',
    ),
    ("utf16", "the request encoded as UTF-16", tools_list(False).decode().encode("utf-16")),
    ("utf8-bom", "a UTF-8 byte-order mark before the JSON", b"\xef\xbb\xbf" + tools_list(False)),
    ("nul-bytes", "NUL bytes", b"\x00" * 64),
    (
        "lone-surrogate-method",
        "a lone surrogate escape in the method",
        b'{"jsonrpc":"2.0","id":1,"method":"\\ud800"}',
    ),
    (
        "batch",
        "a JSON-RPC batch of two requests",
        encode([message("tools/list", id=1), message("tools/list", id=2)]),
    ),
    ("batch-of-one", "a batch holding one request", encode([message("tools/list")])),
    (
        "batch-of-calls",
        "a batch of tool calls",
        encode([message("tools/call", {"name": "core_list_sucursales"})]),
    ),
    (
        "batch-of-notifications",
        "a batch of notifications",
        encode([{"jsonrpc": "2.0", "method": "notifications/initialized"}]),
    ),
    ("batch-of-numbers", "an array of numbers", b"[1,2,3]"),
    ("batch-1000", "a batch of 1000 requests", encode([message("tools/list", id=n) for n in range(1000)])),
    ("jsonrpc-1", "jsonrpc '1.0'", b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}'),
    ("jsonrpc-number", "jsonrpc 2 (a number)", b'{"jsonrpc":2,"id":1,"method":"tools/list"}'),
    ("jsonrpc-float", "jsonrpc 2.0 (a number)", b'{"jsonrpc":2.0,"id":1,"method":"tools/list"}'),
    ("jsonrpc-missing", "no jsonrpc member", b'{"id":1,"method":"tools/list"}'),
    ("jsonrpc-null", "jsonrpc null", b'{"jsonrpc":null,"id":1,"method":"tools/list"}'),
    ("jsonrpc-padded", "jsonrpc '2.0 '", b'{"jsonrpc":"2.0 ","id":1,"method":"tools/list"}'),
    ("id-null", "id null", b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}'),
    ("id-object", "an object as the id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}'),
    ("id-array", "an array as the id", b'{"jsonrpc":"2.0","id":[1],"method":"tools/list"}'),
    ("id-bool", "true as the id", b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}'),
    ("id-float", "1.5 as the id", b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}'),
    ("method-missing", "no method", b'{"jsonrpc":"2.0","id":1}'),
    ("method-number", "method 1", b'{"jsonrpc":"2.0","id":1,"method":1}'),
    ("method-null", "method null", b'{"jsonrpc":"2.0","id":1,"method":null}'),
    ("method-array", "method ['tools/list']", b'{"jsonrpc":"2.0","id":1,"method":["tools/list"]}'),
    ("method-object", "method {}", b'{"jsonrpc":"2.0","id":1,"method":{}}'),
    ("method-empty", "method ''", b'{"jsonrpc":"2.0","id":1,"method":""}'),
    ("method-unknown", "method tools/destroy", b'{"jsonrpc":"2.0","id":1,"method":"tools/destroy"}'),
    ("method-rpc-discover", "method rpc.discover", b'{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}'),
    ("method-proto", "method __proto__", b'{"jsonrpc":"2.0","id":1,"method":"__proto__"}'),
    ("method-padded", "method ' tools/list'", b'{"jsonrpc":"2.0","id":1,"method":" tools/list"}'),
    ("response-result", "a response object posted as a request", b'{"jsonrpc":"2.0","id":1,"result":{}}'),
    (
        "response-error",
        "an error response posted as a request",
        b'{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}',
    ),
    (
        "request-and-result",
        "a request that also carries a result",
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","result":{}}',
    ),
]

# The SDK's 2025 transport reads an object whose id is not a valid request id as a notification, and
# a posted response as a response: either is acknowledged with 202 and dropped, nothing is called.
# (Its 2026 entry refuses them; JSON-RPC would answer an error; both are harmless.) An extra `result`
# member next to a valid request is ignored there, and the request served.
LEGACY_BODY_OUTCOMES = {
    **dict.fromkeys(
        ["nan-id", "infinity-id", "huge-float-id", "id-null", "id-object", "id-array", "id-bool", "id-float"],
        ACCEPTED,
    ),
    "response-result": ACCEPTED,
    "response-error": ACCEPTED,
    "request-and-result": SERVED,
}

family(
    "body",
    [
        Entry(
            f"body-{label}-{form(modern)}",
            description,
            "POST",
            wire(modern),
            body,
            outcome=REFUSED if modern else LEGACY_BODY_OUTCOMES.get(label, REFUSED),
        )
        for label, description, body in BODIES
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# Requests whose envelope parses but whose params are wrong.


def _params_entry(label: str, description: str, method: str, params: Any, modern: bool) -> Entry:
    # Mcp-Name repeats a string name, so that the 2026 form gets past its header check to the params.
    name = params.get("name") if isinstance(params, dict) and method == "tools/call" else None
    return Entry(
        f"params-{label}-{form(modern)}",
        description,
        "POST",
        wire(modern, method, name if isinstance(name, str) else None),
        encode(message(method, params, modern=modern)),
        raw=modern and isinstance(name, str) and has_outer_space(name),
    )


PARAMS: list[tuple[str, str, str, Any]] = [
    ("tools-call-params-array", "tools/call with params []", "tools/call", []),
    ("tools-call-params-string", "tools/call with params 'x'", "tools/call", "x"),
    ("tools-call-params-number", "tools/call with params 1", "tools/call", 1),
    ("tools-call-params-null", "tools/call with params null", "tools/call", None),
    ("tools-call-no-name", "tools/call without a name", "tools/call", {"arguments": {}}),
    ("tools-call-name-null", "tools/call with name null", "tools/call", {"name": None, "arguments": {}}),
    ("tools-call-name-number", "tools/call with name 1", "tools/call", {"name": 1, "arguments": {}}),
    (
        "tools-call-name-list",
        "tools/call with name ['core_list_sucursales']",
        "tools/call",
        {"name": ["core_list_sucursales"]},
    ),
    ("tools-call-name-object", "tools/call with name {}", "tools/call", {"name": {}}),
    (
        "tools-call-name-unknown",
        "tools/call of a tool that does not exist",
        "tools/call",
        {"name": "drop_tables"},
    ),
    ("tools-call-name-empty", "tools/call with name ''", "tools/call", {"name": ""}),
    (
        "tools-call-name-path",
        "tools/call with a path in the name",
        "tools/call",
        {"name": "../core_list_sucursales"},
    ),
    (
        "tools-call-name-upper",
        "tools/call of CORE_LIST_SUCURSALES",
        "tools/call",
        {"name": "CORE_LIST_SUCURSALES"},
    ),
    (
        "tools-call-name-padded",
        "tools/call with a trailing space in the name",
        "tools/call",
        {"name": "core_list_sucursales "},
    ),
    ("tools-list-params-array", "tools/list with params []", "tools/list", []),
    ("tools-list-cursor-number", "tools/list with cursor 5", "tools/list", {"cursor": 5}),
    (
        "resources-read",
        "resources/read: this server has no resources",
        "resources/read",
        {"uri": "file:///etc/passwd"},
    ),
    ("prompts-get", "prompts/get: this server has no prompts", "prompts/get", {"name": "x"}),
    ("completion", "completion/complete with garbage", "completion/complete", {"ref": 1}),
    (
        "logging-set-level",
        "logging/setLevel with a level that does not exist",
        "logging/setLevel",
        {"level": "loud"},
    ),
    ("initialize-params-string", "initialize with params 'garbage'", "initialize", "garbage"),
    (
        "initialize-version-object",
        "initialize with protocolVersion {}",
        "initialize",
        {"protocolVersion": {}, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}},
    ),
    (
        "initialize-capabilities-string",
        "initialize with capabilities 'all'",
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": "all", "clientInfo": {"name": "x", "version": "1"}},
    ),
    (
        "initialize-no-client-info",
        "initialize without clientInfo",
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}},
    ),
    (
        "initialize-client-info-number",
        "initialize with clientInfo 7",
        "initialize",
        {"protocolVersion": 7, "capabilities": {}, "clientInfo": 7},
    ),
]

family(
    "params",
    [
        _params_entry(label, description, method, params, modern)
        for label, description, method, params in PARAMS
        for modern in (True, False)
    ],
)

# ---------------------------------------------------------------------------------------------------
# The 2026 form's own headers and `_meta`, contradicted.


def _modern_entry(label: str, description: str, headers: tuple[Header, ...], body: Any) -> Entry:
    return Entry(
        f"modern-{label}", description, "POST", headers, body if isinstance(body, bytes) else encode(body)
    )


def _meta_call(meta: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "core_list_sucursales", "arguments": {}, "_meta": meta},
    }


CALL = ("tools/call", "core_list_sucursales")
family(
    "modern-envelope",
    [
        _modern_entry(
            "method-header-mismatch",
            "Mcp-Method says tools/list, the body calls a tool",
            wire(True, "tools/list"),
            message("tools/call", {"name": "core_list_sucursales", "arguments": {}}),
        ),
        _modern_entry(
            "name-header-mismatch",
            "Mcp-Name names one tool, the body calls another",
            wire(True, "tools/call", "core_list_subgerencias"),
            message("tools/call", {"name": "core_list_sucursales", "arguments": {}}),
        ),
        _modern_entry(
            "name-header-missing",
            "a tools/call without Mcp-Name",
            wire(True, "tools/call"),
            message("tools/call", {"name": "core_list_sucursales", "arguments": {}}),
        ),
        _modern_entry(
            "method-header-missing",
            "no Mcp-Method header",
            wire(True, *CALL, change={"Mcp-Method": None}),
            message("tools/call", {"name": "core_list_sucursales", "arguments": {}}),
        ),
        _modern_entry(
            "version-garbage",
            "MCP-Protocol-Version garbage",
            wire(True, change={"MCP-Protocol-Version": "garbage"}),
            message("tools/list"),
        ),
        _modern_entry(
            "version-future",
            "MCP-Protocol-Version 2099-01-01",
            wire(True, change={"MCP-Protocol-Version": "2099-01-01"}),
            message("tools/list"),
        ),
        _modern_entry(
            "version-empty",
            "MCP-Protocol-Version ''",
            wire(True, change={"MCP-Protocol-Version": ""}),
            message("tools/list"),
        ),
        _modern_entry(
            "version-list",
            "MCP-Protocol-Version '2026-07-28, 2025-11-25'",
            wire(True, change={"MCP-Protocol-Version": f"{PROTOCOL}, 2025-11-25"}),
            message("tools/list"),
        ),
        _modern_entry(
            "meta-missing",
            "2026 headers, a body without _meta",
            wire(True, *CALL),
            tools_call("core_list_sucursales", {}, modern=False),
        ),
        _modern_entry("meta-null", "_meta null", wire(True, *CALL), _meta_call(None)),
        _modern_entry("meta-string", "_meta 'x'", wire(True, *CALL), _meta_call("x")),
        _modern_entry("meta-empty", "_meta {}", wire(True, *CALL), _meta_call({})),
        _modern_entry(
            "meta-version-mismatch",
            "_meta says 2025-11-25, the header 2026-07-28",
            wire(True, *CALL),
            _meta_call({**META, "io.modelcontextprotocol/protocolVersion": "2025-11-25"}),
        ),
        _modern_entry(
            "meta-version-number",
            "_meta protocolVersion 2026",
            wire(True, *CALL),
            _meta_call({**META, "io.modelcontextprotocol/protocolVersion": 2026}),
        ),
        _modern_entry(
            "meta-capabilities-string",
            "_meta clientCapabilities 'all'",
            wire(True, *CALL),
            _meta_call({**META, "io.modelcontextprotocol/clientCapabilities": "all"}),
        ),
        _modern_entry(
            "meta-client-info-number",
            "_meta clientInfo 7",
            wire(True, *CALL),
            _meta_call({**META, "io.modelcontextprotocol/clientInfo": 7}),
        ),
        Entry(
            "modern-legacy-header-modern-body",
            "MCP-Protocol-Version 2025-11-25 on a body carrying 2026 _meta: the 2025 transport ignores the "
            "extra _meta, harmless",
            "POST",
            wire(
                True,
                *CALL,
                change={"MCP-Protocol-Version": "2025-11-25", "Mcp-Method": None, "Mcp-Name": None},
            ),
            tools_call("core_list_sucursales", {}),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/sucursales"),),
        ),
        _modern_entry(
            "initialize-in-2026",
            "initialize sent in the 2026 form, where there is no handshake",
            wire(True, "initialize"),
            message(
                "initialize",
                {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "x", "version": "1"},
                },
            ),
        ),
        _modern_entry(
            "name-header-bad-base64",
            "Mcp-Name in the =?base64?...?= form, with a payload that is not base64",
            wire(True, "tools/call", "=?base64?!!not-base64!!?="),
            message("tools/call", {"name": "core_list_sucursales", "arguments": {}}),
        ),
        _modern_entry(
            "progress-token-object",
            "_meta.progressToken an object",
            wire(True, *CALL),
            _meta_call({**META, "progressToken": {"a": 1}}),
        ),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Notifications: a stateless server has nothing to do with them; they are acknowledged and dropped.

NOTIFICATIONS: list[tuple[str, Any]] = [
    ("initialized", {"jsonrpc": "2.0", "method": "notifications/initialized"}),
    (
        "cancelled-garbage",
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {"x": 1}}},
    ),
    ("unknown", {"jsonrpc": "2.0", "method": "notifications/unknown"}),
    (
        "tools-call-without-id",
        {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "core_list_sucursales"}},
    ),
]

family(
    "notification",
    [
        Entry(
            f"notification-{label}-2025",
            f"{body['method']} as a notification (no id): acknowledged, nothing called",
            "POST",
            wire(False),
            encode(body),
            outcome=ACCEPTED,
        )
        for label, body in NOTIFICATIONS
    ]
    + [
        Entry(
            f"notification-{label}-2026",
            f"{body['method']} as a notification (no id) in the 2026 form: acknowledged, nothing called",
            "POST",
            wire(True, body["method"]),
            encode({**body, "params": {**body.get("params", {}), "_meta": META}}),
            outcome=ACCEPTED,
        )
        for label, body in NOTIFICATIONS
    ]
    + [
        Entry(
            "notification-method-number",
            "a notification whose method is a number",
            "POST",
            wire(False),
            b'{"jsonrpc":"2.0","method":5}',
        ),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Tool arguments: valid JSON-RPC tools/call with valid headers and key, wrong arguments. Alternates
# between the two forms.

BAD_IDS: list[tuple[str, Any]] = [
    ("minus-one", -1),
    ("zero", 0),
    ("two-to-64", 2**64),
    ("two-to-63", 2**63),
    ("1e308", 1e308),
    ("fraction", 1.5),
    ("true", True),
    ("false", False),
    ("string-5000-ones", "1" * 5000),
    ("string-word", "uno"),
    ("string-empty", ""),
    ("string-path", "1/../../admin"),
    ("null", None),
    ("list", [1]),
    ("object", {"id": 1}),
]

ID_TOOLS = [
    ("core_list_zonas_by_subgerencia", "id", {}),
    ("core_list_sucursales_by_zona", "zone_id", {}),
    ("checklist_list_preguntas", "check_id", {}),
    ("visual_areas", "area_id", {}),
    ("checklist_list_respuestas", "asignacion_id", {"cuestionario_id": 1}),
]


def _args_entry(label: str, tool: str, arguments: Any, modern: bool) -> Entry:
    shown = repr(arguments)
    return Entry(
        f"args-{tool}-{label}-{form(modern)}",
        f"{tool} with arguments {shown if len(shown) < 80 else shown[:77] + '...'}",
        "POST",
        wire(modern, "tools/call", tool),
        tools_call(tool, arguments, modern=modern),
    )


_ids = [
    _args_entry(f"{argument}-{label}", tool, {**others, argument: value}, modern=(i + j) % 2 == 0)
    for i, (tool, argument, others) in enumerate(ID_TOOLS)
    for j, (label, value) in enumerate(BAD_IDS)
    # An optional id may be null (it then means "all"); the bare null is refused only where required.
    if not (value is None and argument in ("area_id", "asignacion_id"))
]

PAGING: list[tuple[str, dict[str, Any]]] = [
    ("limit-zero", {"limit": 0}),
    ("limit-101", {"limit": 101}),
    ("limit-negative", {"limit": -5}),
    ("limit-true", {"limit": True}),
    ("limit-string", {"limit": "ten"}),
    ("limit-float", {"limit": 10.5}),
    ("page-zero", {"page": 0}),
    ("page-negative", {"page": -1}),
    ("page-huge", {"page": 2**64}),
    ("page-false", {"page": False}),
    ("search-1mb", {"search": "x" * 1_000_000}),
    ("search-201", {"search": "x" * 201}),
    ("search-number", {"search": 5}),
    ("search-list", {"search": ["a"]}),
    ("search-lone-surrogate", {"search": "\ud800"}),
]

DATES: list[tuple[str, str, Any]] = [
    ("feb-30", "from_date", "2024-02-30"),
    ("two-digit-year", "from_date", "24-01-01"),
    ("slashes", "from_date", "2024/01/01"),
    ("empty", "from_date", ""),
    ("no-padding", "end_date", "2024-1-1"),
    ("datetime", "end_date", "2024-01-31T00:00:00"),
    ("month-13", "end_date", "2024-13-01"),
    ("year-zero", "from_date", "0000-01-01"),
    ("full-width-digits", "from_date", "２０２４-０１-０１"),
    ("arabic-digits", "from_date", "٢٠٢٤-٠١-٠١"),
    ("trailing-newline", "end_date", "2024-01-31\n"),
    ("number", "from_date", 20240101),
    ("null", "end_date", None),
    ("reversed-range", "from_date", "2024-12-31"),
]

FOTO_URLS: list[tuple[str, Any]] = [
    ("ftp", "ftp://example.com/foto.jpg"),
    ("javascript", "javascript:alert(1)"),
    ("file", "file:///etc/passwd"),
    ("empty", ""),
    ("no-host", "http:///foto.jpg"),
    ("no-slashes", "http:example.com/foto.jpg"),
    ("scheme-relative", "//example.com/foto.jpg"),
    ("data", "data:image/png;base64,iVBORw0KGgo="),
    ("bad-ipv6", "http://[::1/foto.jpg"),
    ("port-only", "http://:80/foto.jpg"),
    ("too-long", "https://example.com/" + "a" * 3000),
    ("tab-in-scheme", "ht\ttp://example.com/foto.jpg"),
    ("leading-space", " http://example.com/foto.jpg"),
    ("leading-nul", "\x00http://example.com/foto.jpg"),
    ("newline-in-host", "http://exa\nmple.com/foto.jpg"),
    ("space-host", "http:// /foto.jpg"),
    ("bidi-override", "http://example.com/\u202egpj.exe"),
    ("number", 42),
    ("null", None),
]

CRITERIOS: list[tuple[str, Any]] = [
    ("empty", []),
    ("string", "nitidez"),
    ("numbers", [1, 2, 3]),
    ("booleans", [True, False]),
    ("empty-string", [""]),
    ("nested", [["nitidez"]]),
    ("null-item", [None]),
    ("too-many", ["c"] * 101),
    ("string-1mb", "x" * 1_000_000),
    ("item-501", ["x" * 501]),
]

ID_LISTS: list[tuple[str, str, Any]] = [
    ("booleans", "visual_area_categorias", [True, False]),
    ("mixed-bool", "visual_area_categorias", [1, True]),
    ("empty", "visual_area_categorias", []),
    ("zero", "visual_area_categorias", [0]),
    ("negative", "visual_area_categoria_razones", [-1]),
    ("fraction", "visual_area_categoria_razones", [1.5]),
    ("huge", "visual_area_categoria_razones", [2**64]),
    ("too-many", "visual_area_categoria_razones", list(range(1, 103))),
    ("comma-string", "visual_area_categorias", "1,2,3"),
    ("nulls", "visual_area_categoria_razones", [None]),
    ("object", "visual_area_categorias", {"0": 1}),
]


def _deep_argument(depth: int, modern: bool) -> Entry:
    nested = b"[" * depth + b"]" * depth
    return Entry(
        f"args-core_list_zonas-zone_id-nested-{depth}-{form(modern)}",
        f"core_list_zonas with zone_id {depth} arrays deep",
        "POST",
        wire(modern, "tools/call", "core_list_zonas"),
        tools_call("core_list_zonas", {"zone_id": "NESTED"}, modern=modern).replace(b'"NESTED"', nested),
    )


LIST_ARGUMENT = {"visual_area_categorias": "areas_id", "visual_area_categoria_razones": "categories_id"}
GOOD_RANGE = {"check_id": 1, "from_date": "2024-01-01", "end_date": "2024-01-31"}

family("args-ids", _ids)
family(
    "args-other",
    [
        _args_entry(label, "checklist_list_checks", arguments, modern=i % 2 == 0)
        for i, (label, arguments) in enumerate(PAGING)
    ]
    + [
        _args_entry(
            f"{field}-{label}",
            "checklist_list_cuestionarios",
            {**GOOD_RANGE, field: value},
            modern=i % 2 == 1,
        )
        for i, (label, field, value) in enumerate(DATES)
    ]
    + [
        _args_entry(
            f"foto_url-{label}",
            "moai_visapp_foto",
            {"foto_url": value, "criterios": ["nitidez"]},
            modern=i % 2 == 0,
        )
        for i, (label, value) in enumerate(FOTO_URLS)
    ]
    + [
        _args_entry(
            f"criterios-{label}",
            "moai_visapp_foto",
            {"foto_url": "https://example.com/foto.jpg", "criterios": value},
            modern=i % 2 == 1,
        )
        for i, (label, value) in enumerate(CRITERIOS)
    ]
    + [
        _args_entry(f"{LIST_ARGUMENT[tool]}-{label}", tool, {LIST_ARGUMENT[tool]: value}, modern=i % 2 == 0)
        for i, (label, tool, value) in enumerate(ID_LISTS)
    ]
    + [
        *(_deep_argument(depth, modern) for depth in (900, DEEP) for modern in (True, False)),
        _args_entry("unknown-field", "core_list_zonas", {"zone_id": 1, "drop": "tables"}, True),
        # Names the tool function or pydantic could confuse with their own.
        _args_entry("ctx-field", "core_list_sucursales", {"ctx": {}}, True),
        _args_entry("values-field", "core_list_zonas", {"values": {"zone_id": 1}}, False),
        _args_entry("model-config-field", "core_list_zonas", {"model_config": {"extra": "allow"}}, True),
        _args_entry("dunder-field", "core_list_zonas", {"__class__": "dict"}, False),
        _args_entry("unknown-field-only", "core_list_sucursales", {"verbose": True}, False),
        _args_entry("misspelt-field", "core_list_sucursales_by_zona", {"zoneid": 1}, True),
        _args_entry("camel-case-field", "checklist_list_preguntas", {"checkId": 1}, False),
        _args_entry("arguments-array", "core_list_zonas", [1], True),
        _args_entry("arguments-string", "core_list_zonas", "zone_id=1", False),
        _args_entry("arguments-number", "core_list_zonas", 1, True),
        _args_entry("arguments-true", "core_list_sucursales", True, False),
        _args_entry("arguments-null-required", "core_list_sucursales_by_zona", None, True),
        _args_entry("arguments-missing-required", "checklist_list_preguntas", _ABSENT, False),
        _args_entry("arguments-null-required", "checklist_list_preguntas", None, False),
        _args_entry("arguments-json-string-object", "core_list_sucursales_by_zona", '{"zone_id": 1}', True),
    ],
)

# ---------------------------------------------------------------------------------------------------
# Requests that reach /mcp by other paths, and other harmless extras.

family(
    "target-and-extras",
    [
        Entry("path-trailing-slash", "/mcp/ is not /mcp", "POST", wire(), tools_list(), path="/mcp/"),
        Entry("path-uppercase", "/MCP is not /mcp", "POST", wire(), tools_list(), path="/MCP"),
        Entry("path-double-slash", "//mcp", "POST", wire(), tools_list(), path="//mcp"),
        Entry(
            "path-encoded",
            "/%6dcp: ASGI hands over the path percent-decoded, so this is /mcp: harmless",
            "POST",
            wire(),
            tools_list(),
            path="/%6dcp",
            outcome=SERVED,
        ),
        Entry(
            "path-dot-segment", "/x/../mcp sent raw", "POST", wire(), tools_list(), path="/x/../mcp", raw=True
        ),
        Entry(
            "host-foreign", "Host evil.example", "POST", wire(change={"Host": "evil.example"}), tools_list()
        ),
        Entry(
            "origin-foreign",
            "Origin https://evil.example",
            "POST",
            wire(False, change={"Origin": "https://evil.example"}),
            tools_list(False),
        ),
        Entry("origin-null", "Origin null", "POST", wire(change={"Origin": "null"}), tools_list()),
        Entry(
            "body-over-limit",
            "2 MiB of whitespace around a valid request: over MCP_MAX_REQUEST_BYTES",
            "POST",
            wire(),
            tools_list() + b" " * (2 * 1024 * 1024),
        ),
        Entry(
            "mcp-param-header-harmless",
            "an Mcp-Param-zone_id header that contradicts the argument: no tool declares Mcp-Param "
            "headers, so it is an unknown extra header and the body's argument is used",
            "POST",
            wire(True, "tools/call", "core_list_zonas", extra=[("Mcp-Param-zone_id", "2")]),
            tools_call("core_list_zonas", {"zone_id": 1}),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/zonas", "zone_id=1"),),
        ),
        *(
            Entry(
                f"cursor-never-issued-harmless-{form(modern)}",
                "tools/list with a cursor that was never issued: the catalog has one page, served whole",
                "POST",
                wire(modern),
                encode(message("tools/list", {"cursor": "garbage"}, modern=modern)),
                outcome=SERVED,
            )
            for modern in (True, False)
        ),
        Entry(
            "query-string-harmless",
            "/mcp?debug=1&client=globex: the query string means nothing",
            "POST",
            wire(),
            tools_list(),
            path="/mcp?debug=1&client=globex",
            outcome=SERVED,
        ),
        Entry(
            "session-id-harmless",
            "an Mcp-Session-Id on a stateless server: ignored",
            "POST",
            wire(False, extra=[("Mcp-Session-Id", "made-up")]),
            tools_list(False),
            outcome=SERVED,
        ),
        Entry(
            "forwarded-for-harmless",
            "X-Forwarded-For and X-Real-IP: ignored",
            "POST",
            wire(extra=[("X-Forwarded-For", "10.0.0.1, 127.0.0.1"), ("X-Real-IP", "10.0.0.1")]),
            tools_list(),
            outcome=SERVED,
        ),
        Entry(
            "arguments-null-no-argument-tool",
            "arguments null for a tool without arguments: the SDK reads it as none",
            "POST",
            wire(True, "tools/call", "core_list_sucursales"),
            tools_call("core_list_sucursales", None),
            outcome=SERVED,
            upstream=(Upstream("GET", CORE + "/core/sucursales"),),
        ),
        Entry(
            "search-nul-harmless",
            "a NUL in the search text: sent percent-encoded, harmless",
            "POST",
            wire(False, "tools/call", "checklist_list_checks"),
            tools_call("checklist_list_checks", {"search": "a\x00b"}, modern=False),
            outcome=SERVED,
            upstream=(Upstream("GET", "/front/api/checklist/data/checks", "search=a%00b"),),
        ),
    ],
)

CORPUS: tuple[Entry, ...] = tuple(entry for entries in CORPUS_FAMILIES.values() for entry in entries)
