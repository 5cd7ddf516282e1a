"""tools/list answers replayed: the SDK's encoded result, kept per allow-list and protocol version.

A tools/list result depends only on which tools the request may see and on the protocol version
(the SDK shapes results per version; the catalog never changes while the process runs). The SDK
answers the first request of each kind (dispatch, then the result validated, dumped and stamped for
its version); later ones get those bytes again under their own id. That work was about two thirds
of a tools/list's CPU (bench/run.py, 2026-07-28: about 410 µs before, 100-120 µs after).

mcp_endpoint/tools.py keeps the SDK's tool listing per allow-list too: that one serves what comes
here unreplayed (first requests, cursors, every request while tracing), sparing the SDK's rebuild
of 18 tool models.

The SDK still answers, every time: a request whose params hold anything but `_meta` (a cursor), and
any request while tracing is on (so that traces keep the SDK's own spans).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_endpoint import tracing
from mcp_endpoint.live_tenant import exposed_tools

MAX_ENTRIES = 1024  # distinct (allow-list, version) pairs: as many allow-lists as tenants, at worst

Key = tuple[frozenset[str] | None, str]
_results: dict[Key, bytes] = {}


def key_of(method: str, params: Mapping[str, Any] | None, version: str) -> Key | None:
    """What a request's replayed answer is kept under; None when the SDK must answer it."""
    if method != "tools/list" or tracing.active():
        return None
    if params and any(name != "_meta" for name in params):
        return None
    return exposed_tools(), version


def replayed(key: Key | None) -> bytes | None:
    """The encoded result kept for `key`, if any."""
    return None if key is None else _results.get(key)


def keep(key: Key | None, result: bytes) -> None:
    if key is None:
        return
    if len(_results) >= MAX_ENTRIES:
        _results.clear()
    _results[key] = result


def forget() -> None:
    """Drop every kept answer (tests)."""
    _results.clear()
