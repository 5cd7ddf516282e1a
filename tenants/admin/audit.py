"""The audit log in admin: read-only for everyone, and quick on millions of rows.

Quick because nothing scans the table: the filters offer choices from the small tables (tenants,
keys) and the catalog, never a DISTINCT over the log; the list reads a page from an index
(tenants/audit.py); and no full COUNT(*) is made: Django's is switched off, and on PostgreSQL the
paginator takes the planner's estimate once it is past ESTIMATE_ABOVE rows.
The usage dashboard across tenants is a view of this admin (usage_view), linked from the index.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tenants.admin.charts import hours_chart, ranked_chart
from tenants.audit import INVALID_ARGUMENTS, OK, REFUSED, ToolCall
from tenants.keys import shown_prefix
from tenants.models import AccessKey, ClientConfig
from tenants.oneapp.catalog import TOOL_NAMES
from tenants.usage import Usage, tenants_use, usage

ESTIMATE_ABOVE = 10_000
USAGE_TEMPLATE = "admin/tenants/toolcall/usage_dashboard.html"
# Every outcome a call can have (tenants/oneapp/faults.py names the OneApp failures).
OUTCOMES = (OK, REFUSED, INVALID_ARGUMENTS, "status", "timeout", "unreachable", "tls", "reset", "closed",
            "bad_response", "too_large", "not_json", "transport", "busy", "error", "cancelled")  # fmt: skip

DETAIL_FIELDS = ("at", "client_id", "caller_shown", "tool", "outcome", "upstream_status", "duration",
                 "arguments_shown")  # fmt: skip


class EstimatedCountPaginator(Paginator[Any]):
    """Counts exactly up to ESTIMATE_ABOVE rows; past that, on PostgreSQL, says what the planner
    estimates (EXPLAIN, no scan) rather than counting millions of rows for a page number."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or connections[queryset.db].vendor != "postgresql":
            return super().count
        plan = json.loads(queryset.explain(format="json"))
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return estimate if estimate > ESTIMATE_ABOVE else super().count


class SpanDates(QuerySet[ToolCall]):
    """The admin's queryset of the log. Its date drill-down (date_hierarchy) asks for the distinct
    years, months or days that have calls, which PostgreSQL answers by reading every row (0.6 s for a
    million). Here they are every one from the first call to the last (two reads of an index); a day
    without calls is then a link to an empty page, which is no harm."""

    def datetimes(  # type: ignore[override]
        self, field_name: str, kind: str, order: str = "ASC", tzinfo: dt.tzinfo | None = None
    ) -> list[dt.datetime]:
        span = self.aggregate(first=Min(field_name), last=Max(field_name))
        if span["first"] is None:
            return []
        first, last = (timezone.localtime(span[end]) for end in ("first", "last"))
        moments = []
        moment = _truncated(first, kind)
        while moment <= last:
            moments.append(moment)
            moment = _next(moment, kind)
        return moments if order == "ASC" else moments[::-1]


def _truncated(moment: dt.datetime, kind: str) -> dt.datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"year": day.replace(month=1, day=1), "month": day.replace(day=1)}.get(kind, day)


def _next(moment: dt.datetime, kind: str) -> dt.datetime:
    if kind == "year":
        return moment.replace(year=moment.year + 1)
    if kind == "month":
        return moment.replace(year=moment.year + moment.month // 12, month=moment.month % 12 + 1)
    return timezone.localtime(moment + dt.timedelta(days=1)).replace(hour=0)  # a day, across DST too


class ChoicesFilter(admin.SimpleListFilter):
    """A filter on one column whose choices are known without reading the log."""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


class TenantFilter(ChoicesFilter):
    title = "tenant"
    parameter_name = "client_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(tenant.client_id), str(tenant)) for tenant in ClientConfig.objects.all()]


class ToolFilter(ChoicesFilter):
    title = "tool"
    parameter_name = "tool"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in sorted(TOOL_NAMES)]


class OutcomeFilter(ChoicesFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(outcome, outcome) for outcome in OUTCOMES]


class CallerFilter(ChoicesFilter):
    title = "caller"
    parameter_name = "caller"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        keys = AccessKey.objects.select_related("tenant").order_by("tenant__client_id", "name")
        return [(shown_prefix(key.prefix), f"{key.tenant.client_id}: {key}") for key in keys]


@admin.register(ToolCall)
class ToolCallAdmin(admin.ModelAdmin[ToolCall]):
    list_display = ["when", "client_id", "tool", "outcome", "upstream_status", "duration", "caller_shown"]
    list_filter = [TenantFilter, ToolFilter, OutcomeFilter, CallerFilter]
    date_hierarchy = "at"
    ordering = ["-at"]
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice: a scan of the log each
    # Columns with an index on (column, at); sorting by duration or status would sort every row.
    sortable_by = ["when", "client_id", "tool", "outcome", "caller_shown"]
    paginator = EstimatedCountPaginator
    fields = readonly_fields = DETAIL_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ToolCall]:
        queryset = super().get_queryset(request)
        return SpanDates(ToolCall, query=queryset.query, using=queryset.db)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ToolCall | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ToolCall | None = None) -> bool:
        return False  # rows go only with age (manage.py prune_audit_log)

    @admin.display(description="caller", ordering="caller")
    def caller_shown(self, obj: ToolCall) -> str:
        if not obj.caller:
            return obj.get_caller_kind_display()
        shown = f"{obj.caller} ({obj.caller_name})" if obj.caller_name else obj.caller
        return f"{shown} via {obj.caller_client}" if obj.caller_client else shown

    @admin.display(description="when", ordering="at")
    def when(self, obj: ToolCall) -> str:
        return f"{timezone.localtime(obj.at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj: ToolCall) -> str:
        return f"{obj.duration_ms:,.1f} ms"

    @admin.display(description="arguments")
    def arguments_shown(self, obj: ToolCall) -> SafeString | str:
        if obj.arguments is None:
            return "not stored (the tenant's “store tool call arguments” is off)"
        text = json.dumps(obj.arguments, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre class="tool-call-arguments">{}</pre>', text)

    def get_urls(self) -> list[URLPattern]:
        dashboard = path("usage/", self.admin_site.admin_view(self.usage_view), name="tenants_toolcall_usage")
        return [dashboard, *super().get_urls()]

    def usage_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = usage()
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage of the last 7 days, all tenants",
            "opts": self.model._meta,
            "usage": report,
            "charts": usage_charts(report),
            "tenants": tenants_use(report.since),
        }
        return TemplateResponse(request, USAGE_TEMPLATE, context)


def usage_charts(report: Usage) -> dict[str, SafeString]:
    return {
        "hours": hours_chart(report.hours, "Tool calls per hour over the last 7 days, ok and failed"),
        "tools": ranked_chart(report.tools, "Most called tools"),
        "callers": ranked_chart(report.callers, "Most active callers"),
    }
