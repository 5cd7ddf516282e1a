"""The audit log: one `ToolCall` row per tool call, who made it, how it ended, and (if the tenant
asks for it) its arguments with anything secret-looking redacted.

Rows name their tenant by client id, not by a foreign key: a tenant deleted is no reason to lose
its history, and the writer (mcp_endpoint/audit_trail.py) needs nothing but what the request path
holds. Who called is a `Caller`: today an access key (its shown prefix and its name); an OAuth
sign-in fills the same columns with its user and its client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import models
from django.utils import timezone
from pydantic_core import to_jsonable_python

from tenants.keys import KEY_MARK, StoredKey, shown_prefix
from tenants.oneapp.redaction import MARK, Redactor

OK = "ok"
REFUSED = "refused"  # a tool the tenant does not expose, or one that does not exist
INVALID_ARGUMENTS = "invalid_arguments"
# A secret-looking name: its value is never stored, whatever it is.
_SECRET_NAME = re.compile(r"pass|secret|token|auth|key|credential|cookie|session|signature|sig\b", re.I)
# A secret-looking value: an access key, a scheme word and a credential, a JWT.
_SECRET_VALUE = re.compile(
    rf"{KEY_MARK}\w+|\b(?:bearer|basic|token)\s+\S+|\beyJ[\w-]+\.[\w-]+\.[\w-]*", re.IGNORECASE
)
MAX_TEXT = 500  # characters of one stored argument value; the rest is cut
MAX_ITEMS = 50  # items of one stored list or object


class CallerKind(models.TextChoices):
    KEY = "key", "access key"
    OAUTH = "oauth", "OAuth"
    NONE = "none", "no credential"  # MCP_REQUIRE_ACCESS_KEY off


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: `ident` is what filters and groups (an access key's shown prefix, an OAuth
    user's id), `name` what people read (the key's name, the user's name), `client` the OAuth client."""

    kind: str
    ident: str = ""
    name: str = ""
    client: str = ""

    @classmethod
    def of_key(cls, key: StoredKey) -> Caller:
        return cls(CallerKind.KEY, shown_prefix(key.prefix), key.name)


ANONYMOUS = Caller(CallerKind.NONE)


class ToolCall(models.Model):
    at = models.DateTimeField("when", help_text="When the call began.")
    client_id = models.CharField("tenant", max_length=64)
    caller_kind = models.CharField(max_length=8, choices=CallerKind.choices, default=CallerKind.NONE)
    caller = models.CharField(max_length=100, blank=True)
    caller_name = models.CharField(max_length=200, blank=True)
    caller_client = models.CharField("OAuth client", max_length=200, blank=True)
    tool = models.CharField(max_length=100)
    outcome = models.CharField(
        max_length=32,
        help_text="ok; refused (a tool not exposed to the tenant); invalid_arguments; the kind of OneApp "
        "failure (status, timeout, unreachable, busy, …); error (a fault of ours); cancelled.",
    )
    upstream_status = models.PositiveSmallIntegerField("OneApp status", null=True, blank=True)
    duration_ms = models.FloatField("duration (ms)")
    arguments = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "tool call"
        verbose_name_plural = "audit log"
        ordering = ["-at"]
        # The list in admin (newest first, whole or by one filter) and the usage charts (a time range,
        # whole or of one tenant) read these (their PostgreSQL plans: the README, "Usage and audit log").
        indexes = [
            models.Index(fields=["at"], name="toolcall_at"),
            models.Index(fields=["client_id", "at"], name="toolcall_tenant_at"),
            models.Index(fields=["tool", "at"], name="toolcall_tool_at"),
            models.Index(fields=["outcome", "at"], name="toolcall_outcome_at"),
            models.Index(fields=["caller", "at"], name="toolcall_caller_at"),
        ]

    def __str__(self) -> str:
        return f"{self.tool} by {self.client_id} at {self.at:%Y-%m-%d %H:%M:%S}"


def redacted_arguments(arguments: Any, authorization: str) -> Any:
    """Arguments as stored: secret-named values, credentials, echoes of the tenant's token and URL
    query values replaced with [redacted]; long texts and lists cut."""
    jsonable = to_jsonable_python(arguments, fallback=lambda value: MARK)  # the argument models' values
    return Redactor(authorization).json(_plain(jsonable))


def _plain(value: Any, name: str = "") -> Any:
    if name and _SECRET_NAME.search(name):
        return MARK
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {str(key)[:MAX_TEXT]: _plain(item, str(key)) for key, item in items}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value[:MAX_ITEMS]]
    if isinstance(value, str):
        return _plain_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return MARK  # nothing else comes out of to_jsonable_python


def _plain_text(text: str) -> str:
    text = _SECRET_VALUE.sub(MARK, text[:MAX_TEXT])
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:
            return text
        if parts.query or "@" in parts.netloc:
            # Signed URLs carry their signature in the query, and a user:password may precede the host.
            query = "&".join(f"{pair.partition('=')[0]}={MARK}" for pair in parts.query.split("&") if pair)
            host = parts.netloc.rpartition("@")[2]
            text = urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))
    return text


def prune(older_than: timedelta, batch: int) -> int:
    """Delete every row older than `older_than`, `batch` rows per statement (each its own short
    transaction, so that a large backlog never holds a long lock); how many went."""
    cutoff = timezone.now() - older_than
    total = 0
    while deleted := _prune_batch(cutoff, batch):
        total += deleted
    return total


def _prune_batch(cutoff: datetime, batch: int) -> int:
    ids = list(ToolCall.objects.filter(at__lt=cutoff).order_by("at").values_list("id", flat=True)[:batch])
    if not ids:
        return 0
    deleted, _ = ToolCall.objects.filter(id__in=ids).delete()
    return deleted
