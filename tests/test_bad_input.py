"""Every entry of the bad-input corpus, sent over real HTTP to /mcp under uvicorn."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import httpx
import pytest

from tests.bad_input_corpus import (
    ACCEPTED,
    CORPUS,
    CORPUS_FAMILIES,
    REFUSED,
    SERVED,
    Entry,
    wire,
)
from tests.bad_input_corpus import tools_list as tools_list_body
from tests.fake_upstream import FakeOneApp
from tests.helpers import ACME_KEY, CANARY_TOKEN, CORE, GLOBEX_KEY, give_key

TRACEBACK = b"Traceback (most recent call last)"
SECRETS = [CANARY_TOKEN.split()[1].encode(), ACME_KEY.encode(), GLOBEX_KEY.encode()]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def verdict(self) -> str:
        """REFUSED, ACCEPTED or SERVED, as the corpus defines them; anything else names the problem."""
        if 400 <= self.status < 500:
            return REFUSED
        if self.status == 202 and not self.body:
            return ACCEPTED
        if self.status != 200:
            return f"status {self.status}"
        try:
            message = json.loads(self.body)
        except ValueError:
            return "a 200 that is not JSON"
        if not isinstance(message, dict):
            return "a 200 that is not one JSON-RPC message"
        if "error" in message and "result" not in message:
            return REFUSED
        result = message.get("result")
        if isinstance(result, dict):
            return REFUSED if result.get("isError") is True else SERVED
        return "a 200 without result or error"


def send(base_url: str, entry: Entry, client: httpx.Client) -> Answer:
    if entry.raw:
        return send_raw(base_url, entry)
    request = client.build_request(
        entry.method, base_url + entry.path, headers=list(entry.headers), content=entry.body
    )
    response = client.send(request)
    return Answer(response.status_code, response.headers.raw, response.content)


def send_raw(base_url: str, entry: Entry) -> Answer:
    """Write the request byte for byte to a socket, adding Host, Content-Length and Connection: close."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    names = {_bytes(name).lower() for name, _ in entry.headers}
    lines = [f"{entry.method} {entry.path} HTTP/1.1".encode()]
    if b"host" not in names:
        lines.append(f"Host: {host}:{port}".encode())
    if not names & {b"content-length", b"transfer-encoding"}:
        lines.append(b"Content-Length: %d" % len(entry.body))
    lines += [_bytes(name) + b": " + _bytes(value) for name, value in entry.headers]
    lines.append(b"Connection: close")
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + entry.body)
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    return parse_response(received)


def parse_response(data: bytes) -> Answer:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    client.receive_data(b"")
    status, headers, body = 0, [], b""
    while (event := client.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        if isinstance(event, h11.Response):
            status, headers = event.status_code, list(event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    return Answer(status, headers, body)


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client (its TLS context is costly to build), with a new connection for every request."""
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        # Only what an entry lists goes out (and Host and Content-Length, which HTTP/1.1 needs).
        for name in ("Accept", "Accept-Encoding", "User-Agent", "Connection"):
            client.headers.pop(name, None)
        yield client


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOneApp]:
    fake = FakeOneApp().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_oneapp(upstream) -> FakeOneApp:
    """Overrides conftest's: one fake OneApp for the whole corpus, emptied before each entry."""
    upstream.received.clear()
    return upstream


@pytest.fixture
def tenants(request, oneapp_tenant, make_tenant, fake_oneapp) -> None:
    """acme (key ACME_KEY) on the fake OneApp; and globex (key GLOBEX_KEY) next to it, for the entries
    that name it (the others do not pay for a second tenant)."""
    entry = request.node.callspec.params["entry"]
    if any(b"globex" in _bytes(value).lower() for _, value in entry.headers):
        globex = make_tenant("globex", core_base_url=fake_oneapp.url + CORE, client_base_url=fake_oneapp.url)
        give_key(globex, GLOBEX_KEY)


def test_the_corpus_has_at_least_200_entries_with_unique_ids():
    assert len(CORPUS) >= 200
    assert len({entry.id for entry in CORPUS}) == len(CORPUS)
    assert sum(len(entries) for entries in CORPUS_FAMILIES.values()) == len(CORPUS)


# Committed, for the live server to read; only the tenants' own tables are emptied after each entry,
# without the re-creation of permissions and content types that a flush of every table costs.
@pytest.mark.django_db(transaction=True, available_apps=["tenants", "mcp_endpoint"])
@pytest.mark.parametrize("entry", CORPUS, ids=[entry.id for entry in CORPUS])
def test_bad_input_gets_its_expected_answer_and_never_a_crash_a_leak_or_a_stray_upstream_call(
    live_server_url, tenants, fake_oneapp, client, entry
):
    answer = send(live_server_url, entry, client)

    shown = f"{entry.description}: {answer.status} {answer.body[:300]!r}"
    assert answer.status < 500, shown
    assert answer.verdict() == entry.outcome, shown
    everything = answer.body + b"".join(name + b": " + value for name, value in answer.headers)
    assert TRACEBACK not in everything, shown
    for secret in SECRETS:
        assert secret not in everything, shown
    assert [(r.method, r.path, r.query) for r in fake_oneapp.received] == [
        (call.method, call.path, call.query) for call in entry.upstream
    ], shown

    # The server keeps serving: one well-formed request right after.
    good = send(
        live_server_url, Entry("good", "a valid tools/list", "POST", wire(), tools_list_body()), client
    )
    assert good.verdict() == SERVED
    assert len(json.loads(good.body)["result"]["tools"]) == 18
