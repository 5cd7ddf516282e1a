"""Issue 9, item 14 (a, c) in Debian's Chromium against the real server: the admin works under its
Content-Security-Policy, with no violation reported anywhere staff go, and a locked sign-in says so.

Every script, style sheet and widget the tenant pages use is exercised: the buttons' style sheet,
the key page's Copy button, the disable confirmation's cancel link, the date and time pickers of the
access keys, the navigation sidebar and the theme toggle. Any violation the browser reports (a
`securitypolicyviolation` event, or its console error) fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tenants.admin import sign_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
STAFF_USER, STAFF_PASSWORD = "staff", "correct-horse-battery-staple"
POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

# Records every violation in the page itself; an init script, which no page policy applies to.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium; scripts/test does it).", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page, and what its browser said about the policy on every document it loaded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        self.policies: dict[str, str | None] = {}
        self.recorded: list[str] = []
        page.on("console", self._on_console)
        page.on("response", self._on_response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def _on_response(self, response) -> None:
        if response.request.resource_type == "document":
            self.policies[response.url] = response.headers.get("content-security-policy")

    def collect(self) -> None:
        """Take the violations the current document recorded (call before leaving it)."""
        self.recorded += self.page.evaluate("window.__cspViolations || []")

    def assert_clean(self) -> None:
        self.collect()
        assert self.recorded == [] and self.console == [], (self.recorded, self.console)
        assert self.policies, "no page was loaded"
        assert {url: policy for url, policy in self.policies.items() if policy != POLICY} == {}


@pytest.fixture
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API marks this thread's event loop as running; Django would then refuse the
    # ORM here (and the flush after the test). Requested before transactional_db, undone after it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def watched(_orm_beside_playwright, transactional_db, live_server_url, browser) -> Iterator[Watched]:
    context = browser.new_context(base_url=live_server_url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    yield Watched(page)
    context.close()


@pytest.fixture
def staff(transactional_db) -> None:
    get_user_model().objects.create_superuser(STAFF_USER, "staff@example.test", STAFF_PASSWORD)


def go(watched: Watched, url: str) -> None:
    watched.collect()
    watched.page.goto(url)


def submit(watched: Watched, selector: str) -> None:
    watched.collect()
    watched.page.click(selector)
    watched.page.wait_for_load_state()


def log_in(watched: Watched, password: str = STAFF_PASSWORD) -> None:
    go(watched, "/admin/login/")
    watched.page.fill("#id_username", STAFF_USER)
    watched.page.fill("#id_password", password)
    submit(watched, "input[type=submit]")


def test_staff_go_everywhere_on_a_tenant_and_the_policy_blocks_nothing(watched, staff, fake_oneapp):
    page = watched.page
    fake_oneapp.reply("/core/sucursales", body=[{"id": 1}])
    log_in(watched)
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # The add form, then the tenant page with its two buttons, styled by their own style sheet.
    go(watched, "/admin/tenants/clientconfig/add/")
    page.fill("#id_client_id", "acme")
    page.fill("#id_name", "Acme")
    page.fill("#id_core_base_url", fake_oneapp.url)
    page.fill("#id_client_base_url", fake_oneapp.url)
    page.fill("#id_new_token", "Bearer csp-browser-token-0123456789")
    submit(watched, "input[name=_continue]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was added successfully")
    tenant_url = page.url
    button = page.locator("#test-connection")
    assert button.evaluate("b => getComputedStyle(b).borderRadius") == "15px"
    assert button.evaluate("b => getComputedStyle(b).textTransform") == "uppercase"
    submit(watched, "#test-connection")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("OK — 1 sucursal")

    # A new access key, with an expiry picked with the admin's calendar and clock, shown once.
    new_row = page.locator("#access_keys-group tr.form-row:not(.has_original):not(.empty-form)").first
    new_row.locator("input[name$='-name']").fill("csp test")
    new_row.locator(".datetimeshortcuts a", has_text="Today").click()
    new_row.locator("a[id^='calendarlink']").click()
    calendar = page.locator(".calendarbox:visible")
    calendar.locator(".calendarnav-next").click()  # next month
    calendar.locator("td a", has_text=re.compile(r"^15$")).click()
    expect(new_row.locator("input[name$='-expires_at_0']")).to_have_value(re.compile(r"-15$"))
    new_row.locator("a[id^='clocklink']").click()
    page.get_by_role("link", name="Noon").click()
    expect(new_row.locator("input[name$='-expires_at_1']")).to_have_value(re.compile(r"^12:00"))
    submit(watched, "input[name=_continue]")
    expect(page.locator("h1")).to_have_text("Copy the new access key now")
    copy = page.locator("button[data-copy-key]")
    copy.click()
    expect(copy).to_have_text(re.compile(r"^(Copied|Press Ctrl\+C to copy)$"))  # its script ran

    # The list: sidebar, theme toggle, and the disable confirmation with its cancel link.
    go(watched, tenant_url)
    go(watched, "/admin/tenants/clientconfig/")
    page.click("#toggle-nav-sidebar")
    page.click("button.theme-toggle")
    page.locator("#result_list input.action-select").first.check()
    page.select_option("select[name=action]", "disable_tenants")
    submit(watched, "button[name=index]")
    expect(page.locator("h1")).to_have_text("Disable 1 tenant?")
    watched.collect()
    page.get_by_role("link", name="No, take me back").click()
    expect(page).to_have_url(re.compile(r"/admin/tenants/clientconfig/$"))

    go(watched, "/admin/tenants/accesskey/")
    go(watched, "/admin/auth/user/")
    watched.assert_clean()


def test_a_locked_sign_in_is_refused_over_the_wire_with_a_clear_message(
    watched, staff, monkeypatch, settings
):
    settings.ADMIN_SIGN_IN_FAILURES_PER_USER = 3
    now = [1_800_000_000.0]
    monkeypatch.setattr(sign_in, "clock", lambda: now[0])
    page = watched.page
    for _ in range(3):
        log_in(watched, password="wrong password")
        expect(page.locator("p.errornote")).to_contain_text("Please enter the correct username and password")

    log_in(watched)
    expect(page.locator("p.errornote")).to_have_text(
        "Too many failed sign-ins for this user name or from this address. Try again in 15 minutes."
    )
    expect(page).to_have_url(re.compile(r"/admin/login/"))

    now[0] += 900
    log_in(watched)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    watched.assert_clean()
