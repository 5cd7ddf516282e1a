"""The audit log and the usage charts as staff see them: Debian's Chromium, headless, against the real
server, after real tool calls through the SDK's client (and a week of earlier calls, so that the
charts have something to show). The browser, page and sign-in come from tests/test_browser.py.

The screenshots in docs/ come from test_the_usage_screenshots_show_no_secret:
    ONEAPP_SCREENSHOT_DIR=docs .venv/bin/pytest tests/tenants/test_audit_browser.py -k screenshots
"""

from __future__ import annotations

import os
import random
import re
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Page, expect

from mcp_endpoint.audit_trail import audit_buffer
from tenants.audit import ToolCall
from tests import test_browser
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, give_key
from tests.mcp_client import connect
from tests.test_browser import log_in, off_this_thread

# The browser, a fresh page on the live server and the signed-in staff of tests/test_browser.py, as
# fixtures of this module too (pytest finds fixtures by their names here).
browser, page, staff = test_browser.browser, test_browser.page, test_browser.staff
_orm_beside_playwright = test_browser._orm_beside_playwright

SEARCH_SECRET = "canary-search-secret-9d2f"  # sent as an argument named like a secret: never shown
TOOLS = [
    "core_list_sucursales",
    "checklist_list_checks",
    "visual_areas",
    "core_list_zonas",
    "moai_visapp_foto",
]
CALLERS = {
    "acme": [
        ("omk_acme0key", "Claude Desktop, Ana"),
        ("omk_acme0bot", "Nightly report"),
        ("omk_acme0bi1", "BI sync"),
    ],
    "globex": [
        ("omk_globex01", "Claude Code, Luis"),
        ("omk_globex02", "Support bot"),
        ("omk_globex03", "Cursor"),
    ],
}


async def real_calls(base_url: str) -> None:
    async with connect(base_url) as client:
        await client.call_tool("core_list_sucursales", {})
        await client.call_tool("checklist_list_checks", {"search": f"token {SEARCH_SECRET}", "page": 1})
        await client.call_tool("core_list_zonas", {"zone_id": 3})  # OneApp answers 502
        await client.call_tool("core_list_zonas", {"zone_id": "x"})  # refused: not an integer


def a_week_of_calls(client_id: str, per_hour: int, seed: int) -> list[ToolCall]:
    """Calls spread over the last 7 days, busier in working hours, with a bad afternoon."""
    rng, now, rows = random.Random(seed), timezone.now(), []  # noqa: S311 - pictures, not secrets
    for hours_ago in range(1, 7 * 24 - 4):  # all inside the charts' 168 whole hours
        at = now - timedelta(hours=hours_ago)
        busy = 1.0 if 8 <= timezone.localtime(at).hour <= 19 else 0.15
        for _ in range(rng.randint(0, int(per_hour * busy))):
            failing = 0.35 if 50 <= hours_ago <= 53 else 0.03
            caller, name = rng.choices(CALLERS[client_id], weights=(6, 3, 1))[0]
            failed = rng.random() < failing
            rows.append(
                ToolCall(
                    at=at - timedelta(minutes=rng.uniform(0, 59)), client_id=client_id,
                    tool=rng.choices(TOOLS, weights=(8, 5, 3, 2, 1))[0], caller_kind="key", caller=caller,
                    caller_name=name, outcome="timeout" if failed else "ok",
                    duration_ms=rng.lognormvariate(4.5, 0.6), upstream_status=None if failed else 200,
                )
            )  # fmt: skip
    return rows


def secrets_absent(html: str) -> bool:
    return not any(secret in html for secret in (CANARY_TOKEN.split()[1], ACME_KEY, SEARCH_SECRET))


def seed_calls(live_server_url: str, fake_oneapp, make_tenant) -> None:
    acme = make_tenant(
        "acme", name="Acme", core_base_url=fake_oneapp.url + CORE, client_base_url=fake_oneapp.url,
        audit_arguments=True,
    )  # fmt: skip
    give_key(acme, ACME_KEY, name="Claude Desktop, Ana")
    make_tenant("globex", name="Globex")
    fake_oneapp.reply(CORE + "/core/sucursales", body=[{"id": 1}])
    fake_oneapp.reply("/api/checks", body={"data": []})
    fake_oneapp.reply(CORE + "/core/zonas", status=502, body={"error": "down"})
    off_this_thread(real_calls(live_server_url))
    assert audit_buffer().flush() == 4
    ToolCall.objects.bulk_create(a_week_of_calls("acme", 14, seed=1) + a_week_of_calls("globex", 6, seed=2))


def open_dashboard(page: Page) -> None:
    page.goto("/admin/")
    page.get_by_role("link", name=re.compile("^Usage dashboard")).click()
    expect(page.locator("h1")).to_have_text("Usage of the last 7 days, all tenants")


def test_the_dashboard_charts_every_call_and_the_tenant_page_its_own(
    page, staff, live_server_url, fake_oneapp, make_tenant
):
    seed_calls(live_server_url, fake_oneapp, make_tenant)
    refused_by_policy = []  # the admin's Content-Security-Policy allows no inline style or script
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and refused_by_policy.append(message.text),
    )
    log_in(page)

    open_dashboard(page)
    expect(page.locator("#usage-calls")).to_have_text(str(ToolCall.objects.count()))
    expect(page.locator("svg.usage-chart")).to_have_count(3)
    assert page.locator("svg.usage-chart g.hour").count() > 100  # an hour with calls is a bar
    expect(page.locator("#usage-tenants tbody tr")).to_have_count(2)
    assert page.locator("svg.usage-chart").first.bounding_box()["width"] > 600  # drawn, not collapsed

    page.get_by_role("link", name="Acme (acme)").click()
    acme_calls = ToolCall.objects.filter(client_id="acme").count()
    expect(page.locator("#result_list tbody tr")).to_have_count(min(acme_calls, 100))

    page.goto("/admin/tenants/clientconfig/")
    page.get_by_role("link", name="acme", exact=True).click()
    usage = page.locator("#tenant-usage")
    expect(usage.locator("#usage-calls")).to_have_text(str(acme_calls))
    expect(
        usage.locator("svg.usage-chart text.label", has_text="omk_acme0key (Claude Desktop, Ana)")
    ).to_have_count(1)


def test_a_recorded_call_opens_read_only_with_its_arguments_redacted(
    page, staff, live_server_url, fake_oneapp, make_tenant
):
    seed_calls(live_server_url, fake_oneapp, make_tenant)
    log_in(page)

    page.goto("/admin/tenants/toolcall/?tool=checklist_list_checks&caller=omk_acme0key&outcome=ok")
    page.locator("#result_list tbody tr").first.locator("th a").click()

    arguments = page.locator("pre.tool-call-arguments")
    expect(arguments).to_contain_text('"search": "[redacted]"')
    expect(page.locator("input[name=_save]")).to_have_count(0)
    assert secrets_absent(page.content())


def test_the_usage_screenshots_show_no_secret(
    page, staff, live_server_url, fake_oneapp, make_tenant, tmp_path
):
    folder = Path(os.environ.get("ONEAPP_SCREENSHOT_DIR") or tmp_path)
    seed_calls(live_server_url, fake_oneapp, make_tenant)
    log_in(page)

    open_dashboard(page)
    page.click("#toggle-nav-sidebar")  # room for the charts at this width (remembered by the browser)
    assert secrets_absent(page.content())
    page.screenshot(path=folder / "admin-usage-dashboard.png", full_page=True)

    page.goto("/admin/tenants/clientconfig/")
    page.get_by_role("link", name="acme", exact=True).click()
    usage = page.locator("#tenant-usage")
    assert secrets_absent(page.content())
    usage.screenshot(path=folder / "admin-tenant-usage.png")

    page.goto("/admin/tenants/toolcall/")
    assert secrets_absent(page.content())
    page.screenshot(path=folder / "admin-audit-log.png")

    for name in ("admin-usage-dashboard.png", "admin-tenant-usage.png", "admin-audit-log.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
