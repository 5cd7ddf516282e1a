"""A tenant member at work in a browser, scripted over HTTP: signs in on our page, reads the consent page
and answers it, and hands the redirect back to an MCP client's OAuth provider (the SDK's)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider, OAuthFlowError, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

PASSWORD = "a-members-password-4417-kq9z"  # a test user's
REDIRECT = "http://127.0.0.1:33418/callback"  # a native client's loopback callback


class FormReader(HTMLParser):
    """The named inputs of a page's forms, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") and values.get("type") != "submit":
            self.fields[values["name"] or ""] = values.get("value") or ""

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def read_page(response: httpx.Response) -> FormReader:
    reader = FormReader()
    reader.feed(response.text)
    return reader


@dataclass
class Member:
    """Signs in as `username` and answers the consent page with Allow (or Deny)."""

    username: str
    allow: bool = True
    pages: list[httpx.Response] = field(default_factory=list)  # every page the member saw
    redirect: str | None = None

    def authorize(self, authorization_url: str) -> str:
        """Follow the authorization URL to the client's redirect URI; returns that URI."""
        with httpx.Client() as browser:
            page = browser.get(authorization_url)
            if page.status_code == 302:  # not signed in yet
                sign_in_url = urljoin(authorization_url, page.headers["location"])
                form = browser.get(sign_in_url)
                self.pages.append(form)
                fields = read_page(form).fields
                answer = browser.post(
                    sign_in_url, data={**fields, "username": self.username, "password": PASSWORD}
                )
                assert answer.status_code == 302, answer.text
                page = browser.get(urljoin(sign_in_url, answer.headers["location"]))
            self.pages.append(page)
            if page.status_code != 200:
                return ""
            fields = read_page(page).fields
            if self.allow:
                fields["allow"] = "on"
            answer = browser.post(authorization_url, data=fields)
            assert answer.status_code == 302, answer.text
            self.redirect = answer.headers["location"]
            return self.redirect

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorize(authorization_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.redirect is None:  # as a person would close a refusal page: no code comes back
            raise OAuthFlowError(
                f"no redirect back to the client: the last page was {self.pages[-1].status_code}"
            )
        query = {name: values[0] for name, values in parse_qs(urlsplit(self.redirect).query).items()}
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def provider(
    url: str, member: Member, scope: str = "read write", storage: TokenStorage | None = None, **options: Any
) -> OAuthClientProvider:
    """The SDK's OAuth provider for a public native client, with the member at its browser."""
    metadata = OAuthClientMetadata(
        client_name="Test MCP client",
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=scope,
    )
    return OAuthClientProvider(
        url,
        metadata,
        storage or MemoryStorage(),
        redirect_handler=member.redirect_handler,
        callback_handler=member.callback_handler,
        **options,
    )


@asynccontextmanager
async def connect(
    url: str, auth: httpx2.Auth, headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    """An MCP client session to `url`, given nothing but the URL and how to sign in."""
    async with (
        httpx2.AsyncClient(auth=auth, headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def native_client(name: str) -> Any:
    """A registered public client (a native app) that redirects to REDIRECT, with the code flow."""
    from oauth2_provider.models import Application

    return Application.objects.create(
        name=name,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT,
    )


def issue_token(user: Any, resource: str, scope: str = "read write", seconds: float = 3600) -> str:
    """An access token as the toolkit issues one (stored by checksum only), without the browser dance."""
    from django.utils import timezone
    from oauth2_provider.models import AccessToken, set_token_value

    application = native_client("Test MCP client")
    raw = secrets.token_urlsafe(30)
    token = AccessToken(
        user=user,
        application=application,
        expires=timezone.now() + timedelta(seconds=seconds),
        scope=scope,
        resource=[resource],
    )
    set_token_value(token, raw)
    token.save()
    return raw
