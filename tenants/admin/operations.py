"""What staff do to running tenants: enable or disable them, test their OneApp connection, and drop
their cached state in every worker. Each is an action on the list; the last two are also buttons on the
tenant page (POST, with CSRF), which come back to that page with the action's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from tenants import serving
from tenants.connection import check_connections
from tenants.models import ClientConfig
from tenants.signals import note_tenant_change

DISABLE_CONFIRMATION_TEMPLATE = "admin/tenants/clientconfig/disable_confirmation.html"
Action = Callable[[HttpRequest, QuerySet[ClientConfig]], Any]


class TenantOperations(admin.ModelAdmin[ClientConfig]):
    @admin.display(description="server cache")
    def cache_status(self, obj: ClientConfig) -> str:
        built_at = serving.cached_since(obj.client_id)
        if built_at is None:
            return "not cached in this worker"
        built = timezone.localtime(datetime.fromtimestamp(built_at, UTC))
        shown = f"{built:%H:%M:%S}" if built.date() == timezone.localdate() else f"{built:%Y-%m-%d %H:%M:%S}"
        return f"cached in this worker since {shown}"

    @admin.action(description="Enable selected tenants", permissions=["change"])
    def enable_tenants(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> None:
        changed, selected = self._set_enabled(queryset, True)
        self.message_user(
            request,
            f"Enabled {changed} of {selected} selected tenant{pluralize(selected)}.",
            messages.SUCCESS,
        )

    @admin.action(description="Disable selected tenants", permissions=["change"])
    def disable_tenants(
        self, request: HttpRequest, queryset: QuerySet[ClientConfig]
    ) -> TemplateResponse | None:
        if request.POST.get("post") != "yes":  # first ask, as Django's delete action does
            return self._confirm_disable(request, queryset)
        changed, selected = self._set_enabled(queryset, False)
        self.message_user(
            request,
            f"Disabled {changed} of {selected} selected tenant{pluralize(selected)}.",
            messages.SUCCESS,
        )
        return None

    @admin.action(description="Test OneApp connection of selected tenants", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> None:
        # One line per tenant, as each tenant's answer is its own.
        for result in check_connections(list(queryset)):
            self.message_user(request, str(result), messages.SUCCESS if result.ok else messages.ERROR)

    @admin.action(description="Drop cached server of selected tenants", permissions=["change"])
    def drop_cached_server(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> None:
        client_ids = list(queryset.values_list("client_id", flat=True))
        # The same change record a save writes: every worker drops its copy within about a second.
        for client_id in client_ids:
            note_tenant_change(client_id)
        count = len(client_ids)
        self.message_user(
            request,
            f"Dropped the cached server of {count} tenant{pluralize(count)} in every worker; "
            "the next request rebuilds it from the database.",
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

    def _confirm_disable(self, request: HttpRequest, queryset: QuerySet[ClientConfig]) -> TemplateResponse:
        tenants = list(queryset)
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": f"Disable {len(tenants)} tenant{pluralize(len(tenants))}?",
            "opts": self.opts,
            "tenants": tenants,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, DISABLE_CONFIRMATION_TEMPLATE, context)

    # Buttons on the tenant page.

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        buttons = [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name=f"{name}_test_connection",
            ),
            path(
                "<path:object_id>/drop-cached-server/",
                self.admin_site.admin_view(self.drop_cached_server_view),
                name=f"{name}_drop_cached_server",
            ),
        ]
        return buttons + super().get_urls()  # before the catch-all `<path:object_id>/`

    @method_decorator(require_POST)
    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._run_on_one(request, object_id, self.test_connection)

    @method_decorator(require_POST)
    def drop_cached_server_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._run_on_one(request, object_id, self.drop_cached_server)

    def _run_on_one(self, request: HttpRequest, object_id: str, action: Action) -> HttpResponse:
        """Run a list action on one tenant, and go back to its page with the action's messages."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            # Django's own private helper (the admin's change view uses it), which django-stubs leaves out.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined,no-any-return]
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        action(request, self.get_queryset(request).filter(pk=obj.pk))
        opts = self.opts
        return HttpResponseRedirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
        )
