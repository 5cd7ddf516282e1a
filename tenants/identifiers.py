"""What a client id is: the one rule for the model, the admin, the legacy import and /mcp's routing."""

from __future__ import annotations

import re

CLIENT_ID_MAX_LENGTH = 64
_CLIENT_ID = re.compile(rf"[a-z0-9]{{1,{CLIENT_ID_MAX_LENGTH}}}")
CLIENT_ID_PATTERN = rf"^{_CLIENT_ID.pattern}$"  # for the model's RegexValidator (a search, hence anchored)


def normalise_client_id(value: str) -> str:
    """Client ids are case-insensitive on the wire and stored trimmed and lowercase."""
    return value.strip().lower()


def is_client_id(value: str) -> bool:
    """Whether a normalised value is a well-formed client id (1 to 64 of a-z and 0-9)."""
    return _CLIENT_ID.fullmatch(value) is not None
