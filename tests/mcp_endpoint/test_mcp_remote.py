"""mcp-remote (the stdio bridge Claude Desktop uses) with a wrong or expired key, against the live server.

mcp-remote 0.15.1 passes every 401 to its OAuth flow without reading the body: discovery finds no
metadata, dynamic client registration at /register gets 404, and mcp-remote reads that 404 as "no
Streamable HTTP here" and falls back to the old SSE transport, a GET /mcp. That GET used to be
answered 405 before its key was checked, so the session ended with "SSE error: Non-200 status code
(405)". Now every method gets its key checked first, and the 401's challenge carries the reason
(docs/conformance.md, "mcp-remote and a refused key").
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from mcp_endpoint.refusals import INVALID_ACCESS_KEY
from tests.helpers import INITIALIZE, WRONG_SECRET_KEY, give_key
from tests.node_tools import node_command, node_env

EXPIRED_KEY = "omk_expired1_" + "e" * 43


def mcp_remote(url: str, key: str, config_dir: str, *options: str) -> subprocess.CompletedProcess[str]:
    """mcp-remote as Claude Desktop starts it, sent one initialize on stdin; what it printed, once it gave up."""
    command = [
        node_command("mcp-remote"),
        url + "/mcp",
        "--header",
        "X-Client-ID: acme",
        "--header",
        f"Authorization: Bearer {key}",
        "--auth-timeout",
        "5",  # a bound, should it ever wait for a browser sign-in
        *options,
    ]
    return subprocess.run(
        command,
        input=json.dumps(INITIALIZE) + "\n",
        env=node_env(MCP_REMOTE_CONFIG_DIR=config_dir),  # its token and log files, not ~/.mcp-auth
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def keys(oneapp_tenant) -> dict[str, str]:
    give_key(oneapp_tenant, EXPIRED_KEY, expires_at=timezone.now() - timedelta(days=1))
    return {"wrong": WRONG_SECRET_KEY, "expired": EXPIRED_KEY}


@pytest.mark.parametrize("kind", ["wrong", "expired"])
def test_a_refused_key_is_not_reported_as_a_missing_sse_stream_and_its_reason_is_printed(
    live_server_url, keys, tmp_path, kind
):
    # --debug prints what it always prints, and more: here the 401 to its first request (a GET
    # /mcp probing for OAuth), with its challenge.
    run = mcp_remote(live_server_url, keys[kind], str(tmp_path), "--debug")

    assert run.returncode != 0
    assert "Connecting to remote server" in run.stderr  # it did reach the server
    assert "Non-200 status code" not in run.stderr and "Method Not Allowed" not in run.stderr
    assert "Fatal error" in run.stderr
    assert 'error="invalid_token"' in run.stderr
    assert f'error_description="{INVALID_ACCESS_KEY.error}"' in run.stderr
