"""Content-Security-Policy on every page Django serves: in practice, the admin's.

Django 5.2 has no CSP support of its own (it comes in 6.0), and the policy is one fixed string
(settings.CONTENT_SECURITY_POLICY), so this is a small middleware rather than a package. The default
allows scripts, styles, images and fonts from this site only: no inline script or style (the admin
of Django 5.2 has none, nor do this project's templates, whose script and style are static files),
no plugins, no framing, no <base>, and forms that post only here. /mcp, /healthz and /readyz do not
pass through Django's middleware; they answer JSON, which a policy would not change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

HEADER = "Content-Security-Policy"

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def _add_policy(response: HttpResponseBase) -> HttpResponseBase:
    policy: str = settings.CONTENT_SECURITY_POLICY
    if policy and HEADER not in response:  # a view that sets its own keeps it
        response[HEADER] = policy
    return response


@sync_and_async_middleware
def content_security_policy(
    get_response: GetResponse | AsyncGetResponse,
) -> Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]:
    if iscoroutinefunction(get_response):
        async_get_response: AsyncGetResponse = get_response

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            return _add_policy(await async_get_response(request))

        return async_middleware

    sync_get_response: GetResponse = get_response  # type: ignore[assignment]

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return _add_policy(sync_get_response(request))

    return middleware
