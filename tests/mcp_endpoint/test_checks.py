"""The endpoint's system checks (mcp_endpoint/checks.py): W001 while access keys are not required, E001 for
each metrics network that is no network, E002 for a REDIS_URL or REDIS_TIMEOUT_SECONDS that cannot work."""

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


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://cache.internal:6379", "must specify one of the following schemes"),
        ("redis://:s3cret-canary@cache.internal:port/0", "Port could not be cast"),
    ],
)
def test_a_redis_url_that_is_not_one_is_named_by_mcp_endpoint_e002_without_its_password(settings, url, said):
    settings.REDIS_URL = url
    [(check_id, msg, hint)] = errors("mcp_endpoint.E")
    assert check_id == "mcp_endpoint.E002"
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
    assert [check_id for check_id, _, _ in errors("mcp_endpoint.E")] == ["mcp_endpoint.E002"]
