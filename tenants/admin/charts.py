"""The usage charts as SVG, drawn on the server: a page that reads them needs no script, no library
and nothing from another site (the admin's Content-Security-Policy allows none). Two shapes are
enough: calls per hour as stacked bars (ok below, failed on top), and ranked horizontal bars.
Colours and fonts come from classes styled in tenants/static/tenants/admin/usage.css; every text is
escaped by format_html; each bar carries a <title> that browsers show on hover.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from tenants.usage import Hour, Ranked

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
RANKED_WIDTH, LABEL_WIDTH, ROW, BAR_HEIGHT, MAX_LABEL = 560, 250, 24, 16, 36


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (and at least 1)."""
    step = 1
    while True:
        for multiple in (1, 2, 5):
            if step * multiple >= value:
                return step * multiple
        step *= 10


def hours_chart(hours: list[Hour], label: str) -> SafeString:
    """Calls per hour as stacked bars, with the day boundaries marked and named below."""
    top = nice_ceiling(max((hour.ok + hour.failed for hour in hours), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(hours), 1)
    parts: list[SafeString] = []
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = TOP + plot_h - plot_h * tick / top
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT, WIDTH - RIGHT, _n(y), _n(y), LEFT - 6, _n(y + 4), tick,
            )
        )  # fmt: skip
    for index, hour in enumerate(hours):
        x = LEFT + index * step
        local = timezone.localtime(hour.start)
        if local.hour == 0:
            parts.append(_day_mark(x, local))
        if hour.ok + hour.failed:
            parts.append(_hour_bar(hour, x, step, plot_h, top))
    return _svg(WIDTH, HEIGHT, label, parts)


def _day_mark(x: float, day: datetime) -> SafeString:
    return format_html(
        '<line class="day" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="axis" x="{}" y="{}">{}</text>',
        _n(x), _n(x), TOP, HEIGHT - BOTTOM + 4, _n(x + 3), HEIGHT - 8, f"{day:%a %d %b}",
    )  # fmt: skip


def _hour_bar(hour: Hour, x: float, step: float, plot_h: float, top: int) -> SafeString:
    base = TOP + plot_h
    ok_h, failed_h = plot_h * hour.ok / top, plot_h * hour.failed / top
    local = timezone.localtime(hour.start)
    title = f"{local:%a %d %b %H:00}: {hour.ok} ok, {hour.failed} failed"
    return format_html(
        '<g class="hour"><title>{}</title><rect class="ok" x="{}" y="{}" width="{}" height="{}"/>'
        '<rect class="failed" x="{}" y="{}" width="{}" height="{}"/></g>',
        title,
        _n(x), _n(base - ok_h), _n(max(step - 1, 1)), _n(ok_h),
        _n(x), _n(base - ok_h - failed_h), _n(max(step - 1, 1)), _n(failed_h),
    )  # fmt: skip


def ranked_chart(items: list[Ranked], label: str) -> SafeString:
    """One row per item, longest first as given: its name, a bar (ok, then failed) and its count."""
    if not items:
        return format_html('<p class="usage-empty">{}</p>', "No calls in these 7 days.")
    most = max(item.calls for item in items)
    bar_room = RANKED_WIDTH - LABEL_WIDTH - 50
    rows = []
    for index, item in enumerate(items):
        y = index * ROW + 4
        ok_w = bar_room * (item.calls - item.failed) / most
        failed_w = bar_room * item.failed / most
        name = f"{item.name} ({item.detail})" if item.detail else item.name
        shown = name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"
        rows.append(
            format_html(
                '<g class="item"><title>{}: {} calls, {} failed</title>'
                '<text class="label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="ok" x="{}" y="{}" width="{}" height="{}"/>'
                '<rect class="failed" x="{}" y="{}" width="{}" height="{}"/>'
                '<text class="value" x="{}" y="{}">{}</text></g>',
                name, item.calls, item.failed,
                LABEL_WIDTH - 8, y + 12, shown,
                LABEL_WIDTH, y, _n(ok_w), BAR_HEIGHT,
                _n(LABEL_WIDTH + ok_w), y, _n(failed_w), BAR_HEIGHT,
                _n(LABEL_WIDTH + ok_w + failed_w + 6), y + 12, item.calls,
            )
        )  # fmt: skip
    return _svg(RANKED_WIDTH, len(items) * ROW + 8, label, rows)


def _svg(width: int, height: int, label: str, parts: Iterable[SafeString]) -> SafeString:
    return format_html(
        '<svg class="usage-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        width, height, label, format_html_join("", "{}", ((part,) for part in parts)),
    )  # fmt: skip


def _n(value: float) -> str:
    """A coordinate with at most one decimal: enough on screen, and a page a third the size."""
    return f"{value:.1f}".removesuffix(".0")
