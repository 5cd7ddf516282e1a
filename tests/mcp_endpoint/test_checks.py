"""The endpoint's system checks (mcp_endpoint/checks.py): W001 while access keys are not required, E001 for
each metrics network that is no network, E002/E003 for a trace export this build cannot make, E004 for
a response budget out of range, E005 for a REDIS_URL or REDIS_TIMEOUT_SECONDS that cannot work."""

import pytest
from django.core.checks import run_checks


def w001(settings, required: bool) -> list:
    settings.MCP_REQUIRE_ACCESS_KEY = required
    return [message for message in run_checks() if message.id == "mcp_endpoint.W001"]


def test_keys_not_required_is_reported_as_warning_w001(settings):
    [warning] = w001(settings, required=False)
    assert warning.is_serious() is False
    assert "MCP_REQUIRE_ACCESS_KEY" in warning.msg
    assert "create_access_key" in warning.hint


def test_keys_required_raises_no_w001(settings):
    assert w001(settings, required=True) == []


def errors(prefix: str) -> list[tuple[str, str, str]]:
    return [(m.id, m.msg, m.hint) for m in run_checks() if m.id.startswith(prefix)]


def test_each_metrics_network_that_is_no_network_is_named_by_mcp_endpoint_e001(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "banana", "::1/128", "300.1.1.1/32"]
    found = errors("mcp_endpoint.E")
    assert [(check_id, msg) for check_id, msg, _ in found] == [
        ("mcp_endpoint.E001", "METRICS_ALLOWED_NETWORKS: 'banana' is not a network."),
        ("mcp_endpoint.E001", "METRICS_ALLOWED_NETWORKS: '300.1.1.1/32' is not a network."),
    ]
    assert all("CIDR" in hint for _, _, hint in found)


def test_valid_metrics_networks_pass(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert errors("mcp_endpoint.E") == []


def trace_export(settings, endpoint: str, protocol: str = "http/protobuf", enabled: bool = True) -> list[str]:
    settings.TRACING_ENABLED = enabled
    settings.OTEL_TRACES_ENDPOINT = endpoint
    settings.OTEL_TRACES_PROTOCOL = protocol
    return [check_id for check_id, _, _ in errors("mcp_endpoint.E00")]


def test_a_trace_endpoint_that_is_no_http_url_is_mcp_endpoint_e002(settings):
    assert trace_export(settings, "collector:4318") == ["mcp_endpoint.E002"]
    assert trace_export(settings, "grpc://collector:4317") == ["mcp_endpoint.E002"]
    assert trace_export(settings, "https://") == ["mcp_endpoint.E002"]


def test_a_trace_protocol_other_than_http_protobuf_is_mcp_endpoint_e003(settings):
    assert trace_export(settings, "http://collector:4317", protocol="grpc") == ["mcp_endpoint.E003"]
    [(_, message, hint)] = errors("mcp_endpoint.E003")
    assert "'grpc' is not supported" in message
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in hint


def test_a_usable_trace_export_or_none_passes(settings):
    assert trace_export(settings, "http://collector:4318") == []
    assert trace_export(settings, "https://otlp.example.com/v1/traces") == []
    assert trace_export(settings, "", protocol="grpc", enabled=False) == []


@pytest.mark.parametrize("budget", [0, -1, 1999, 1_000_001])
def test_a_response_budget_out_of_range_is_mcp_endpoint_e004(settings, budget):
    settings.MCP_RESPONSE_BUDGET_CHARS = budget
    [(check_id, msg, hint)] = errors("mcp_endpoint.E")
    assert check_id == "mcp_endpoint.E004"
    assert (
        msg
        == f"MCP_RESPONSE_BUDGET_CHARS is {budget}: a tool result must be allowed 2000 to 1000000 characters."
    )
    assert "2000 to 1000000" in hint


@pytest.mark.parametrize("budget", [2000, 80_000, 1_000_000])
def test_a_response_budget_in_range_passes(settings, budget):
    settings.MCP_RESPONSE_BUDGET_CHARS = budget
    assert errors("mcp_endpoint.E") == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://cache.internal:6379", "must specify one of the following schemes"),
        ("redis://:s3cret-canary@cache.internal:port/0", "Port could not be cast"),
    ],
)
def test_a_redis_url_that_is_not_one_is_named_by_mcp_endpoint_e005_without_its_password(settings, url, said):
    settings.REDIS_URL = url
    [(check_id, msg, hint)] = errors("mcp_endpoint.E")
    assert check_id == "mcp_endpoint.E005"
    assert msg.startswith("REDIS_URL is not a Redis URL") and said in msg
    assert "s3cret-canary" not in msg + hint
    assert "redis://" in hint


@pytest.mark.parametrize(
    "url", ["", "redis://127.0.0.1:6379/0", "rediss://:pw@cache.internal:6380/1", "unix:///run/redis.sock"]
)
def test_an_empty_or_redis_url_passes(settings, url):
    settings.REDIS_URL = url
    assert errors("mcp_endpoint.E") == []


def test_a_redis_timeout_of_zero_is_an_error(settings):
    settings.REDIS_TIMEOUT_SECONDS = 0
    assert [check_id for check_id, _, _ in errors("mcp_endpoint.E")] == ["mcp_endpoint.E005"]
