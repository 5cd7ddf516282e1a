"""/metrics: what real traffic moves, who may read it, and the sum over several uvicorn workers.

The metrics registry is global to the process (the live server runs in a thread of it), so tests
compare values read before and after their own traffic.
"""

import json
import secrets
import time
from pathlib import Path

import httpx
import pytest
from mcp import MCPError
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ACME_KEY, CALL_TOOL, CORE, GLOBEX_KEY, give_key
from tests.live_server import UvicornProcess
from tests.mcp_client import MODES, connect

FAMILIES = {
    "oneapp_mcp_requests": "counter",
    "oneapp_mcp_tool_calls": "counter",
    "oneapp_mcp_upstream_seconds": "histogram",
    "oneapp_mcp_server_cache": "counter",
    "oneapp_mcp_cached_tenants": "gauge",
}


class Scrape:
    """One reading of /metrics."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}

    def __call__(self, name: str, **labels: str) -> float:
        """The sum of the samples of this name whose labels include `labels`."""
        return sum(
            sample.value
            for family in self.families.values()
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def by(self, name: str, label: str) -> dict[str, float]:
        values: dict[str, float] = {}
        for family in self.families.values():
            for sample in family.samples:
                if sample.name == name and label in sample.labels:
                    values[sample.labels[label]] = values.get(sample.labels[label], 0) + sample.value
        return values

    def __sub__(self, earlier: "Scrape") -> "Change":
        return Change(earlier, self)


class Change:
    """How far each sample moved between two readings (the registry is the whole process's)."""

    def __init__(self, before: Scrape, after: Scrape) -> None:
        self.before, self.after = before, after

    def __call__(self, name: str, **labels: str) -> float:
        return self.after(name, **labels) - self.before(name, **labels)

    def by(self, name: str, label: str) -> dict[str, float]:
        before = self.before.by(name, label)
        return {
            value: count - before.get(value, 0)
            for value, count in self.after.by(name, label).items()
            if count != before.get(value, 0)
        }


def refused_by_the_server() -> pytest.RaisesGroup:
    """How the SDK's client ends when /mcp refuses it with a 4xx: an MCPError, inside its task groups."""
    return pytest.RaisesGroup(
        pytest.RaisesExc(MCPError, match="^Server returned an error response$"), flatten_subgroups=True
    )


def scrape(base_url: str) -> Scrape:
    response = httpx.get(base_url + "/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def post(base_url: str, client_id: str | None, key: str | None = ACME_KEY) -> httpx.Response:
    """One JSON-RPC tool call over a new connection: exactly one HTTP request."""
    headers = {"Accept": "application/json, text/event-stream"}
    if client_id is not None:
        headers["X-Client-ID"] = client_id
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.post(base_url + "/mcp", json=CALL_TOOL, headers=headers, timeout=5)


# What real traffic moves


@pytest.mark.usefixtures("oneapp_tenant")
def test_metrics_is_prometheus_text_with_every_documented_family(live_server_url):
    post(live_server_url, "acme")  # so that every labelled family has a sample
    response = httpx.get(live_server_url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = Scrape(response.text).families
    assert {name: families[name].type for name in FAMILIES} == FAMILIES


@pytest.mark.usefixtures("oneapp_tenant")
@pytest.mark.parametrize("mode", MODES)
async def test_a_successful_tool_call_is_counted_once_timed_once_and_each_of_its_requests_counted_once(
    live_server_url, mode
):
    before = scrape(live_server_url)
    async with connect(live_server_url, mode=mode) as client:
        result = await client.call_tool("core_list_sucursales", {})
    moved = scrape(live_server_url) - before

    assert result.is_error is False
    assert moved.by("oneapp_mcp_tool_calls_total", "outcome") == {"ok": 1}
    assert moved("oneapp_mcp_tool_calls_total", tenant="acme", tool="core_list_sucursales", outcome="ok") == 1
    assert moved("oneapp_mcp_upstream_seconds_count", tool="core_list_sucursales") == 1
    assert moved("oneapp_mcp_upstream_seconds_bucket", tool="core_list_sucursales", le="+Inf") == 1
    # The SDK's session takes a few HTTP requests (how many depends on the mode), all served; each
    # was counted once and looked the tenant up once: a miss (and a build) on the cold cache, then hits.
    requests = moved.by("oneapp_mcp_requests_total", "outcome")
    assert set(requests) <= {"MCP_200", "MCP_202"} and requests["MCP_200"] >= 1
    assert moved.by("oneapp_mcp_server_cache_total", "event") == {
        "miss": 1,
        "build": 1,
        "hit": sum(requests.values()) - 1,
    }
    assert moved.after("oneapp_mcp_cached_tenants") == 1


@pytest.mark.usefixtures("oneapp_tenant")
async def test_an_upstream_error_is_counted_with_its_kind_and_still_timed(live_server_url, fake_oneapp):
    fake_oneapp.reply(CORE + "/core/sucursales", status=500, body={"error": "boom"})
    before = scrape(live_server_url)
    async with connect(live_server_url) as client:
        result = await client.call_tool("core_list_sucursales", {})
    moved = scrape(live_server_url) - before

    assert result.is_error is True
    assert moved.by("oneapp_mcp_tool_calls_total", "outcome") == {"status": 1}
    assert moved("oneapp_mcp_tool_calls_total", tenant="acme", tool="core_list_sucursales") == 1
    assert moved("oneapp_mcp_upstream_seconds_count", tool="core_list_sucursales") == 1
    # The HTTP request itself was served: the failure is in the tool's result.
    assert set(moved.by("oneapp_mcp_requests_total", "outcome")) == {"MCP_200"}


@pytest.mark.usefixtures("oneapp_tenant")
def test_each_refusal_is_counted_once_under_its_code_and_calls_no_tool(live_server_url, fake_oneapp):
    before = scrape(live_server_url)
    responses = [
        post(live_server_url, "acme", key=None),
        post(live_server_url, "acme", key=None),
        post(live_server_url, "acme", key="omk_acme0key_" + "x" * 43),
        post(live_server_url, "nosuchclient"),
        post(live_server_url, None),
        post(live_server_url, "ac-me"),
    ]
    moved = scrape(live_server_url) - before

    assert [response.status_code for response in responses] == [401, 401, 401, 403, 403, 403]
    assert moved.by("oneapp_mcp_requests_total", "outcome") == {
        "MISSING_ACCESS_KEY": 2,
        "INVALID_ACCESS_KEY": 1,
        "UNKNOWN_CLIENT": 1,
        "MISSING_CLIENT_ID": 1,
        "INVALID_CLIENT_ID": 1,
    }
    assert moved("oneapp_mcp_tool_calls_total") == 0
    assert fake_oneapp.received == []


@pytest.mark.usefixtures("oneapp_tenant")
async def test_sdk_clients_without_a_key_or_with_an_unknown_client_id_are_counted_under_those_codes(
    live_server_url, fake_oneapp
):
    before = scrape(live_server_url)
    with refused_by_the_server():  # the HTTP 401
        async with connect(live_server_url, headers={"Authorization": ""}) as client:
            await client.call_tool("core_list_sucursales", {})
    between = scrape(live_server_url)
    with refused_by_the_server():  # the HTTP 403
        async with connect(live_server_url, client_id="nosuchclient") as client:
            await client.call_tool("core_list_sucursales", {})
    after = scrape(live_server_url)

    # The SDK gives up after its first request or two: every one was refused, none served.
    missing_key = (between - before).by("oneapp_mcp_requests_total", "outcome")
    unknown_client = (after - between).by("oneapp_mcp_requests_total", "outcome")
    assert set(missing_key) == {"MISSING_ACCESS_KEY"}
    assert set(unknown_client) == {"UNKNOWN_CLIENT"}
    assert (after - before)("oneapp_mcp_tool_calls_total") == 0
    assert fake_oneapp.received == []


@pytest.mark.usefixtures("oneapp_tenant")
async def test_random_client_ids_never_appear_in_metrics(live_server_url):
    randoms = [secrets.token_hex(8) for _ in range(8)]
    unknown = [f"probe{random}" for random in randoms[:5]]
    invalid = [f"Probe-{random}" for random in randoms[5:]]
    before = scrape(live_server_url)
    for client_id in unknown + invalid:
        post(live_server_url, client_id)
    with refused_by_the_server():  # the HTTP 403
        async with connect(live_server_url, client_id=unknown[0]) as client:
            await client.call_tool("core_list_sucursales", {})
    after = scrape(live_server_url)

    moved = (after - before).by("oneapp_mcp_requests_total", "outcome")
    assert moved["UNKNOWN_CLIENT"] > len(unknown)
    assert moved["INVALID_CLIENT_ID"] == len(invalid)
    for random in randoms:
        assert random not in after.text.lower()
    # Only configured tenants are ever label values.
    assert set(after.by("oneapp_mcp_tool_calls_total", "tenant")).isdisjoint(unknown)


def test_a_new_tenant_pushing_another_out_of_a_full_cache_counts_an_eviction(
    live_server_url, oneapp_tenant, make_tenant, fake_oneapp, settings
):
    settings.MCP_SERVER_CACHE_MAX_ENTRIES = 1
    globex = make_tenant("globex", core_base_url=fake_oneapp.url, client_base_url=fake_oneapp.url)
    give_key(globex, GLOBEX_KEY)
    before = scrape(live_server_url)
    assert post(live_server_url, "acme").status_code == 200
    assert post(live_server_url, "globex", key=GLOBEX_KEY).status_code == 200
    after = scrape(live_server_url)

    assert (after - before).by("oneapp_mcp_server_cache_total", "event") == {
        "miss": 2,
        "build": 2,
        "eviction": 1,
    }
    assert after("oneapp_mcp_cached_tenants") == 1
    assert (after - before)("oneapp_mcp_tool_calls_total", tenant="globex", outcome="ok") == 1


# Who may read it (through Django's test client, which sets REMOTE_ADDR)


def test_metrics_refuses_an_address_outside_the_allowed_networks(client):
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert b"oneapp_mcp" not in response.content


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_metrics_answers_the_local_host_by_default(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 200
    assert b"# TYPE oneapp_mcp_requests_total counter" in response.content


def test_the_metrics_token_lets_a_foreign_address_in(client, settings):
    settings.METRICS_TOKEN = "scrape-token-3c1d9e"
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-token-3c1d9e")
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", "Bearer scrape-token-3c1d9", "Bearer ", ""])
def test_a_wrong_or_missing_metrics_token_is_refused(client, settings, authorization):
    settings.METRICS_TOKEN = "scrape-token-3c1d9e"
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 403


def test_no_token_is_accepted_while_metrics_token_is_unset(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.parametrize("address", ["10.1.2.3", "::ffff:10.1.2.3"])
def test_allowed_networks_let_their_addresses_in_and_replace_the_default(client, settings, address):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


# Several uvicorn workers: prometheus-client's multiprocess mode


@pytest.fixture
def two_workers_sharing_metrics(transactional_db, tmp_path):
    """`uvicorn --workers 2` with PROMETHEUS_MULTIPROC_DIR; yields its base URL and that directory."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    server = UvicornProcess(
        tmp_path / "uvicorn.log",
        workers=2,
        MCP_CHANGE_POLL_SECONDS="0",  # no rebuild from replayed changes: one build per worker
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    deadline = time.monotonic() + 60
    # Both workers have imported the metrics (each writes its own files).
    while len(worker_pids(metrics_dir)) < 2:
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(server.log)
        time.sleep(0.1)
    yield server.url, metrics_dir
    server.stop()


def worker_pids(metrics_dir: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}


def served_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Requests counted by each worker alone, read from that worker's own file."""
    served = {}
    for pid in worker_pids(metrics_dir):
        merged = MultiProcessCollector.merge([str(metrics_dir / f"counter_{pid}.db")])
        served[pid] = sum(
            sample.value
            for metric in merged
            for sample in metric.samples
            if sample.name == "oneapp_mcp_requests_total" and sample.labels == {"outcome": "MCP_200"}
        )
    return served


def test_with_two_workers_metrics_reports_the_sum_of_both_workers(
    two_workers_sharing_metrics, oneapp_tenant, fake_oneapp
):
    base_url, metrics_dir = two_workers_sharing_metrics
    sent = 0
    # New connections until both workers have answered some (the kernel decides who accepts).
    while sent < 20 or (min(served_by_worker(metrics_dir).values()) == 0 and sent < 400):
        response = post(base_url, "acme")
        assert response.status_code == 200, response.text
        assert json.loads(response.text)["result"]["isError"] is False
        sent += 1
    served = served_by_worker(metrics_dir)
    assert len(served) == 2 and min(served.values()) > 0, served
    assert sum(served.values()) == sent

    for _ in range(8):  # each over a new connection: both workers answer /metrics too
        scraped = scrape(base_url)
        assert scraped("oneapp_mcp_requests_total", outcome="MCP_200") == sent
        assert scraped("oneapp_mcp_tool_calls_total", tenant="acme", outcome="ok") == sent
        assert scraped("oneapp_mcp_upstream_seconds_count", tool="core_list_sucursales") == sent
        assert scraped("oneapp_mcp_server_cache_total", event="build") == 2
        assert scraped("oneapp_mcp_server_cache_total", event="hit") == sent - 2
        # acme, once in each worker: one sample summed over the live workers, not one per pid.
        [cached] = scraped.families["oneapp_mcp_cached_tenants"].samples
        assert (cached.labels, cached.value) == ({}, 2)
