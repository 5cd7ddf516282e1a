"""The member's sign-in and consent pages in Debian's Chromium, headless, against the real server, on a
phone's screen: readable without sideways scrolling, nothing blocked by the CSP, and Allow reaching the
client's loopback redirect with a code. The screenshots in docs/ come from here:
    ONEAPP_SCREENSHOT_DIR=docs .venv/bin/pytest tests/tenants/oauth/test_pages_browser.py
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tenants.models import Membership
from tests.oauth_member import PASSWORD, REDIRECT, native_client
from tests.tenants.oauth.test_pages import authorize_url
from tests.test_browser import _orm_beside_playwright, browser  # noqa: F401 - fixtures

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(_orm_beside_playwright, transactional_db, live_server_url, browser):  # noqa: F811
    context = browser.new_context(base_url=live_server_url, viewport=PHONE, device_scale_factor=2)
    context.set_default_timeout(15_000)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.blocked = blocked
    yield page
    context.close()


@pytest.fixture
def application(transactional_db):
    return native_client("Claude")


def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ONEAPP_SCREENSHOT_DIR") or tmp_path)


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in(page: Page, username: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_member_signs_in_allows_and_returns_to_the_client_with_a_code(
    phone, live_server_url, application, make_tenant, tmp_path
):
    acme = make_tenant("acme", name="Acme Retail")
    Membership.objects.create(user=User.objects.create_user("ana", password=PASSWORD), tenant=acme)
    arrived: list[str] = []
    phone.route(
        REDIRECT + "*", lambda route: (arrived.append(route.request.url), route.fulfill(body="signed in"))
    )
    url = authorize_url(application, resource=f"{live_server_url}/mcp/acme")

    phone.goto(url)
    expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    assert fits_the_screen(phone)
    phone.screenshot(path=shots(tmp_path) / "oauth-sign-in.png")
    sign_in(phone, "ana")

    expect(phone.get_by_role("heading", level=1)).to_contain_text(
        "Allow Claude to use OneApp for Acme Retail?"
    )
    expect(phone.get_by_text(REDIRECT)).to_be_visible()
    expect(phone.get_by_text("Send photos to Visapp MoAI")).to_be_visible()
    assert fits_the_screen(phone)
    phone.screenshot(path=shots(tmp_path) / "oauth-consent.png", full_page=True)
    phone.get_by_role("button", name="Allow").click()

    expect(phone.get_by_text("signed in")).to_be_visible()
    query = parse_qs(urlsplit(arrived[0]).query)
    assert query["state"] == ["s1"] and query["code"][0]
    assert phone.blocked == []


def test_a_non_member_sees_why_and_the_client_gets_nothing(
    phone, live_server_url, application, make_tenant, tmp_path
):
    make_tenant("acme", name="Acme Retail")
    User.objects.create_user("eve", password=PASSWORD)
    phone.goto(authorize_url(application, resource=f"{live_server_url}/mcp/acme"))
    sign_in(phone, "eve")

    expect(phone.get_by_role("heading", level=1)).to_have_text("You are not a member of this OneApp client")
    assert fits_the_screen(phone)
    phone.screenshot(path=shots(tmp_path) / "oauth-not-a-member.png")
    assert phone.get_by_role("button", name="Allow").count() == 0
