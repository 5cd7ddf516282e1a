"""mcp-remote (the stdio bridge Claude Desktop uses) with a wrong or expired key, against the live server.

mcp-remote 0.15.1 passes every 401 to its OAuth flow without reading the body. Before OAuth existed,
discovery found nothing, and it fell back to the old SSE transport, a GET /mcp that was answered 405
before its key was checked: the session ended with "SSE error: Non-200 status code (405)". Now every
method gets its key checked first; and since this server is an OAuth authorization server (for the
tenant URLs, /mcp/<client_id>), mcp-remote finds its metadata at the root, registers and asks the user
to sign in, without naming a resource (/mcp has none). The page that opens says why: /mcp takes
access keys only, and the one configured was refused.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from tests.helpers import INITIALIZE, WRONG_SECRET_KEY, give_key
from tests.node_tools import node_command, node_env

EXPIRED_KEY = "omk_expired1_" + "e" * 43


AUTHORIZE_URL = re.compile(r"Please authorize this client by visiting:\s+(http\S+)")


def authorize_url_from_mcp_remote(url: str, key: str, config_dir: str) -> tuple[str, str]:
    """mcp-remote as Claude Desktop starts it, sent one initialize on stdin, stopped once it asks the user to
    visit a sign-in URL (it would wait for a browser): that URL, and what it printed until then."""
    command = [
        node_command("mcp-remote"),
        url + "/mcp",
        "--header",
        "X-Client-ID: acme",
        "--header",
        f"Authorization: Bearer {key}",
    ]
    env = node_env(MCP_REMOTE_CONFIG_DIR=config_dir, BROWSER="true")  # its files; no browser to open
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
    ) as bridge:
        assert bridge.stdin is not None and bridge.stderr is not None
        bridge.stdin.write(json.dumps(INITIALIZE) + "\n")
        bridge.stdin.flush()
        printed = ""
        deadline = time.monotonic() + 60
        try:
            while (found := AUTHORIZE_URL.search(printed)) is None:
                assert time.monotonic() < deadline, printed
                line = bridge.stderr.readline()
                assert line, f"mcp-remote ended without asking for a sign-in:\n{printed}"
                printed += line
        finally:
            bridge.kill()
    return found.group(1), printed


@pytest.fixture
def keys(oneapp_tenant) -> dict[str, str]:
    give_key(oneapp_tenant, EXPIRED_KEY, expires_at=timezone.now() - timedelta(days=1))
    return {"wrong": WRONG_SECRET_KEY, "expired": EXPIRED_KEY}


@pytest.mark.parametrize("kind", ["wrong", "expired"])
def test_a_refused_key_is_not_reported_as_a_missing_sse_stream_and_the_page_it_opens_says_why(
    live_server_url, keys, tmp_path, kind
):
    url, printed = authorize_url_from_mcp_remote(live_server_url, keys[kind], str(tmp_path))

    assert "Non-200 status code" not in printed and "Method Not Allowed" not in printed
    assert url.startswith(live_server_url + "/oauth/authorize/")
    page = httpx.get(url, timeout=10)  # what the user's browser shows
    assert page.status_code == 400
    text = " ".join(page.text.split())
    assert "takes access keys only" in text
    assert "the key it sent was refused: it is wrong, expired or revoked" in text
