"""Admin sign-in with a limit on failures, per user name and per client address.

After ADMIN_SIGN_IN_FAILURES_PER_USER failed sign-ins for one user name, or
ADMIN_SIGN_IN_FAILURES_PER_ADDRESS from one client address (an IPv6 address counts as its /64),
every further attempt for that name or from that address is refused, the right password included,
until ADMIN_SIGN_IN_WINDOW_SECONDS have passed since the first of those failures. A refused attempt
checks no password and counts nothing, so the wait never grows; a success resets nothing, so that
signing in to one's own account between guesses at another's buys no more guesses.

Counted in Django's cache: per worker with the default local-memory cache, across every worker and
instance with a shared CACHE_URL (Redis). The admin's sign-in form is the project's only place that
checks passwords, so this is a form (the admin site's login_form), not a middleware or a backend.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.addresses import counted_address

logger = logging.getLogger(__name__)

clock = time.time  # what time it is; the tests move it on instead of sleeping

_PREFIX = "admin-sign-in-failures"


def client_address(request: HttpRequest | None) -> str:
    """The address to count a sign-in failure by (tenants/addresses.py)."""
    return counted_address(request.META.get("REMOTE_ADDR", "") if request is not None else "")


class SignInThrottle:
    """The failure counts that concern one sign-in attempt: its user name's and its address's."""

    def __init__(self, request: HttpRequest | None, username: str) -> None:
        self.address = client_address(request)
        self.username = username
        name_digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        self.window: int = settings.ADMIN_SIGN_IN_WINDOW_SECONDS
        self.counters = [
            (f"{_PREFIX}:user:{name_digest}", settings.ADMIN_SIGN_IN_FAILURES_PER_USER, "user name"),
            (f"{_PREFIX}:address:{self.address}", settings.ADMIN_SIGN_IN_FAILURES_PER_ADDRESS, "address"),
        ]

    def retry_after(self) -> float | None:
        """Seconds until this attempt may be made, or None if it may be made now."""
        now = clock()
        waits = []
        for key, limit, _ in self.counters:
            values = cache.get_many([f"{key}:start", f"{key}:count"])
            start = values.get(f"{key}:start")
            if start is not None and now < start + self.window and values.get(f"{key}:count", 0) >= limit:
                waits.append(start + self.window - now)
        return max(waits, default=None)

    def record_failure(self) -> None:
        now = clock()
        for key, limit, what in self.counters:
            start_key, count_key = f"{key}:start", f"{key}:count"
            start = cache.get(start_key)
            if start is not None and now >= start + self.window:  # over, though still in the cache
                cache.delete_many([start_key, count_key])
            # add, not set: concurrent first failures must not reset each other's count.
            cache.add(start_key, now, timeout=self.window)
            cache.add(count_key, 0, timeout=self.window)
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between add and incr
                cache.set_many({start_key: now, count_key: 1}, timeout=self.window)
                count = 1
            if count == limit:  # said once per window, however many attempts follow
                logger.warning(
                    "admin sign-in: %d failures for this %s (user name %.64r, address %s); "
                    "refusing it for up to %d s",
                    count,
                    what,
                    self.username,
                    self.address,
                    self.window,
                )


THROTTLED = "Too many failed sign-ins for this user name or from this address. Try again in %(wait)s."


class Throttled(AuthenticationForm):
    """A sign-in form whose failures count against the limits above (the admin's, and members' for OAuth)."""

    error_messages = {**AuthenticationForm.error_messages, "throttled": THROTTLED}

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:  # no attempt yet: the field errors say what is missing
            return super().clean()
        throttle = SignInThrottle(self.request, username)
        wait = throttle.retry_after()
        if wait is not None:
            minutes = max(1, math.ceil(wait / 60))
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"wait": f"{minutes} minute{'s' if minutes != 1 else ''}"},
            )
        try:
            return super().clean()
        except ValidationError:  # the wrong password, or an account that may not use admin
            throttle.record_failure()
            raise


class ThrottledAdminAuthenticationForm(Throttled, AdminAuthenticationForm):
    error_messages = {**AdminAuthenticationForm.error_messages, "throttled": THROTTLED}
