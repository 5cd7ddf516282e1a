"""What the audit log says about use, for the charts in admin: every figure aggregated in the database,
over the last 7 days, of one tenant or of all of them, each on the (client_id, at) or (at) index.

Percentiles are nearest-rank (the smallest duration with at least p of the calls at or below it):
PostgreSQL's percentile_disc, elsewhere the row at that rank in duration order, so that both
databases give the same figures for the same calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Aggregate, Count, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from tenants.audit import OK, ToolCall
from tenants.models import ClientConfig

DAYS = 7
TOP = 8
FAILED = ~Q(outcome=OK)


class PercentileDisc(Aggregate):
    """PostgreSQL's nearest-rank percentile (an ordered-set aggregate Django does not ship)."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float) -> None:
        super().__init__(expression)
        self.extra["fraction"] = float(fraction)


@dataclass(frozen=True)
class Hour:
    start: datetime
    ok: int
    failed: int


@dataclass(frozen=True)
class Ranked:
    name: str
    calls: int
    failed: int = 0
    detail: str = ""  # a caller's name beside its key prefix


@dataclass
class Usage:
    since: datetime
    hours: list[Hour]
    p50_ms: float | None = None
    p95_ms: float | None = None
    tools: list[Ranked] = field(default_factory=list)
    callers: list[Ranked] = field(default_factory=list)
    last_used: datetime | None = None

    @property
    def calls(self) -> int:
        return sum(hour.ok + hour.failed for hour in self.hours)

    @property
    def failed(self) -> int:
        return sum(hour.failed for hour in self.hours)

    @property
    def error_percent(self) -> str:
        return percent(self.failed, self.calls)


def percent(part: int, whole: int) -> str:
    """12.5 %, 0 %, or – when there is nothing to divide."""
    return f"{100 * part / whole:.3g} %" if whole else "–"


def usage(client_id: str | None = None, now: datetime | None = None) -> Usage:
    """The last 7 days (in whole hours, the current one included) of one tenant, or of every tenant."""
    now = now or timezone.now()
    current_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    since = current_hour - timedelta(hours=DAYS * 24 - 1)
    everything = ToolCall.objects.filter(client_id=client_id) if client_id else ToolCall.objects.all()
    window = everything.filter(at__gte=since)
    report = Usage(since=since, hours=_hours(window, since))
    report.p50_ms, report.p95_ms = _percentiles(window, report.calls, (0.5, 0.95))
    report.tools = [
        Ranked(row["tool"], row["calls"], row["failed"])
        for row in window.values("tool")
        .annotate(calls=Count("id"), failed=Count("id", filter=FAILED))
        .order_by("-calls", "tool")[:TOP]
    ]
    report.callers = [
        Ranked(row["caller"] or "(none)", row["calls"], row["failed"], row["caller_name"])
        for row in window.values("caller", "caller_name")
        .annotate(calls=Count("id"), failed=Count("id", filter=FAILED))
        .order_by("-calls", "caller")[:TOP]
    ]
    report.last_used = everything.order_by("-at").values_list("at", flat=True).first()
    return report


def _hours(window: QuerySet[ToolCall], since: datetime) -> list[Hour]:
    """Every hour since `since`, those without calls too, from one GROUP BY."""
    counts = {
        row["hour"]: row
        for row in window.annotate(hour=TruncHour("at"))
        .values("hour")
        .annotate(calls=Count("id"), failed=Count("id", filter=FAILED))
        .order_by()
    }
    hours = []
    for n in range(DAYS * 24):
        start = since + timedelta(hours=n)
        row: dict[str, Any] = counts.get(start, {"calls": 0, "failed": 0})
        hours.append(Hour(start, row["calls"] - row["failed"], row["failed"]))
    return hours


def _percentiles(
    window: QuerySet[ToolCall], calls: int, fractions: tuple[float, ...]
) -> tuple[float | None, ...]:
    if not calls:
        return tuple(None for _ in fractions)
    if connections[window.db].vendor == "postgresql":
        found = window.aggregate(
            **{f"p{n}": PercentileDisc("duration_ms", fraction) for n, fraction in enumerate(fractions)}
        )
        return tuple(found[f"p{n}"] for n in range(len(fractions)))
    durations = window.order_by("duration_ms").values_list("duration_ms", flat=True)
    return tuple(durations[max(math.ceil(fraction * calls), 1) - 1] for fraction in fractions)


@dataclass(frozen=True)
class TenantUse:
    client_id: str
    name: str
    calls: int
    failed: int
    last_used: datetime | None

    @property
    def error_percent(self) -> str:
        return percent(self.failed, self.calls)


def tenants_use(since: datetime) -> list[TenantUse]:
    """Every tenant with its calls since `since` and its last call ever: one query for the counts,
    one for the tenants (each last call read from the (client_id, at) index)."""
    counts = {
        row["client_id"]: row
        for row in ToolCall.objects.filter(at__gte=since)
        .values("client_id")
        .annotate(calls=Count("id"), failed=Count("id", filter=FAILED))
        .order_by()
    }
    last = ToolCall.objects.filter(client_id=OuterRef("client_id")).order_by("-at").values("at")[:1]
    tenants = ClientConfig.objects.annotate(last_used=Subquery(last)).values_list(
        "client_id", "name", "last_used"
    )
    none = {"calls": 0, "failed": 0}
    rows = [
        TenantUse(
            client_id, name, counts.get(client_id, none)["calls"], counts.get(client_id, none)["failed"], last
        )
        for client_id, name, last in tenants
    ]
    return sorted(rows, key=lambda row: (-row.calls, row.client_id))
