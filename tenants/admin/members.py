"""Tenant members in admin: inline on the tenant page and on the user page, and a list of every
membership with the OAuth clients each member authorised, which staff can revoke.

A member signs in only to let an MCP client act for a tenant; membership gives no admin access.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from tenants.models import ClientConfig, Membership
from tenants.oauth.members import active_tokens, revoke_access


class AuthorisedClients(admin.ModelAdmin[Membership]):
    @admin.display(description="authorised clients (active grants)")
    def authorised_clients(self, obj: Membership) -> str:
        if not obj.pk:  # a row not saved yet
            return "-"
        tokens = active_tokens(obj)
        if not tokens:
            return "none"
        rows = (
            (
                token.application.name if token.application else "?",
                token.scope,
                f"{token.expires:%Y-%m-%d %H:%M}",
            )
            for token in tokens
        )
        return format_html_join(", ", "{} ({}; until {})", rows)


class MembershipForm(forms.ModelForm[Membership]):
    class Meta:
        model = Membership
        fields = ["user"]
        help_texts = {
            "user": "Who may sign in to let an MCP client act for this tenant. Add users under "
            "Authentication and authorization; they need not be staff. Removing a member stops their "
            "clients' tokens within seconds.",
            "created_at": "When the user became a member.",
            "authorised_clients": "The MCP clients this member let act for the tenant, with the scopes "
            "and expiry of each access token. Revoke them from the Members list.",
        }


class MembershipInline(admin.TabularInline[Membership, ClientConfig]):
    model = Membership
    form = MembershipForm
    fields = ["user", "created_at", "authorised_clients"]
    readonly_fields = ["created_at", "authorised_clients"]
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = "member (signs in to let MCP clients act for this tenant)"
    authorised_clients = AuthorisedClients.authorised_clients


class UserMembershipInline(admin.TabularInline[Membership, AbstractBaseUser]):
    model = Membership
    fields = ["tenant", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["tenant"]
    extra = 0
    verbose_name = "tenant membership"


@admin.register(Membership)
class MembershipAdmin(AuthorisedClients):
    list_display = ["user", "tenant", "created_at", "authorised_clients"]
    list_filter = ["tenant"]
    search_fields = ["user__username", "tenant__client_id", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]
    actions = ["revoke_authorised_clients"]

    @admin.action(description="Revoke the OAuth access the selected members gave to clients")
    def revoke_authorised_clients(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        ended = sum(revoke_access(membership) for membership in queryset.select_related("tenant"))
        self.message_user(request, f"Revoked {ended} grant(s) of {queryset.count()} member(s).")


User = get_user_model()


class MemberUserAdmin(UserAdmin):  # type: ignore[type-arg]
    inlines = [*UserAdmin.inlines, UserMembershipInline]


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, MemberUserAdmin)
