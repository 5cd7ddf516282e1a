"""Tenants in Django admin. The upstream token is write-only: staff can set or clear it, never read it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from tenants.crypto import TokenDecryptionError
from tenants.models import ClientConfig, header_value

TOKEN_FIELD = "new_token"  # noqa: S105 - a form field name, not a secret


class ClientConfigForm(forms.ModelForm):
    new_token = forms.CharField(
        label="Upstream token",
        required=False,
        strip=True,
        validators=[header_value],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sent verbatim as the Authorization header to OneApp (for example "
        "“Bearer …”). Write-only: it is stored encrypted and never shown again. "
        "Leave blank to keep the current token.",
    )
    clear_token = forms.BooleanField(
        label="Clear token",
        required=False,
        help_text="Remove the stored token; OneApp is then called without an Authorization header.",
    )

    class Meta:
        model = ClientConfig
        exclude = ["authorization"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance._state.adding:  # a new tenant has no token to clear
            del self.fields["clear_token"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get(TOKEN_FIELD) and cleaned.get("clear_token"):
            raise forms.ValidationError("Either enter a new token or clear it, not both.")
        return cleaned

    def save(self, commit: bool = True) -> ClientConfig:
        if self.cleaned_data.get("clear_token"):
            self.instance.authorization = ""
        elif self.cleaned_data.get(TOKEN_FIELD):
            self.instance.authorization = self.cleaned_data[TOKEN_FIELD]
        return super().save(commit)


@admin.register(ClientConfig)
class ClientConfigAdmin(admin.ModelAdmin):
    form = ClientConfigForm
    list_display = [
        "client_id",
        "name",
        "enabled",
        "core_base_url",
        "client_base_url",
        "token_status",
        "updated_at",
    ]
    list_display_links = ["client_id", "name"]
    list_filter = ["enabled"]
    search_fields = ["client_id", "name"]
    ordering = ["client_id"]
    actions = ["enable_tenants", "disable_tenants"]
    fieldsets = [
        (None, {"fields": ["client_id", "name", "description", "enabled"]}),
        ("OneApp", {"fields": ["core_base_url", "client_base_url", "client_header", "http_timeout_ms"]}),
        ("Upstream token", {"fields": ["token_status", TOKEN_FIELD, "clear_token"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: ClientConfig | None = None) -> list[str]:
        readonly = ["token_status", "created_at", "updated_at"]
        return ["client_id", *readonly] if obj is not None else readonly

    def get_fieldsets(self, request: HttpRequest, obj: ClientConfig | None = None) -> list[Any]:
        if obj is None:  # nothing to show or clear yet
            hidden = {"token_status", "clear_token", "created_at", "updated_at"}
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

    @method_decorator(sensitive_post_parameters(TOKEN_FIELD))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    @admin.action(description="Enable selected tenants", permissions=["change"])
    def enable_tenants(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> None:
        changed, selected = self._set_enabled(queryset, True)
        self.message_user(
            request,
            f"Enabled {changed} of {selected} selected tenant{pluralize(selected)}.",
            messages.SUCCESS,
        )

    @admin.action(description="Disable selected tenants", permissions=["change"])
    def disable_tenants(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> None:
        changed, selected = self._set_enabled(queryset, False)
        self.message_user(
            request,
            f"Disabled {changed} of {selected} selected tenant{pluralize(selected)}.",
            messages.SUCCESS,
        )

    @staticmethod
    def _set_enabled(queryset: QuerySet[ClientConfig], enabled: bool) -> tuple[int, int]:
        """Set `enabled` on the selected tenants; return how many changed and how many were selected."""
        tenants = list(queryset)
        changed = [tenant for tenant in tenants if tenant.enabled != enabled]
        # Saved one by one, not with update(), so that save signals drop the cached servers.
        for tenant in changed:
            tenant.enabled = enabled
            tenant.save(update_fields=["enabled", "updated_at"])
        return len(changed), len(tenants)
