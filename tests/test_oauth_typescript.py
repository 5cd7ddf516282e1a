"""The official TypeScript SDK's client connects with a tenant's URL alone (tests/node/oauth_client.mjs):
it registers (DCR), sends the member through sign-in and consent (scripted HTTP here), and its tool call
reaches the fake OneApp with the tenant's token. Needs ONEAPP_NODE (scripts/test installs it)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tenants.models import Membership
from tests.helpers import CORE
from tests.oauth_member import PASSWORD, REDIRECT, Member

SCRIPT = Path(__file__).parent / "node" / "oauth_client.mjs"
NODE = os.environ.get("ONEAPP_NODE", "")


def test_the_typescript_sdk_signs_in_and_calls_a_tool(live_server_url, oneapp_tenant, fake_oneapp):
    if not Path(NODE).is_file():
        # Never a skip: a run without the TypeScript client must not pass unnoticed.
        pytest.fail(
            "ONEAPP_NODE is not set: run scripts/test, which installs Node 22 and the SDK.", pytrace=False
        )
    Membership.objects.create(user=User.objects.create_user("ana", password=PASSWORD), tenant=oneapp_tenant)
    fake_oneapp.reply(CORE + "/core/sucursales", body={"data": [{"id": 9}]})
    node = subprocess.Popen(
        [NODE, str(SCRIPT), live_server_url + "/mcp/acme", REDIRECT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=SCRIPT.parent,
    )
    try:
        first = node.stdout.readline()
        assert first.startswith("AUTHORIZE "), first + node.stderr.read()
        ana = Member("ana")
        node.stdin.write(ana.authorize(first.removeprefix("AUTHORIZE ").strip()) + "\n")
        node.stdin.flush()
        out, err = node.communicate(timeout=60)
    finally:
        node.kill()
    assert node.returncode == 0, err
    result = json.loads(out.split("RESULT ", 1)[1])
    assert "core_list_sucursales" in result["tools"] and "moai_visapp_foto" in result["tools"]
    assert result["result"]["structuredContent"] == {"data": [{"id": 9}]}
    assert fake_oneapp.received[0].headers["authorization"] == oneapp_tenant.authorization
    assert "TypeScript SDK client" in ana.pages[-1].text
