"""One `ClientConfig` row per OneApp customer: where its OneApp lives and how to authenticate there."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractGrant

from tenants.audit import ToolCall  # noqa: F401 - the audit log's model, registered with this app here
from tenants.crypto import EncryptedTextField
from tenants.identifiers import CLIENT_ID_MAX_LENGTH, CLIENT_ID_PATTERN, normalise_client_id
from tenants.keys import StoredKey, generate_key, hash_key, shown_prefix
from tenants.oneapp.catalog import TOOL_NAMES, WRITING_TOOL

HTTP_URL_MESSAGE = "Enter an http:// or https:// URL."
# What an HTTP header value may hold: visible ASCII and inner spaces (a newline would split the header).
validate_header_value = RegexValidator(
    r"\A[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?\Z",
    "Use printable ASCII characters only, with no line breaks and no leading or trailing spaces.",
)
DEFAULT_CORE_BASE_URL = "https://api.oneapp.cl"
DEFAULT_CLIENT_BASE_URL = "https://sechpos.oneapp.cl"
DEFAULT_HTTP_TIMEOUT_MS = 30_000
MAX_HTTP_TIMEOUT_MS = 300_000
DEFAULT_RATE_LIMIT_PER_MINUTE = 600
DEFAULT_MAX_CONCURRENT_CALLS = 50
# The most of one OneApp answer a call reads, decompressed. 4 MiB is far more than any page of the
# contract's listings (and than a model can take in). Parsing JSON holds the event loop: about 10 ms
# per MiB on a current server (json.loads), so the 16 MiB ceiling keeps one answer to a fraction of
# a second.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MIN_MAX_RESPONSE_BYTES = 1024
MAX_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A tenant's own response budget (characters of JSON in one tool result; about 4 to a token). Below
# 2,000 the truncation note leaves room for almost nothing; 1,000,000 is about 250,000 tokens, more
# than any client's context window today.
MIN_RESPONSE_BUDGET_CHARS = 2_000
MAX_RESPONSE_BUDGET_CHARS = 1_000_000
RESPONSE_BUDGET_TOO_SMALL = (
    "Enter at least 2000 characters (about 500 tokens): a smaller budget leaves no room for the answer. "
    "Leave it empty for the server's default."
)
RESPONSE_BUDGET_TOO_LARGE = (
    "Enter at most 1000000 characters (about 250,000 tokens), or leave it empty for the server's default."
)


def no_credentials(value: str) -> None:
    # The upstream token is the credential; a user:password in the URL would be a second, unprotected one.
    if "@" in urlsplit(value).netloc:
        raise ValidationError("Leave user names and passwords out of the URL; the token authenticates.")


class HttpURLField(models.URLField[str, str]):
    """A URL that must be http or https; a scheme-less entry in a form is read as https."""

    default_validators = [URLValidator(schemes=["http", "https"], message=HTTP_URL_MESSAGE), no_credentials]

    # Keyword arguments only, as Django's own URLField.formfield: the stub gives every field Field's
    # positional form_class, which URLField would not pass on.
    def formfield(self, **kwargs: Any) -> forms.Field | None:  # type: ignore[override]
        # The form field would otherwise replace our message with its own "Enter a valid URL."
        defaults = {"assume_scheme": "https", "error_messages": {"invalid": HTTP_URL_MESSAGE}}
        return super().formfield(**{**defaults, **kwargs})


class ClientIdField(models.CharField[str, str]):
    """A client id is case-insensitive on the wire, so it is stored trimmed and lowercase."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return normalise_client_id(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """An immutable, decrypted copy of one tenant's connection settings for the request path."""

    client_id: str
    core_base_url: str
    client_base_url: str
    authorization: str = field(repr=False)
    client_header: str
    http_timeout_ms: int
    access_keys: tuple[StoredKey, ...] = ()
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    caller_rate_limit_per_minute: int | None = None  # None: only the tenant's limit
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS
    tools: frozenset[str] | None = None  # the tools this tenant exposes; None: all of them
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    response_budget_chars: int | None = None  # None: the server's MCP_RESPONSE_BUDGET_CHARS
    audit_arguments: bool = False  # store each tool call's arguments (redacted) in the audit log


class ClientConfig(models.Model):
    client_id = ClientIdField(
        "client id",
        max_length=CLIENT_ID_MAX_LENGTH,
        unique=True,
        validators=[
            RegexValidator(
                CLIENT_ID_PATTERN, "Use 1 to 64 lowercase letters a-z and digits 0-9, nothing else."
            )
        ],
        help_text="What MCP clients send in the X-Client-ID header. Letters a-z and digits only; "
        "it cannot be changed after the tenant is created.",
    )
    name = models.CharField(max_length=200, help_text="The customer's name, for staff.")
    description = models.TextField(blank=True)
    core_base_url = HttpURLField(
        "core base URL",
        max_length=500,
        default=DEFAULT_CORE_BASE_URL,
        help_text="Base URL of the OneApp Core API (branches, zones, visual campaigns), "
        "for example https://api.oneapp.cl.",
    )
    client_base_url = HttpURLField(
        "client base URL",
        max_length=500,
        default=DEFAULT_CLIENT_BASE_URL,
        help_text="Base URL of this customer's own OneApp front API (checklists), "
        "for example https://sechpos.oneapp.cl.",
    )
    authorization = EncryptedTextField(
        "upstream token",
        blank=True,
        validators=[validate_header_value],
        help_text="Sent verbatim as the Authorization header to OneApp. Stored encrypted.",
    )
    client_header = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_header_value],
        help_text="Sent as the `client` header, which tells OneApp which customer this is. "
        "Leave empty to send no such header.",
    )
    http_timeout_ms = models.PositiveIntegerField(
        "HTTP timeout (ms)",
        default=DEFAULT_HTTP_TIMEOUT_MS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HTTP_TIMEOUT_MS)],
        help_text="How long one call to OneApp may take before the tool reports a timeout "
        "(1 to 300000 milliseconds).",
    )
    allowed_tools = models.JSONField(
        "allowed tools",
        default=list,
        blank=True,
        help_text="The OneApp tools this tenant's MCP clients see and may call. None ticked: all of them.",
    )
    read_only = models.BooleanField(
        "read-only",
        default=False,
        help_text=f"Hide the one tool that writes to OneApp ({WRITING_TOOL}), whatever is ticked above.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        "rate limit (requests per minute)",
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Requests to /mcp this tenant may make per minute, all callers together; more get 429 "
        "Too Many Requests. With REDIS_URL set the limit holds across all workers and instances, "
        "otherwise in each worker.",
    )
    caller_rate_limit_per_minute = models.PositiveIntegerField(
        "rate limit per caller (requests per minute)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Requests to /mcp one caller (one access key) may make per minute, so that one busy "
        "client cannot use up the tenant's limit; more get 429. Empty: only the tenant's limit applies.",
    )
    max_concurrent_calls = models.PositiveIntegerField(
        "concurrent OneApp calls",
        default=DEFAULT_MAX_CONCURRENT_CALLS,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text="At most this many calls to OneApp at once for this tenant, per worker, so that one "
        "busy tenant cannot take every connection. Further calls wait up to the timeout.",
    )
    max_response_bytes = models.PositiveIntegerField(
        "largest OneApp answer (bytes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_MAX_RESPONSE_BYTES), MaxValueValidator(MAX_MAX_RESPONSE_BYTES)],
        help_text="The most of one OneApp answer a tool call reads, counted after decompression. A larger "
        "answer is not read further and the tool reports an error naming this limit. Empty: the default, "
        "4 MiB (4194304 bytes). 1024 to 16777216.",
    )
    response_budget_chars = models.PositiveIntegerField(
        "response budget (characters)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(MIN_RESPONSE_BUDGET_CHARS, RESPONSE_BUDGET_TOO_SMALL),
            MaxValueValidator(MAX_RESPONSE_BUDGET_CHARS, RESPONSE_BUDGET_TOO_LARGE),
        ],
        help_text="The most characters of JSON one tool result may hold (about 4 characters a token). "
        "A longer result is cut at a list item, with a note telling the model how many items it got, "
        "how many there are and how to ask for less. Empty: the server's default, "
        "MCP_RESPONSE_BUDGET_CHARS (80000, about 20,000 tokens, unless set). 2000 to 1000000.",
    )
    audit_arguments = models.BooleanField(
        "store tool call arguments",
        default=False,
        help_text="Keep each tool call's arguments in the audit log, with anything secret-looking "
        "(tokens, keys, passwords, URL query values) replaced by [redacted]. Off: only which tool, "
        "who, when and how it ended.",
    )
    enabled = models.BooleanField(
        default=True, help_text="A disabled tenant is refused at /mcp as an unknown client."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField("last change", auto_now=True)

    class Meta:
        ordering = ["client_id"]
        verbose_name = "tenant"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(http_timeout_ms__gte=1, http_timeout_ms__lte=MAX_HTTP_TIMEOUT_MS),
                name="tenants_timeout_in_range",
            ),
        ]

    # The client id as loaded (from_db), to refuse a change to it; not set on a tenant not yet saved.
    _stored_client_id: str | None

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})" if self.name else self.client_id

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> ClientConfig:
        instance = super().from_db(db, field_names, values)
        instance._stored_client_id = instance.__dict__.get("client_id")
        return instance

    def clean(self) -> None:
        unknown = sorted(set(self.allowed_tools or ()) - set(TOOL_NAMES))
        if not isinstance(self.allowed_tools, list) or unknown:
            raise ValidationError(
                {"allowed_tools": f"Unknown tools: {', '.join(map(str, unknown)) or self.allowed_tools}."}
            )
        stored = getattr(self, "_stored_client_id", None)
        if stored is not None and self.client_id != stored:
            raise ValidationError({"client_id": "The client id cannot be changed after creation."})

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.client_id = cast(ClientIdField, self._meta.get_field("client_id")).to_python(self.client_id)
        self.core_base_url = self.core_base_url.rstrip("/")
        self.client_base_url = self.client_base_url.rstrip("/")
        self.clean()
        super().save(*args, **kwargs)
        self._stored_client_id = self.client_id

    @classmethod
    def token_field(cls) -> EncryptedTextField:
        return cast(EncryptedTextField, cls._meta.get_field("authorization"))

    @property
    def has_token(self) -> bool:
        """Whether a token is stored, without decrypting it."""
        return self.token_field().is_set(self)

    def token_hint(self) -> str:
        """A masked hint such as ••••1a2b, or "not set". Decrypts, so it may raise TokenDecryptionError."""
        token = self.authorization
        if not token:
            return "not set"
        return "••••" + (token[-4:] if len(token) >= 12 else "")

    def snapshot(self, access_keys: tuple[StoredKey, ...] = ()) -> TenantSettings:
        return TenantSettings(
            client_id=self.client_id,
            core_base_url=self.core_base_url,
            client_base_url=self.client_base_url,
            authorization=self.authorization,
            client_header=self.client_header,
            http_timeout_ms=self.http_timeout_ms,
            access_keys=access_keys,
            rate_limit_per_minute=self.rate_limit_per_minute,
            caller_rate_limit_per_minute=self.caller_rate_limit_per_minute,
            max_concurrent_calls=self.max_concurrent_calls,
            tools=self.exposed_tools(),
            max_response_bytes=self.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES,
            response_budget_chars=self.response_budget_chars,
            audit_arguments=self.audit_arguments,
        )

    def exposed_tools(self) -> frozenset[str] | None:
        """The allow-list with the read-only switch applied; None when every tool is exposed."""
        if not self.allowed_tools and not self.read_only:
            return None
        tools = frozenset(self.allowed_tools) if self.allowed_tools else frozenset(TOOL_NAMES)
        return tools - {WRITING_TOOL} if self.read_only else tools


class AccessKey(models.Model):
    """A key an MCP client presents as `Authorization: Bearer …` to act for one tenant."""

    tenant = models.ForeignKey(ClientConfig, on_delete=models.CASCADE, related_name="access_keys")
    name = models.CharField(
        max_length=100, help_text="Who or what uses this key, e.g. “Claude Desktop, Ana”."
    )
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this moment the key stops working. Empty: it does not expire."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["tenant__client_id", "-created_at"]
        verbose_name = "access key"

    def __str__(self) -> str:
        return f"{self.display_prefix} ({self.name})"

    @property
    def display_prefix(self) -> str:
        return shown_prefix(self.prefix)

    @classmethod
    def issue(
        cls, tenant: ClientConfig, name: str, expires_at: datetime | None = None
    ) -> tuple[AccessKey, str]:
        """Create a key; returns the row and the key itself, which is not stored and cannot be shown again."""
        key, prefix = generate_key()
        access_key = cls(
            tenant=tenant, name=name, prefix=prefix, key_hash=hash_key(key), expires_at=expires_at
        )
        access_key.full_clean()
        access_key.save()
        return access_key, key

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def stored_key(self) -> StoredKey:
        return StoredKey(self.pk, self.prefix, self.key_hash, self.expires_at, self.name)


class TenantChange(models.Model):
    """One committed change to a tenant or its keys; every worker polls these to drop stale servers.

    A change to who may hold OAuth tokens for the tenant (a token revoked, a membership, a user) is of
    kind "tokens": it drops the tokens checked for the tenant, not the tenant's settings and pool.
    """

    TENANT, TOKENS = "tenant", "tokens"

    client_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, default=TENANT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.client_id}"


class Membership(models.Model):
    """A person who may sign in for a tenant and let an MCP client act for them there (OAuth)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(ClientConfig, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__client_id", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="tenants_one_membership")]
        verbose_name = "member"

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant.client_id}"


CODE_HASH_MARK = "sha256$"


def hash_code(code: str) -> str:
    return CODE_HASH_MARK + hashlib.sha256(code.encode()).hexdigest()


class HashedCodeField(models.CharField[str, str]):
    """An authorization code kept as its SHA-256: hashed on save and in every lookup, so the toolkit's
    own queries (`Grant.objects.get(code=code)`) find it and the database never holds the code."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if isinstance(value, str) and value and not value.startswith(CODE_HASH_MARK):
            return hash_code(value)
        return value


class Grant(AbstractGrant):
    """The toolkit's authorization code (OAUTH2_PROVIDER_GRANT_MODEL), with the code hashed at rest."""

    code = HashedCodeField(max_length=255, unique=True, verbose_name="code")

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"
