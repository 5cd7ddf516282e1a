"""Inbound access keys: how they look, how they are hashed, and how a presented key is checked.

A key is `omk_<prefix>_<secret>`. Only the prefix (to find it) and a SHA-256 hash of the whole
key (to check it) are stored; the key itself is shown once, when it is issued.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

KEY_MARK = "omk_"  # "OneApp MCP key": lets people and secret scanners recognise a key
KEY_PATTERN = re.compile(rf"{KEY_MARK}([a-z0-9]{{8}})_[A-Za-z0-9_-]{{43}}")
_SHOWN_PREFIX = re.compile(rf"(?:{KEY_MARK})?([a-z0-9]{{8}})")
_PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def generate_key() -> tuple[str, str]:
    """A new key and its visible prefix."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(8))
    return f"{shown_prefix(prefix)}_{secrets.token_urlsafe(32)}", prefix


def shown_prefix(prefix: str) -> str:
    """A key's prefix as people see it (omk_ab12cd34): in admin, commands and logs."""
    return KEY_MARK + prefix


def parse_shown_prefix(text: str) -> str | None:
    """The stored prefix named by what someone typed (omk_ab12cd34, or just ab12cd34), or None."""
    match = _SHOWN_PREFIX.fullmatch(text.strip().lower())
    return match.group(1) if match else None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What the request path needs to check a key, without the key itself."""

    id: int
    prefix: str
    hash: str
    expires_at: datetime | None
    name: str = ""  # who or what uses it, for the audit log


def find_key(presented: str, stored: tuple[StoredKey, ...], now: datetime) -> StoredKey | None:
    """The unexpired key among `stored` that `presented` is, compared in constant time."""
    match = KEY_PATTERN.fullmatch(presented)
    if match is None:
        return None
    presented_hash = hash_key(presented)
    found = None
    for key in stored:
        # Every candidate is compared, so the time taken does not tell which prefix matched.
        if hmac.compare_digest(presented_hash, key.hash) and key.prefix == match.group(1):
            found = key
    if found is None or (found.expires_at is not None and found.expires_at <= now):
        return None
    return found
