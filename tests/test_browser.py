"""The tenant admin as staff use it: Debian's Chromium, headless, against the real server.

Playwright's sync API drives /usr/bin/chromium (browsers cannot be downloaded here) against
uvicorn serving oneapp_site.asgi on the test database, with the fake OneApp as upstream; /mcp is
then checked with the SDK's own client. One browser for the module, a fresh context (cookies,
storage) per test.

A page from an origin listed in MCP_ALLOWED_ORIGINS calls /mcp with fetch(), as a browser-based
MCP client does (CORS, mcp_endpoint/cors.py); a page from any other origin cannot read an answer.

The screenshots in docs/ come from test_the_screenshots_of_the_list_and_the_tenant_page_show_no_secret:
    ONEAPP_SCREENSHOT_DIR=docs .venv/bin/pytest tests/test_browser.py -k screenshots
Without that variable they go to a temporary folder, so a test run leaves the checkout clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import httpx2
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tenants.models import ClientConfig
from tests.helpers import ACME_KEY, CANARY_TOKEN
from tests.mcp_client import connect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}

STAFF_USER, STAFF_PASSWORD = "staff", "correct-horse-battery-staple"
# What staff type into the write-only token field; it must never come back in any page.
TYPED_TOKEN = "Bearer browser-typed-upstream-token-4c2e9b7d5e1d"
TOKEN_HINT = "••••5e1d"

ADD_URL = "/admin/tenants/clientconfig/add/"
LIST_URL = "/admin/tenants/clientconfig/"

T = TypeVar("T")


# The browser.


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        # Never a skip: a run without the browser tests must not pass unnoticed.
        pytest.fail(
            f"{CHROMIUM} is missing, so the admin's browser tests cannot run. Install Debian's "
            "chromium package (apt-get install chromium chromium-driver; scripts/test does it).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps its event loop marked as running in this thread, so Django would
    # refuse every query the test (and the database flush after it) makes here as "async unsafe".
    # Requested before transactional_db, so that it is undone only after the flush.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(_orm_beside_playwright: None, transactional_db: None, live_server_url: str, browser: Browser):
    """A fresh browser context on the live server; its rows are committed, so the server sees them."""
    context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def staff(transactional_db: None) -> None:
    get_user_model().objects.create_superuser(STAFF_USER, "staff@example.test", STAFF_PASSWORD)


# What staff do, as small steps.


def log_in(page: Page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", STAFF_USER)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#logout-form")).to_be_visible()


def add_tenant(page: Page, upstream: str, client_id: str = "acme", name: str = "Acme") -> int:
    """Fill in the add form with the token typed in, save and continue; return the tenant's id."""
    page.goto(ADD_URL)
    page.fill("#id_client_id", client_id)
    page.fill("#id_name", name)
    page.fill("#id_core_base_url", upstream)
    page.fill("#id_client_base_url", upstream)
    page.fill("#id_client_header", client_id)
    page.fill("#id_new_token", TYPED_TOKEN)
    page.click("input[name=_continue]")
    expect(success_messages(page)).to_contain_text("was added successfully")
    return int(re.search(r"/clientconfig/(\d+)/change/", page.url).group(1))


def tenant_url(pk: int) -> str:
    return f"/admin/tenants/clientconfig/{pk}/change/"


def success_messages(page: Page) -> Locator:
    return page.locator("ul.messagelist li.success")


def error_messages(page: Page) -> Locator:
    return page.locator("ul.messagelist li.error")


def save_and_continue(page: Page) -> None:
    page.click("input[name=_continue]")
    expect(success_messages(page)).to_contain_text("was changed successfully")


def create_access_key(page: Page, name: str) -> str:
    """Type a name into the keys section's empty row, save, and read the key off the page shown once."""
    new_row = page.locator("#access_keys-group tr.form-row:not(.has_original):not(.empty-form)").first
    new_row.locator("input[name$='-name']").fill(name)
    page.click("input[name=_continue]")
    expect(page.locator("h1")).to_have_text("Copy the new access key now")
    return page.locator("input.new-access-key").input_value()


def run_list_action(page: Page, action: str, client_ids: list[str]) -> None:
    page.goto(LIST_URL)
    for client_id in client_ids:
        page.locator("#result_list tr", has=page.get_by_role("link", name=client_id, exact=True)).locator(
            "input.action-select"
        ).check()
    page.select_option("select[name=action]", action)
    page.get_by_role("button", name="Go").click()


# What MCP clients see. The SDK's client is async, and Playwright's loop holds this thread.


def off_this_thread(awaitable: Awaitable[T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, awaitable).result()


async def alist_tools(base_url: str, key: str, client_id: str = "acme") -> list[str]:
    async with connect(base_url, client_id=client_id, key=key) as client:
        return [tool.name for tool in (await client.list_tools()).tools]


def post_mcp(base_url: str, key: str, client_id: str = "acme") -> httpx2.Response:
    headers = {"X-Client-ID": client_id, "Authorization": f"Bearer {key}"}
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    return httpx2.post(base_url + "/mcp", headers=headers, json=request, timeout=10)


def secrets_absent(html: str, *secrets: str) -> bool:
    return not any(secret in html for secret in secrets)


def key_secret(key: str) -> str:
    """What follows omk_<prefix>_: the part of a key that admin never shows again."""
    return key.split("_", 2)[2]


# The flows.


def test_staff_sign_in_and_add_a_tenant_whose_token_is_then_only_a_masked_hint(page, staff, fake_oneapp):
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)

    expect(page.locator(".field-token_status .readonly")).to_have_text(TOKEN_HINT)
    expect(page.locator("#id_new_token")).to_have_value("")  # write-only: never rendered back
    secret = TYPED_TOKEN.removeprefix("Bearer ")
    assert secrets_absent(page.content(), TYPED_TOKEN, secret)

    page.goto(LIST_URL)
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".field-client_id")).to_have_text("acme")
    expect(row.locator(".field-token_status")).to_have_text(TOKEN_HINT)
    assert secrets_absent(page.content(), TYPED_TOKEN, secret)

    tenant = ClientConfig.objects.get(pk=pk)
    assert (tenant.client_id, tenant.name, tenant.core_base_url) == ("acme", "Acme", fake_oneapp.url)
    assert tenant.authorization == TYPED_TOKEN  # stored, encrypted, as typed


def test_test_connection_reports_the_sucursales_then_a_refused_connection_once_oneapp_is_down(
    page, staff, fake_oneapp
):
    fake_oneapp.reply("/core/sucursales", body=[{"id": 1}, {"id": 2}, {"id": 3}])
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)

    page.click("#test-connection")

    expect(page).to_have_url(re.compile(re.escape(tenant_url(pk)) + "$"))
    expect(success_messages(page)).to_have_text(re.compile(r"^Acme \(acme\): OK — 3 sucursales in \d+ ms$"))
    [call] = fake_oneapp.received
    assert (call.path, call.headers["authorization"]) == ("/core/sucursales", TYPED_TOKEN)

    fake_oneapp.stop()
    page.click("#test-connection")

    expect(error_messages(page)).to_have_text(
        re.compile(
            r"^Acme \(acme\): FAILED — Could not connect to OneApp at 127\.0\.0\.1:\d+.*connection refused\.$"
        )
    )
    expect(success_messages(page)).to_have_count(0)
    assert secrets_absent(page.content(), TYPED_TOKEN)


def test_the_list_action_tests_the_connection_of_the_ticked_tenants(page, staff, fake_oneapp):
    fake_oneapp.reply("/core/sucursales", body=[{"id": 1}])
    log_in(page)
    add_tenant(page, fake_oneapp.url)

    run_list_action(page, "test_connection", ["acme"])

    expect(success_messages(page)).to_have_text(re.compile(r"^Acme \(acme\): OK — 1 sucursal in \d+ ms$"))


def test_ticked_tools_minus_the_writing_one_under_read_only_are_all_an_mcp_client_sees(
    page, staff, fake_oneapp, live_server_url
):
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)
    key = create_access_key(page, "tools test")
    assert len(off_this_thread(alist_tools(live_server_url, key))) == 18  # nothing ticked: every tool

    page.goto(tenant_url(pk))
    for tool in ("core_list_sucursales", "visual_areas", "moai_visapp_foto"):
        page.check(f"input[name=allowed_tools][value={tool}]")
    page.check("#id_read_only")
    save_and_continue(page)

    ticked = page.locator("input[name=allowed_tools]:checked")
    expect(ticked).to_have_count(3)
    expect(page.locator("#id_read_only")).to_be_checked()
    tools = off_this_thread(alist_tools(live_server_url, key))
    assert sorted(tools) == ["core_list_sucursales", "visual_areas"]

    page.uncheck("#id_read_only")
    save_and_continue(page)
    tools = off_this_thread(alist_tools(live_server_url, key))
    assert sorted(tools) == ["core_list_sucursales", "moai_visapp_foto", "visual_areas"]


def test_a_new_access_key_is_shown_once_then_only_its_prefix_and_it_opens_mcp(
    page, staff, fake_oneapp, live_server_url
):
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)

    key = create_access_key(page, "Claude Desktop, Ana")

    prefix = re.fullmatch(r"(omk_[A-Za-z0-9]{8})_\S+", key).group(1)
    expect(page.locator("#content-main h2")).to_have_text(f"Claude Desktop, Ana — {prefix}")
    page.get_by_role("link", name="Back to Acme (acme)").click()
    expect(page).to_have_url(re.compile(re.escape(tenant_url(pk)) + "$"))
    page.reload()

    key_row = page.locator("#access_keys-group tr.has_original")
    expect(key_row).to_have_count(1)
    expect(key_row.locator(".field-name input")).to_have_value("Claude Desktop, Ana")
    expect(key_row.locator(".field-key_prefix")).to_have_text(prefix)
    assert secrets_absent(page.content(), key, key_secret(key))

    assert len(off_this_thread(alist_tools(live_server_url, key))) == 18
    assert post_mcp(live_server_url, "omk_aaaaaaaa_" + "a" * 43).json()["code"] == "INVALID_ACCESS_KEY"


def test_disabling_from_the_list_asks_first_then_mcp_answers_unknown_client(
    page, staff, fake_oneapp, live_server_url
):
    log_in(page)
    add_tenant(page, fake_oneapp.url)
    key = create_access_key(page, "disable test")
    assert len(off_this_thread(alist_tools(live_server_url, key))) == 18

    run_list_action(page, "disable_tenants", ["acme"])
    expect(page.locator("h1")).to_have_text("Disable 1 tenant?")
    expect(page.locator("#content")).to_contain_text("403 UNKNOWN_CLIENT")
    page.get_by_role("link", name="No, take me back").click()
    expect(page).to_have_url(re.compile(re.escape(LIST_URL) + "$"))
    assert ClientConfig.objects.get().enabled is True

    run_list_action(page, "disable_tenants", ["acme"])
    page.get_by_role("button", name="Yes, disable it").click()

    expect(success_messages(page)).to_have_text("Disabled 1 of 1 selected tenant.")
    expect(page.locator("#result_list .field-enabled img")).to_have_attribute("alt", "False")
    response = post_mcp(live_server_url, key)
    assert response.status_code == 403
    assert response.json()["code"] == "UNKNOWN_CLIENT"


def test_unticking_enabled_on_the_tenant_page_also_refuses_its_clients(
    page, staff, fake_oneapp, live_server_url
):
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)
    key = create_access_key(page, "checkbox test")
    assert len(off_this_thread(alist_tools(live_server_url, key))) == 18
    page.goto(tenant_url(pk))

    page.uncheck("#id_enabled")
    save_and_continue(page)

    response = post_mcp(live_server_url, key)
    assert (response.status_code, response.json()["code"]) == (403, "UNKNOWN_CLIENT")


def test_the_screenshots_of_the_list_and_the_tenant_page_show_no_secret(
    page, staff, fake_oneapp, live_server_url, make_tenant, tmp_path
):
    folder = Path(os.environ.get("ONEAPP_SCREENSHOT_DIR") or tmp_path)
    fake_oneapp.reply("/core/sucursales", body=[{"id": n} for n in range(12)])
    make_tenant("globex", name="Globex", client_base_url="https://globex.oneapp.example")
    make_tenant("initech", name="Initech", enabled=False, client_base_url="https://initech.oneapp.example")
    log_in(page)
    pk = add_tenant(page, fake_oneapp.url)
    for tool in ("core_list_sucursales", "core_list_zonas", "checklist_list_checks", "visual_areas"):
        page.check(f"input[name=allowed_tools][value={tool}]")
    page.check("#id_read_only")
    save_and_continue(page)
    key = create_access_key(page, "Claude Desktop, Ana")  # never on screen: its page is not captured
    off_this_thread(alist_tools(live_server_url, key))  # so that the page says the server is cached

    page.goto(tenant_url(pk))
    page.click("#test-connection")
    expect(success_messages(page)).to_contain_text("OK — 12 sucursales")
    assert secrets_absent(page.content(), TYPED_TOKEN, CANARY_TOKEN, key, key_secret(key))
    page.screenshot(path=folder / "admin-tenant-change.png", full_page=True)

    page.goto(LIST_URL)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    page.click("#toggle-nav-sidebar")  # room for every column at this width
    assert secrets_absent(page.content(), TYPED_TOKEN, CANARY_TOKEN, key, key_secret(key))
    page.screenshot(path=folder / "admin-tenant-list.png", full_page=True)

    for name in ("admin-tenant-change.png", "admin-tenant-list.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")


# A browser-based MCP client: a page of another origin calling /mcp with fetch().

# tools/list as a browser client sends it, and the tenant URL's 401 challenge without a credential.
BROWSER_CLIENT_JS = """async ({mcp, key}) => {
  const body = JSON.stringify({jsonrpc: "2.0", id: 1, method: "tools/list", params: {}});
  const json = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"};
  try {
    const listed = await fetch(mcp, {method: "POST", body, headers: {
      ...json, "X-Client-ID": "acme", "Authorization": "Bearer " + key, "MCP-Protocol-Version": "2025-06-18"}});
    const tools = (await listed.json()).result.tools.length;
    const refused = await fetch(mcp + "/acme", {method: "POST", body, headers: json});
    return {status: listed.status, tools, refused: refused.status,
            challenge: refused.headers.get("WWW-Authenticate")};
  } catch (error) {
    return {error: error.name};
  }
}"""


@contextlib.contextmanager
def page_origin() -> Iterator[str]:
    """A blank page served from an origin of its own (another port on 127.0.0.1), for as long as the block."""

    class BlankPage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>an MCP client</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), BlankPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_from_a_listed_origin_lists_the_tools_and_reads_a_refusal_others_read_nothing(
    page, oneapp_tenant, live_server_url, settings
):
    with page_origin() as origin, page_origin() as other:
        settings.MCP_ALLOWED_ORIGINS = [origin]
        page.goto(origin + "/")
        answers = page.evaluate(BROWSER_CLIENT_JS, {"mcp": live_server_url + "/mcp", "key": ACME_KEY})

        assert answers["status"] == 200
        assert answers["tools"] == 18
        assert answers["refused"] == 401
        assert "resource_metadata=" in answers["challenge"]

        page.goto(other + "/")
        assert page.evaluate(BROWSER_CLIENT_JS, {"mcp": live_server_url + "/mcp", "key": ACME_KEY}) == {
            "error": "TypeError"  # the browser's CORS refusal: the page reads nothing
        }
