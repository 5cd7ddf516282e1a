"""Issue 9, item 14 (a): failed admin sign-ins are limited per user name and per client address.

The clock is the throttle's own (tenants.admin.sign_in.clock), moved on by the tests: nothing sleeps.
"""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.test import Client
from django.urls import reverse

from tenants.admin import sign_in

LOGIN = reverse("admin:login")
PASSWORD = "correct-horse-battery-staple"
ADDRESS = "203.0.113.7"
THROTTLED = "Too many failed sign-ins for this user name or from this address. Try again in "


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(sign_in, "clock", clock)
    return clock


@pytest.fixture
def limits(settings):
    settings.ADMIN_SIGN_IN_FAILURES_PER_USER = 5
    settings.ADMIN_SIGN_IN_FAILURES_PER_ADDRESS = 20
    settings.ADMIN_SIGN_IN_WINDOW_SECONDS = 900
    return settings


@pytest.fixture
def staff(db):
    user_model = get_user_model()
    user_model.objects.create_superuser("staff", "staff@example.test", PASSWORD)
    user_model.objects.create_user("mallory", password=PASSWORD, is_staff=True)


_clients: dict[str, Client] = {}  # one per address: a new Client loads the middleware (slow) again


def sign_in_as(username: str, password: str, address: str = ADDRESS):
    """One sign-in with no session; the response (302 on success, the form again otherwise)."""
    client = _clients.setdefault(address, Client(REMOTE_ADDR=address))
    client.cookies.clear()
    return client.post(
        f"{LOGIN}?next=/admin/", {"username": username, "password": password, "next": "/admin/"}
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == "/admin/"


def throttled(response) -> bool:
    return response.status_code == 200 and THROTTLED in response.text


def fail(times: int, username: str = "staff", address: str = ADDRESS) -> None:
    for _ in range(times):
        response = sign_in_as(username, "wrong password", address)
        assert response.status_code == 200 and not throttled(response)


@pytest.mark.django_db
def test_the_issues_200_wrong_passwords_then_the_right_one_is_refused(staff, clock, limits):
    for attempt in range(200):
        clock.now += 0.25  # 4 a second
        response = sign_in_as("staff", f"guess {attempt}")
        assert not signed_in(response)

    response = sign_in_as("staff", PASSWORD)

    assert not signed_in(response)
    assert throttled(response)
    assert f"{THROTTLED}15 minutes." in response.text  # the window began with the first failure


@pytest.mark.django_db
def test_after_the_user_limit_even_the_right_password_waits_for_the_window(staff, clock, limits):
    fail(5)

    assert throttled(sign_in_as("staff", PASSWORD))
    assert throttled(sign_in_as("staff", PASSWORD, address="198.51.100.1"))  # per user name: any address
    assert throttled(sign_in_as("STAFF ", PASSWORD, address="198.51.100.2"))  # in any spelling
    clock.now += 899
    response = sign_in_as("staff", PASSWORD)
    assert throttled(response) and f"{THROTTLED}1 minute." in response.text

    clock.now += 1  # the window began with the first failure, 900 s ago
    assert signed_in(sign_in_as("staff", PASSWORD))


@pytest.mark.django_db
def test_four_failures_then_the_right_password_signs_in(staff, clock, limits):
    fail(4)
    assert signed_in(sign_in_as("staff", PASSWORD))


@pytest.mark.django_db
def test_refused_attempts_check_no_password_and_do_not_extend_the_wait(staff, clock, limits):
    fail(5)
    checked: list[str] = []

    def on_failure(sender, credentials, **kwargs):
        checked.append(credentials["username"])

    user_login_failed.connect(on_failure)
    try:
        for _ in range(14):  # one a minute while refused
            clock.now += 60
            assert throttled(sign_in_as("staff", "wrong password"))
    finally:
        user_login_failed.disconnect(on_failure)
    assert checked == []

    clock.now += 60  # 15 minutes after the first failure, whatever was tried since
    assert signed_in(sign_in_as("staff", PASSWORD))


@pytest.mark.django_db
def test_after_the_address_limit_every_user_name_from_it_is_refused(staff, clock, limits):
    for n in range(20):  # guessing at many accounts, a few tries each: no user name reaches its limit
        fail(1, username=f"user{n}")

    assert throttled(sign_in_as("staff", PASSWORD))
    assert throttled(sign_in_as("mallory", PASSWORD))
    assert signed_in(sign_in_as("staff", PASSWORD, address="198.51.100.1"))  # other addresses are not

    clock.now += 900
    assert signed_in(sign_in_as("staff", PASSWORD))


@pytest.mark.django_db
def test_an_ipv6_client_counts_as_its_whole_slash_64(staff, clock, limits):
    for n in range(20):
        fail(1, username=f"user{n}", address=f"2001:db8:0:1::{n + 1:x}")

    assert throttled(sign_in_as("staff", PASSWORD, address="2001:db8:0:1:ffff::1"))
    assert signed_in(sign_in_as("staff", PASSWORD, address="2001:db8:0:2::1"))


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_neither_count(staff, clock, limits):
    # Four guesses at staff's password, then a sign-in to one's own account from the same address...
    fail(4)
    assert signed_in(sign_in_as("mallory", PASSWORD))
    # ...buys no fifth free guess: the user name's count still stands.
    fail(1)
    assert throttled(sign_in_as("staff", PASSWORD))

    # Staff's own success does not reset their count either, nor the address's.
    clock.now += 900
    fail(4, address="198.51.100.9")
    assert signed_in(sign_in_as("staff", PASSWORD, address="198.51.100.9"))
    fail(1, address="198.51.100.9")
    assert throttled(sign_in_as("staff", PASSWORD, address="198.51.100.10"))

    clock.now += 900
    for n in range(19):
        fail(1, username=f"user{n}", address="198.51.100.20")
    assert signed_in(sign_in_as("mallory", PASSWORD, address="198.51.100.20"))
    fail(1, username="user19", address="198.51.100.20")
    assert throttled(sign_in_as("mallory", PASSWORD, address="198.51.100.20"))


@pytest.mark.django_db
def test_a_non_staff_account_with_the_right_password_counts_as_a_failure(db, clock, limits):
    get_user_model().objects.create_user("visitor", password=PASSWORD)
    for _ in range(5):
        assert not signed_in(sign_in_as("visitor", PASSWORD))
    assert throttled(sign_in_as("visitor", PASSWORD))


@pytest.mark.django_db
def test_an_empty_password_is_no_attempt(staff, clock, limits):
    for _ in range(10):
        response = sign_in_as("staff", "")
        assert response.status_code == 200 and not throttled(response)
    assert signed_in(sign_in_as("staff", PASSWORD))


@pytest.mark.django_db
def test_the_lock_is_logged_once_per_window(staff, clock, limits, caplog):
    with caplog.at_level(logging.WARNING, logger="tenants.admin.sign_in"):
        fail(5)
        for _ in range(20):
            sign_in_as("staff", "wrong password")

    [record] = caplog.records
    assert record.getMessage() == (
        f"admin sign-in: 5 failures for this user name (user name 'staff', address {ADDRESS}); "
        "refusing it for up to 900 s"
    )
    assert "wrong password" not in caplog.text


def test_the_admin_site_uses_the_throttled_form():
    from django.contrib import admin

    assert admin.site.login_form is sign_in.ThrottledAdminAuthenticationForm
