"""The tenant admin: one page per OneApp customer, with its write-only upstream token and its keys.

The upstream token is write-only: staff can set or clear it, never read it. Access keys are
edited inline and a new one is shown once (see keys.py); operations on running tenants, such as
testing the connection, are in operations.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from tenants.admin.audit import usage_charts
from tenants.admin.forms import TOKEN_FIELD, ClientConfigForm
from tenants.admin.keys import AccessKeyInline, ShowIssuedKeys
from tenants.admin.members import MembershipInline
from tenants.admin.operations import TenantOperations
from tenants.crypto import TokenDecryptionError
from tenants.models import ClientConfig
from tenants.usage import usage

# Fields that mean nothing before the tenant exists.
_NOT_ON_ADD = {"token_status", "clear_token", "cache_status", "created_at", "updated_at"}


@admin.register(ClientConfig)
class ClientConfigAdmin(ShowIssuedKeys, TenantOperations, admin.ModelAdmin[ClientConfig]):
    form = ClientConfigForm
    list_display = [
        "client_id",
        "name",
        "enabled",
        "core_base_url",
        "client_base_url",
        "token_status",
        "cache_status",
        "updated_at",
    ]
    list_display_links = ["client_id", "name"]
    list_filter = ["enabled", "read_only"]
    search_fields = ["client_id", "name"]
    ordering = ["client_id"]
    actions = ["enable_tenants", "disable_tenants", "test_connection", "drop_cached_server"]
    inlines = [AccessKeyInline, MembershipInline]
    fieldsets = [
        (None, {"fields": ["client_id", "name", "description", "enabled"]}),
        (
            "OneApp connection",
            {"fields": ["core_base_url", "client_base_url", "client_header", "http_timeout_ms"]},
        ),
        ("Upstream token", {"fields": ["token_status", TOKEN_FIELD, "clear_token"]}),
        ("Tools", {"fields": ["allowed_tools", "read_only"]}),
        (
            "Limits",
            {
                "fields": [
                    "rate_limit_per_minute",
                    "caller_rate_limit_per_minute",
                    "max_concurrent_calls",
                    "max_response_bytes",
                    "response_budget_chars",
                ]
            },
        ),
        ("Audit log", {"fields": ["audit_arguments"]}),
        ("Status and history", {"fields": ["cache_status", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: ClientConfig | None = None) -> list[str]:
        readonly = ["token_status", "cache_status", "created_at", "updated_at"]
        return ["client_id", *readonly] if obj is not None else readonly

    def get_fieldsets(self, request: HttpRequest, obj: ClientConfig | None = None) -> list[Any]:
        if obj is None:
            hidden = _NOT_ON_ADD
        elif not self.has_change_permission(request, obj):  # view-only staff have nothing to write
            hidden = {TOKEN_FIELD, "clear_token"}
        else:
            return self.fieldsets
        fieldsets = [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in self.fieldsets
        ]
        return [(name, opts) for name, opts in fieldsets if opts["fields"]]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # No filtering on the token column, not even on its ciphertext, from the changelist URL.
        if lookup.split(LOOKUP_SEP)[0] == "authorization":
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description="token")
    def token_status(self, obj: ClientConfig) -> str:
        try:
            return obj.token_hint()
        except TokenDecryptionError:
            return "cannot be decrypted (check TOKEN_ENCRYPTION_KEYS)"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The tenant page, with its usage of the last 7 days for staff who may read the audit log."""
        tenant = self.get_object(request, unquote(object_id))
        if tenant is not None and request.user.has_perm("tenants.view_toolcall"):
            report = usage(tenant.client_id)
            extra_context = {**(extra_context or {}), "usage": report, "charts": usage_charts(report)}
        return super().change_view(request, object_id, form_url, extra_context)

    @method_decorator(sensitive_post_parameters(TOKEN_FIELD))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)
