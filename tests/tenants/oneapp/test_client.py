"""OneAppClient against a real HTTP server on 127.0.0.1 (the fake OneApp); a mock transport only for DNS
failures."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import httpx
import pytest

from tenants.models import TenantSettings
from tenants.oneapp.catalog import CATALOG
from tenants.oneapp.client import MAX_ERROR_SNIPPET, OneAppClient, UpstreamError
from tests.fake_upstream import FakeOneApp
from tests.helpers import CANARY_TOKEN, tenant_settings
from tests.live_server import free_port

CANARY_SECRET = CANARY_TOKEN.removeprefix("Bearer ")
SPECS = {spec.name: spec for spec in CATALOG}


def tenant(url: str, **fields: Any) -> TenantSettings:
    return tenant_settings("acme", url, **fields)


@pytest.fixture
async def open_clients():
    """Clients made with `connect()` are closed after the test."""
    clients: list[OneAppClient] = []
    yield clients
    for client in clients:
        await client.aclose()


@pytest.fixture
def connect(open_clients):
    def make(settings: TenantSettings) -> OneAppClient:
        client = OneAppClient(settings)
        open_clients.append(client)
        return client

    return make


@pytest.fixture
def client(connect, fake_oneapp: FakeOneApp) -> OneAppClient:
    return connect(tenant(fake_oneapp.url))


async def call_tool(client: OneAppClient, name: str, **values: Any) -> tuple[int, Any]:
    """Send what the tool `name` sends for these validated argument values."""
    spec = SPECS[name]
    values = {field: values.get(field) for field in spec.arguments.model_fields}
    path, query, body = spec.upstream_request(values)
    return await client.request(spec.method, spec.base, path, query, body)


async def upstream_error(client: OneAppClient, path: str = "/core/sucursales") -> UpstreamError:
    with pytest.raises(UpstreamError) as excinfo:
        await client.request("GET", "core", path, {})
    return excinfo.value


# Headers.


async def test_every_request_sends_json_content_type_the_token_and_the_client_header(client, fake_oneapp):
    await client.request("GET", "core", "/core/sucursales", {})

    headers = fake_oneapp.received[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == CANARY_TOKEN
    assert headers["client"] == "acme"


async def test_a_tenant_without_token_or_client_header_sends_neither(connect, fake_oneapp):
    client = connect(tenant(fake_oneapp.url, authorization="", client_header=""))

    await client.request("GET", "core", "/core/sucursales", {})

    headers = fake_oneapp.received[0].headers
    assert "authorization" not in headers
    assert "client" not in headers
    assert headers["content-type"] == "application/json"


async def test_the_token_is_sent_without_the_client_header_when_only_the_token_is_set(connect, fake_oneapp):
    client = connect(tenant(fake_oneapp.url, client_header=""))

    await client.request("GET", "core", "/core/sucursales", {})

    headers = fake_oneapp.received[0].headers
    assert headers["authorization"] == CANARY_TOKEN
    assert "client" not in headers


async def test_a_post_sends_its_body_as_json(client, fake_oneapp):
    photo = {"foto_url": "https://img.example.test/1.jpg", "criterios": ["limpieza", "orden"]}

    status, _ = await call_tool(client, "moai_visapp_foto", **photo)

    received = fake_oneapp.received[0]
    assert status == 200
    assert (received.method, received.path) == ("POST", "/visual/moai")
    assert received.query == ""
    assert received.json() == photo
    assert received.headers["content-type"] == "application/json"


# URLs and query strings.


async def test_the_parsed_json_of_the_answer_is_returned(client, fake_oneapp):
    fake_oneapp.reply("/core/sucursales", body=[{"id": 1, "nombre": "Centro"}])

    status, data = await client.request("GET", "core", "/core/sucursales", {})

    assert (status, data) == (200, [{"id": 1, "nombre": "Centro"}])


async def test_absent_optionals_are_left_out_of_the_query_string(client, fake_oneapp):
    await call_tool(client, "checklist_list_respuestas", cuestionario_id=5, page=2)
    await call_tool(client, "core_list_zonas")

    respuestas, zonas = fake_oneapp.received
    assert sorted(respuestas.query.split("&")) == ["cuestionario_id=5", "page=2"]
    assert zonas.query == ""
    assert zonas.path == "/core/zonas"


async def test_lists_are_sent_comma_joined_literally(client, fake_oneapp):
    await call_tool(client, "visual_area_categorias", areas_id=[1, 2, 3])
    await call_tool(client, "visual_area_categoria_razones", categories_id=[4, 5])

    areas, categories = fake_oneapp.received
    assert (areas.path, areas.query) == ("/visual/category/areas", "areas=1,2,3")
    assert (categories.path, categories.query) == ("/visual/reason/categories", "categories=4,5")


async def test_query_names_follow_the_contract_where_they_differ_from_the_argument(client, fake_oneapp):
    await call_tool(client, "visual_areas", area_id=7)

    assert fake_oneapp.received[0].query == "id=7"


async def test_text_in_the_query_string_is_encoded_and_arrives_intact(client, fake_oneapp):
    search = "café & té = 100%?"

    await call_tool(client, "checklist_list_checks", search=search)

    received = fake_oneapp.received[0]
    assert received.params == {"search": search}
    assert " " not in received.query and "&" not in received.query


async def test_path_arguments_fill_the_path_and_stay_out_of_the_query(client, fake_oneapp):
    await call_tool(client, "core_list_zonas_by_subgerencia", id=12)

    received = fake_oneapp.received[0]
    assert (received.path, received.query) == ("/core/subgerencias/12/zonas", "")


async def test_each_path_is_joined_to_its_own_base_url_including_a_path_prefix(connect, fake_oneapp):
    client = connect(tenant(fake_oneapp.url, core_base_url=fake_oneapp.url + "/core-api/v1"))

    await client.request("GET", "core", "/core/sucursales", {})
    await client.request("GET", "client", "/front/api/checklist/data/checks", {"page": "1"})

    core, front = fake_oneapp.received
    assert core.path == "/core-api/v1/core/sucursales"
    assert (front.path, front.query) == ("/front/api/checklist/data/checks", "page=1")


# Faults become UpstreamError with a clear message.


async def test_a_non_2xx_answer_becomes_an_error_with_the_status_and_the_upstream_message(
    client, fake_oneapp
):
    fake_oneapp.reply("/core/sucursales", status=404, body={"error": "Sucursal no encontrada"})

    error = await upstream_error(client)

    assert str(error) == 'OneApp answered 404 Not Found: {"error": "Sucursal no encontrada"}'
    assert error.status == 404


async def test_a_long_upstream_message_is_truncated_to_200_characters(client, fake_oneapp):
    fake_oneapp.reply("/core/sucursales", status=500, body=b"x" * 1000, content_type="text/plain")

    error = await upstream_error(client)

    assert str(error) == "OneApp answered 500 Internal Server Error: " + "x" * 200 + "…"
    assert error.status == 500


async def test_an_empty_error_body_is_named_as_such(client, fake_oneapp):
    fake_oneapp.reply("/core/sucursales", status=502, body=b"", content_type="text/plain")

    assert str(await upstream_error(client)) == "OneApp answered 502 Bad Gateway: (empty body)"


async def test_an_upstream_slower_than_the_tenant_timeout_becomes_a_timeout_error(connect, fake_oneapp):
    client = connect(tenant(fake_oneapp.url, http_timeout_ms=200))
    fake_oneapp.reply("/core/sucursales", delay=1.0)

    error = await upstream_error(client)

    assert str(error) == "OneApp did not answer within 200 ms."
    assert error.status is None


async def test_a_refused_connection_becomes_a_clear_error(connect):
    port = free_port()  # nothing listens there
    client = connect(tenant(f"http://127.0.0.1:{port}"))

    error = await upstream_error(client)

    assert str(error) == f"Could not connect to OneApp at 127.0.0.1:{port}: connection refused."
    assert error.status is None


async def test_an_unresolvable_host_becomes_a_clear_error(open_clients):
    def no_such_host(request: httpx.Request) -> httpx.Response:
        # What a transport raises when the resolver fails (offline here, so simulated).
        resolver_error = socket.gaierror(-2, "Name or service not known")
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from resolver_error

    client = OneAppClient(tenant("https://core.oneapp.invalid"), transport=httpx.MockTransport(no_such_host))
    open_clients.append(client)
    error = await upstream_error(client)

    assert str(error) == (
        "Could not connect to OneApp at core.oneapp.invalid: the host name could not be resolved."
    )


async def test_a_connection_error_never_shows_credentials_from_the_base_url(connect):
    # The model refuses such URLs; a client given one anyway still keeps the password out of sight.
    port = free_port()
    client = connect(tenant(f"http://staff:hunter2@127.0.0.1:{port}"))

    error = await upstream_error(client)

    assert "hunter2" not in str(error)
    assert str(error).startswith(f"The request to OneApp at 127.0.0.1:{port} could not be made")


async def test_a_200_answer_that_is_not_json_becomes_an_error(client, fake_oneapp):
    fake_oneapp.reply("/core/sucursales", body=b"<html>Mantenimiento</html>", content_type="text/html")

    error = await upstream_error(client)

    assert str(error) == "OneApp answered 200 with a body that is not JSON."
    assert error.status == 200


# The token never leaks.


@pytest.mark.parametrize(
    "echo",
    [
        f'{{"error": "token rejected", "authorization": "{CANARY_TOKEN}"}}',
        f"invalid token {CANARY_SECRET} for client acme",
        f"headers: Authorization={CANARY_TOKEN}; client=acme",
    ],
    ids=["whole-header-in-json", "credential-alone", "header-in-text"],
)
async def test_the_token_never_appears_in_an_error_even_when_the_upstream_echoes_it(
    client, fake_oneapp, echo
):
    fake_oneapp.reply("/core/sucursales", status=401, body=echo.encode(), content_type="text/plain")

    error = await upstream_error(client)

    assert CANARY_SECRET not in str(error)
    assert "[redacted]" in str(error)
    assert str(error).startswith("OneApp answered 401 Unauthorized: ")


async def test_a_redacted_token_is_not_cut_back_into_view_by_truncation(client, fake_oneapp):
    # The token straddles the 200th character: redaction must come before truncation.
    body = "x" * (MAX_ERROR_SNIPPET - 10) + CANARY_TOKEN + "y" * 100
    fake_oneapp.reply("/core/sucursales", status=403, body=body.encode(), content_type="text/plain")

    error = await upstream_error(client)

    assert CANARY_SECRET[:8] not in str(error)
    assert str(error).endswith("…")


async def test_the_token_never_appears_in_logs(client, connect, fake_oneapp, caplog):
    caplog.set_level(logging.DEBUG)
    fake_oneapp.reply("/core/sucursales", status=401, body=f"bad token {CANARY_TOKEN}".encode())
    fake_oneapp.reply("/core/zonas", delay=1.0)
    slow = connect(tenant(fake_oneapp.url, http_timeout_ms=200))
    refused = connect(tenant(f"http://127.0.0.1:{free_port()}"))

    await client.request("GET", "core", "/core/subgerencias", {})
    for failing, path in ((client, "/core/sucursales"), (slow, "/core/zonas"), (refused, "/core/sucursales")):
        await upstream_error(failing, path)

    # (httpx's client, which logged each request, is not used: only its Request, Response and the
    # aiohttp transport are. Whatever does log, at any level, must carry no token.)
    logged = "\n".join(
        [caplog.text]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    assert CANARY_SECRET not in logged


# One keep-alive pool.


async def test_sequential_calls_reuse_one_keep_alive_connection(client, fake_oneapp):
    fake_oneapp.reply("/core/zonas", status=404, body={"error": "no"})

    for _ in range(5):
        await client.request("GET", "core", "/core/sucursales", {})
    await upstream_error(client, "/core/zonas")  # an error answer does not cost the connection
    await client.request("GET", "client", "/front/api/checklist/data/checks", {})

    assert len(fake_oneapp.received) == 7
    assert fake_oneapp.connections == 1


async def test_closing_the_client_closes_its_pooled_connection(client, fake_oneapp):
    await client.request("GET", "core", "/core/sucursales", {})
    await client.request("GET", "core", "/core/zonas", {})
    assert (fake_oneapp.connections, fake_oneapp.disconnections) == (1, 0)  # kept alive between calls

    await client.aclose()

    # OneApp sees the connection end: the pool closed its socket, it did not just forget it.
    async with asyncio.timeout(5):
        while fake_oneapp.disconnections < 1:
            await asyncio.sleep(0.01)
    assert (fake_oneapp.connections, fake_oneapp.disconnections) == (1, 1)


async def test_calls_beyond_the_tenants_concurrency_cap_wait_for_a_free_slot(
    connect, fake_oneapp: FakeOneApp
):
    fake_oneapp.reply("/core/sucursales", body={"ok": True}, delay=0.3)
    client = connect(tenant(fake_oneapp.url, max_concurrent_calls=2, http_timeout_ms=5000))
    results = await asyncio.gather(*(client.request("GET", "core", "/core/sucursales", {}) for _ in range(5)))
    assert [status for status, _ in results] == [200] * 5
    assert fake_oneapp.max_in_flight == 2


async def test_a_call_that_cannot_get_a_slot_within_the_timeout_is_a_clear_error(
    connect, fake_oneapp: FakeOneApp
):
    client = connect(tenant(fake_oneapp.url, max_concurrent_calls=1, http_timeout_ms=100))
    await client._slots.acquire()  # the one slot is taken by a call that does not end in time
    with pytest.raises(
        UpstreamError, match=r"Too many OneApp calls in progress for this client \(at most 1 at once\)"
    ):
        await client.request("GET", "core", "/core/sucursales", {})
    assert fake_oneapp.received == []
