"""tools/call through a tenant's URL with an OAuth access token, against /mcp with its access key.

One uvicorn worker pinned to CPU 0 serves both; wrk (CPU 1) loads each path in turn, alternating which
goes first, for some rounds. Reported: the server's CPU per request and req/s of each path, and their
per-round ratios (OAuth / key), median and spread. The goal: the OAuth path within 5 % of the key path.
Run from the repository root:

    .venv/bin/python bench/oauth.py [--rounds 5] [--duration 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
from run import (  # bench/run.py: run as a script, this folder is on sys.path
    MODERN,
    PYTHON,
    UVICORN,
    Case,
    Client,
    Server,
    add_tenant,
    bench_env,
    free_port,
    manage,
    measure,
    pinned,
    process,
)

ISSUE_TOKEN = """
import secrets
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value
from tenants.models import ClientConfig, Membership
user = User.objects.create_user("bench")
Membership.objects.create(user=user, tenant=ClientConfig.objects.get(client_id="acme"))
app = Application.objects.create(name="bench", client_type="public",
    authorization_grant_type="authorization-code", redirect_uris="http://127.0.0.1:1/cb")
raw = secrets.token_urlsafe(30)
token = AccessToken(user=user, application=app, expires=timezone.now() + timedelta(days=1),
    scope="read write", resource=["{resource}"])
set_token_value(token, raw)
token.save()
print(raw)
"""


class TenantUrlClient(Client):
    """A client that has the tenant's URL and an OAuth token: no X-Client-ID."""

    def __init__(self, url: str, client_id: str, token: str) -> None:
        super().__init__(url)
        self.url = f"{url}/mcp/{client_id}"
        self.token = token

    def headers(self, method: str, era: str = MODERN) -> dict[str, str]:
        return {**super().headers(method, era), "Authorization": f"Bearer {self.token}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="oneapp-bench-oauth-"))
    upstream_port, port = free_port(), free_port()
    upstream, base = f"http://127.0.0.1:{upstream_port}", f"http://127.0.0.1:{port}"
    env = bench_env(workdir)
    manage(env, "migrate", "-v0")
    key = add_tenant(env, "acme", upstream)
    issued = manage(env, "shell", "-c", ISSUE_TOKEN.format(resource=f"{base}/mcp/acme"))
    token = issued.strip().splitlines()[-1]  # after the shell's own notes
    case = Case(MODERN, "tools/call", options.connections)
    with contextlib.ExitStack() as stack:
        upstream_command = pinned(1, [PYTHON, "bench/upstream.py", str(upstream_port)])
        stack.enter_context(process(upstream_command, env, upstream_port, workdir / "upstream.log"))
        server_command = pinned(0, [*UVICORN, "--port", str(port), "oneapp_site.asgi:application"])
        _, pid = stack.enter_context(process(server_command, env, port, workdir / "server.log"))
        paths = [
            Server("key", Client(base, "acme", key), pid, {}),
            Server("oauth", TenantUrlClient(base, "acme", token), pid, {}),
        ]
        with httpx.Client(timeout=30) as http:
            for server in paths:
                server.client.check(http)
                server.scripts[(case.era, case.method)] = server.client.lua_script(
                    workdir, case.method, case.era
                )
        for server in paths:  # warm both (the tenant, the checked token) before counting
            measure(server, case, 1)
        rounds = []
        for number in range(options.rounds):
            order = paths if number % 2 == 0 else paths[::-1]
            rounds.append({server.name: measure(server, case, options.duration) for server in order})
    report(rounds)


def report(rounds: list[dict[str, dict[str, float]]]) -> None:
    for figure, unit in (("cpu_us", "µs CPU/request"), ("rps", "req/s")):
        for name in ("key", "oauth"):
            values = [r[name][figure] for r in rounds]
            print(
                f"{name:5} {unit:15} median {statistics.median(values):9.1f}  ({min(values):.1f}-{max(values):.1f})"
            )
        ratios = [r["oauth"][figure] / r["key"][figure] for r in rounds]
        print(
            f"oauth/key {unit}: median {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        )
    for name in ("key", "oauth"):
        print(
            f"{name} errors (timeouts, socket errors, non-2xx): {sum(r[name].get('errors', 0) for r in rounds)}"
        )


if __name__ == "__main__":
    main()
