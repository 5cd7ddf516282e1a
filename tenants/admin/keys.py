"""Access keys in admin: inline on their tenant, where a new key is shown once, and a list of every key.

Only a key's prefix is ever shown after its creation; the hash is in no field, column or lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control

from tenants.admin.forms import AccessKeyForm
from tenants.keys import KEY_MARK
from tenants.models import AccessKey, ClientConfig

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups  # the stubs' name for what get_fields returns

KEYS_PREFIX = "access_keys"  # the inline formset's prefix in the tenant form
KEY_CREATED_TEMPLATE = "admin/tenants/clientconfig/key_created.html"
_ISSUED_KEYS = "_issued_access_keys"  # request attribute: keys issued while handling this request


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key issued in this request, for its one showing; kept out of reprs and error reports."""

    access_key: AccessKey
    key: str = field(repr=False)


class AccessKeyColumns(BaseModelAdmin[AccessKey]):
    """What the inline and the key admin share. The hash is never among the fields."""

    # obj is the key on the key admin's pages, but the tenant on the inline (Django passes the parent).
    def get_fields(self, request: HttpRequest, obj: Any = None) -> _FieldGroups:
        # Staff who cannot change keys get no revoke column: there is nothing in it for them.
        fields = list(super().get_fields(request, obj))
        if self.has_change_permission(request, obj):
            return fields
        return [name for name in fields if name != "revoke"]

    @admin.display(description="prefix")
    def key_prefix(self, obj: AccessKey) -> str:
        return obj.display_prefix if obj.prefix else "-"


class AccessKeyInline(AccessKeyColumns, admin.TabularInline[AccessKey, ClientConfig]):
    model = AccessKey
    form = AccessKeyForm
    fields = ["name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "revoke"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]
    extra = 1
    show_change_link = True


class ShowIssuedKeys(admin.ModelAdmin[ClientConfig]):
    """For the tenant admin: the response to a save that created keys shows them, once."""

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
class AccessKeyAdmin(AccessKeyColumns, admin.ModelAdmin[AccessKey]):
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
        return super().get_search_results(request, queryset, search_term.strip().removeprefix(KEY_MARK))

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
