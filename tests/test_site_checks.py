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


def test_a_public_base_url_with_a_path_is_oneapp_site_e002(settings):
    settings.PUBLIC_BASE_URL = "https://mcp.example.com/mcp"
    [(check_id, msg, _)] = errors("oneapp_site.")
    assert check_id == "oneapp_site.E002" and "'https://mcp.example.com/mcp'" in msg


def test_an_origin_is_a_good_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://mcp.example.com:8443"
    assert errors("oneapp_site.") == []


def test_a_deployment_without_a_public_base_url_is_warned(settings):
    settings.PUBLIC_BASE_URL = ""
    assert "oneapp_site.W002" in [m.id for m in run_checks(include_deployment_checks=True)]
