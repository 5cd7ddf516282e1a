"""The audit log and the usage charts in admin (tenants/admin/audit.py, charts.py, tenants/usage.py),
through the Django test client on the real database, against a known set of calls."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mcp_endpoint.audit_trail import Pending, insert
from tenants.admin import audit as audit_admin
from tenants.audit import ANONYMOUS, Caller, ToolCall
from tenants.usage import usage
from tests.helpers import ACME_KEY, CANARY_TOKEN, change_url, give_key, tenant_settings, view_only_client

CHANGELIST = reverse("admin:tenants_toolcall_changelist")
DASHBOARD = reverse("admin:tenants_toolcall_usage")
ANA = Caller("key", "omk_acme0key", "Claude Desktop, Ana")
BOT = Caller("key", "omk_acme0bot", "nightly report")


def call(client_id: str = "acme", tool: str = "core_list_zonas", outcome: str = "ok", ms: float = 10.0,
         hours_ago: float = 1, caller: Caller = ANA, status: int | None = 200) -> ToolCall:  # fmt: skip
    return ToolCall(
        at=timezone.now() - timedelta(hours=hours_ago), client_id=client_id, tool=tool, outcome=outcome,
        duration_ms=ms, upstream_status=status, caller_kind=caller.kind, caller=caller.ident,
        caller_name=caller.name,
    )  # fmt: skip


@pytest.fixture
def known_calls(make_tenant) -> None:
    """Acme: 100 calls of 1..100 ms over the last day, 20 failed; Globex: 5 slow calls; one old call."""
    acme, _ = make_tenant("acme", name="Acme"), make_tenant("globex", name="Globex")
    give_key(acme, ACME_KEY, name="Claude Desktop, Ana")
    rows = []
    for n in range(1, 101):
        failed = n % 5 == 0
        rows.append(
            call(
                tool="core_list_sucursales" if n <= 60 else "visual_areas",
                outcome="status" if failed else "ok",
                status=502 if failed else 200,
                ms=float(n),
                hours_ago=2 if n <= 40 else 5,
                caller=ANA if n <= 70 else BOT,
            )
        )
    rows += [call("globex", ms=5000.0, hours_ago=30, caller=ANONYMOUS, status=200) for _ in range(5)]
    rows.append(call("acme", hours_ago=24 * 8))  # outside the 7 days: only its time can count
    ToolCall.objects.bulk_create(rows)


# The figures


@pytest.mark.django_db
def test_the_usage_of_one_tenant_is_its_known_calls(known_calls):
    report = usage("acme")

    assert (report.calls, report.failed, report.error_percent) == (100, 20, "20 %")
    assert (report.p50_ms, report.p95_ms) == (50.0, 95.0)  # nearest rank among 1..100 ms
    assert [(t.name, t.calls, t.failed) for t in report.tools] == [
        ("core_list_sucursales", 60, 12),
        ("visual_areas", 40, 8),
    ]
    assert [(c.name, c.detail, c.calls) for c in report.callers] == [
        ("omk_acme0key", "Claude Desktop, Ana", 70),
        ("omk_acme0bot", "nightly report", 30),
    ]
    busy = [(hour.ok, hour.failed) for hour in report.hours if hour.ok or hour.failed]
    assert busy == [(48, 12), (32, 8)]  # 5 hours ago, then 2 hours ago
    assert len(report.hours) == 168
    assert report.last_used == ToolCall.objects.filter(client_id="acme").latest("at").at


@pytest.mark.django_db
def test_the_usage_of_all_tenants_adds_them_up(known_calls):
    report = usage()

    assert (report.calls, report.failed) == (105, 20)
    assert (report.p50_ms, report.p95_ms) == (53.0, 100.0)  # ranks 53 and 100 of 105: Globex's 5 s are above
    assert report.callers[-1].name == "(none)"  # Globex's clients sent no key


@pytest.mark.django_db
def test_a_tenant_without_calls_has_no_figures(make_tenant):
    make_tenant("acme")
    report = usage("acme")
    assert (report.calls, report.error_percent, report.p50_ms, report.last_used) == (0, "–", None, None)


# The pages


@pytest.mark.django_db
def test_the_dashboard_shows_the_figures_the_charts_and_each_tenant(admin_client, known_calls):
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(DASHBOARD)
    html = page.content.decode()

    assert page.status_code == 200
    assert re.search(r'id="usage-calls">105<', html)
    assert re.search(r'id="usage-error-rate">19 % \(20 failed\)<', html)
    assert html.count('<svg class="usage-chart"') == 3
    assert "<title>core_list_sucursales: 60 calls, 12 failed</title>" in html
    assert re.search(r"<title>\w{3} \d\d \w{3} \d\d:00: 32 ok, 8 failed</title>", html)
    rows = re.findall(
        r'<tr>\s*<th scope="row"><a href="[^"]+">([^<]+)</a></th>\s*<td class="number">(\d+)', html
    )
    assert rows == [("Acme (acme)", "100"), ("Globex (globex)", "5")]
    assert len(queries) <= 15  # a handful per chart, never one per row or per hour


@pytest.mark.django_db
def test_the_tenant_page_shows_that_tenants_usage_only(admin_client, known_calls):
    from tenants.models import ClientConfig

    html = admin_client.get(change_url(ClientConfig.objects.get(client_id="acme"))).content.decode()

    assert re.search(r'id="usage-calls">100<', html)
    assert re.search(r'id="usage-p50">50.0 ms<', html)
    assert re.search(r'id="usage-p95">95.0 ms<', html)
    assert "omk_acme0bot (nightly report)" in html
    assert "?client_id=acme" in html


@pytest.mark.django_db
def test_the_index_links_to_the_dashboard(admin_client):
    assert f'href="{DASHBOARD}"' in admin_client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_staff_who_may_not_read_the_audit_log_see_no_usage_and_no_dashboard(make_tenant):
    tenant = make_tenant("acme")
    ToolCall.objects.bulk_create([call()])
    client = view_only_client("view_clientconfig")

    assert client.get(DASHBOARD).status_code == 403
    assert client.get(CHANGELIST).status_code == 403
    page = client.get(change_url(tenant)).content.decode()
    assert "usage-panel" not in page and DASHBOARD not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_the_audit_log_is_read_only_even_for_superusers(admin_client, known_calls):
    row = ToolCall.objects.filter(client_id="acme").first()
    detail = reverse("admin:tenants_toolcall_change", args=[row.pk])

    assert admin_client.get(CHANGELIST).status_code == 200
    page = admin_client.get(detail)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(detail, {"tool": "x"}).status_code == 403
    assert admin_client.get(reverse("admin:tenants_toolcall_add")).status_code == 403
    assert admin_client.get(reverse("admin:tenants_toolcall_delete", args=[row.pk])).status_code == 403
    assert (
        admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [row.pk]}).status_code
        == 200
    )
    assert ToolCall.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("client_id=globex", 5),
        ("tool=visual_areas", 40),
        ("outcome=status", 20),
        ("caller=omk_acme0bot", 30),
        ("client_id=acme&outcome=status&tool=visual_areas", 8),
        (f"at__year={timezone.now().year}&at__month={timezone.now().month}", None),
    ],
)
def test_the_filters_narrow_the_list(admin_client, known_calls, query, expected):
    page = admin_client.get(f"{CHANGELIST}?{query}")
    assert page.status_code == 200
    shown = page.context["cl"].result_count
    if expected is None:  # this month: every call but those of another month
        expected = ToolCall.objects.filter(at__month=timezone.localtime().month).count()
    assert shown == expected


@pytest.mark.django_db
def test_the_filter_choices_come_from_the_tenants_keys_and_catalog(admin_client, known_calls):
    html = admin_client.get(CHANGELIST).content.decode()
    assert "acme: omk_acme0key (Claude Desktop, Ana)" in html
    assert "?tool=moai_visapp_foto" in html and "?outcome=timeout" in html and "?client_id=globex" in html


@pytest.mark.django_db
def test_a_page_of_the_list_reads_no_row_by_row_and_counts_nothing_past_the_estimate(
    admin_client, known_calls, monkeypatch
):
    monkeypatch.setattr(audit_admin, "ESTIMATE_ABOVE", 10)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tenants_toolcall")
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(CHANGELIST)
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "tenants_toolcall" in q["sql"]]
    if connection.vendor == "postgresql":
        assert counts == []  # the planner's estimate (106 rows) is past 10
        assert page.context["cl"].result_count == pytest.approx(106, abs=5)
    else:
        assert len(counts) == 1 and page.context["cl"].result_count == 106
    assert len(page.context["cl"].result_list) == 100
    assert len(queries) < 20


@pytest.mark.django_db
def test_stored_arguments_show_redacted_and_no_secret_reaches_any_page(admin_client, make_tenant):
    make_tenant("acme")
    tenant = tenant_settings(audit_arguments=True)
    arguments = {
        "search": f"echo {CANARY_TOKEN.split()[1]} and {ACME_KEY}",
        "api_key": "canary-named-secret-value",
        "foto_url": "https://user:canary-password@fotos.example.test/a.jpg?sig=canary-query-sig",
        "page": 2,
    }
    insert([Pending(time.time(), tenant, ANA, "checklist_list_checks", "ok", 200, 0.01, arguments)])
    row = ToolCall.objects.get()

    pages = [
        admin_client.get(reverse("admin:tenants_toolcall_change", args=[row.pk])).content.decode(),
        admin_client.get(CHANGELIST).content.decode(),
        admin_client.get(DASHBOARD).content.decode(),
    ]
    assert "&quot;page&quot;: 2" in pages[0] and "[redacted]" in pages[0]
    assert "https://fotos.example.test/a.jpg?sig=[redacted]" in pages[0]
    for html in pages:
        for secret in (
            CANARY_TOKEN.split()[1],
            ACME_KEY,
            "canary-named-secret",
            "canary-password",
            "canary-query",
        ):
            assert secret not in html


@pytest.mark.django_db
def test_the_date_drill_down_offers_every_day_from_the_first_call_to_the_last(admin_client):
    def on(day: str) -> ToolCall:
        row = call()
        row.at = timezone.make_aware(timezone.datetime.fromisoformat(day + " 12:00"))
        return row

    ToolCall.objects.bulk_create([on("2025-11-03"), on("2025-11-05"), on("2026-02-01")])

    def choices(query: str) -> list[str]:
        html = admin_client.get(f"{CHANGELIST}?{query}").content.decode()
        links = html.split('<nav class="toplinks">')[1].split("</nav>")[0]
        return re.findall(
            r'<a href="\?([^"]+)">', links.split("</a>", 1)[1] if "date-back" in links else links
        )

    assert choices("") == ["at__year=2025", "at__year=2026"]
    assert choices("at__year=2025") == ["at__month=11&amp;at__year=2025"]
    assert choices("at__year=2025&at__month=11") == [
        f"at__day={day}&amp;at__month=11&amp;at__year=2025" for day in (3, 4, 5)
    ]
