"""Tenants and their access keys in Django admin.

The upstream token is write-only: staff can set or clear it, never read it. An access key is
generated on save and shown once, in the response to that save; only its prefix is shown after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from tenants.crypto import TokenDecryptionError
from tenants.keys import generate_key, hash_key
from tenants.models import AccessKey, ClientConfig, header_value

TOKEN_FIELD = "new_token"  # noqa: S105 - a form field name, not a secret
KEYS_PREFIX = "access_keys"  # the inline formset's prefix in the tenant form
KEY_CREATED_TEMPLATE = "admin/tenants/clientconfig/key_created.html"
_ISSUED_KEYS = "_issued_access_keys"  # request attribute: keys issued while handling this request


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key issued in this request, for its one showing; kept out of reprs and error reports."""

    access_key: AccessKey
    key: str = field(repr=False)


class AccessKeyForm(forms.ModelForm):
    revoke = forms.BooleanField(
        label="Revoke",
        required=False,
        help_text="Tick and save to revoke the key: it stops working at once. This cannot be undone.",
    )

    class Meta:
        model = AccessKey
        fields = ["name", "expires_at"]
        help_texts = {
            "name": "Who or what uses this key. Saving a new row creates the key and shows it once, "
            "on the next page.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new_key: str | None = None
        if self.instance._state.adding or self.instance.revoked_at is not None:
            self.fields["revoke"].disabled = True

    def clean_expires_at(self) -> datetime | None:
        expires_at = self.cleaned_data["expires_at"]
        if "expires_at" in self.changed_data and expires_at and expires_at <= timezone.now():
            raise forms.ValidationError("Pick a moment in the future; to stop a key now, revoke it.")
        return expires_at

    def save(self, commit: bool = True) -> AccessKey:
        if self.instance._state.adding:
            # As AccessKey.issue does; the key itself stays in this form, for this request only.
            self.new_key, self.instance.prefix = generate_key()
            self.instance.key_hash = hash_key(self.new_key)
        access_key = super().save(commit)
        if self.cleaned_data.get("revoke"):
            access_key.revoke()  # a save of its own, so every worker drops the tenant's server
        return access_key


class AccessKeyColumns(BaseModelAdmin):
    """What the inline and the key admin share. The hash is never among the fields."""

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Staff who cannot change keys get no revoke column: there is nothing in it for them.
        fields = list(super().get_fields(request, obj))
        if self.has_change_permission(request, obj):
            return fields
        return [name for name in fields if name != "revoke"]

    @admin.display(description="prefix")
    def key_prefix(self, obj: AccessKey) -> str:
        return obj.display_prefix if obj.prefix else "-"


class AccessKeyInline(AccessKeyColumns, admin.TabularInline):
    model = AccessKey
    form = AccessKeyForm
    fields = ["name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "revoke"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    extra = 1
    show_change_link = True


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
    inlines = [AccessKeyInline]
    fieldsets = [
        (None, {"fields": ["client_id", "name", "description", "enabled"]}),
        ("OneApp", {"fields": ["core_base_url", "client_base_url", "client_header", "http_timeout_ms"]}),
        ("Limits", {"fields": ["rate_limit_per_minute", "max_concurrent_calls"]}),
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

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        issued = [IssuedKey(f.instance, f.new_key) for f in formset.forms if getattr(f, "new_key", None)]
        if issued:
            # On the request, not in messages, the session or a cookie: those would keep the key.
            request.__dict__.setdefault(_ISSUED_KEYS, []).extend(issued)

    def response_add(
        self, request: HttpRequest, obj: ClientConfig, post_url_continue: str | None = None
    ) -> HttpResponse:
        if getattr(request, _ISSUED_KEYS, None):
            return self._show_issued_keys(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: ClientConfig) -> HttpResponse:
        if getattr(request, _ISSUED_KEYS, None):
            return self._show_issued_keys(request, obj)
        return super().response_change(request, obj)

    def _show_issued_keys(self, request: HttpRequest, obj: ClientConfig) -> HttpResponse:
        """The one page that ever shows the new keys: the response to the save itself, never stored."""
        request.current_app = self.admin_site.name
        issued = getattr(request, _ISSUED_KEYS)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Copy the new access key{pluralize(len(issued))} now",
            "opts": self.opts,
            "original": obj,
            "issued": issued,
            "tenant_url": reverse(
                "admin:tenants_clientconfig_change", args=[obj.pk], current_app=self.admin_site.name
            ),
        }
        response = TemplateResponse(request, KEY_CREATED_TEMPLATE, context)
        patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
        return response

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


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AccessKey]) -> QuerySet[AccessKey]:
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


@admin.register(AccessKey)
class AccessKeyAdmin(AccessKeyColumns, admin.ModelAdmin):
    """Every key across tenants. Keys are created on their tenant's page or with create_access_key."""

    form = AccessKeyForm
    list_display = [
        "key_prefix",
        "name",
        "tenant",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_display_links = ["key_prefix", "name"]
    list_filter = ["tenant", RevokedFilter]
    list_select_related = ["tenant"]
    search_fields = ["prefix", "name"]
    actions = ["revoke_keys"]
    fields = [
        "tenant",
        "name",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoke",
    ]
    readonly_fields = ["tenant", "key_prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccessKey], search_term: str
    ) -> tuple[QuerySet[AccessKey], bool]:
        # Staff paste prefixes as admin shows them, with omk_.
        return super().get_search_results(request, queryset, search_term.strip().removeprefix("omk_"))

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # No filtering on the hash from the changelist URL: it would read the hash out piece by piece.
        if lookup.split(LOOKUP_SEP)[0] == "key_hash":
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[AccessKey]) -> None:
        keys = list(queryset)
        live = [access_key for access_key in keys if access_key.revoked_at is None]
        # One by one, not with update(), so that save signals drop the cached servers.
        for access_key in live:
            access_key.revoke()
        self.message_user(
            request,
            f"Revoked {len(live)} of {len(keys)} selected access key{pluralize(len(keys))}.",
            messages.SUCCESS,
        )
