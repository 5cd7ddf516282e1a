"""Settings errors are system checks with ids and hints (reported at start), not raises at import."""

from django.core.checks import run_checks


def errors(prefix: str) -> list[tuple[str, str, str]]:
    return [(m.id, m.msg, m.hint) for m in run_checks() if m.id.startswith(prefix)]


def test_a_missing_secret_key_is_oneapp_site_e001_with_how_to_make_one(settings):
    settings.SECRET_KEY = ""
    [(check_id, msg, hint)] = errors("oneapp_site.")
    assert check_id == "oneapp_site.E001"
    assert "SECRET_KEY" in msg and "secrets.token_urlsafe" in hint


def test_a_secret_key_passes(settings):
    settings.SECRET_KEY = "something-long-and-random"
    assert errors("oneapp_site.") == []


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
