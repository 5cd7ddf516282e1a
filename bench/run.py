"""Benchmark /mcp against the bare SDK app serving the same catalog, in one run, as ratios and goals.

Both servers run under uvicorn, one worker pinned to CPU 0, against the same fast fake OneApp
(bench/upstream.py); wrk (Debian's package) and the other clients run on CPU 1. Run from the
repository root:

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--tenants 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
PARAMS: dict[str, dict[str, Any]] = {
    "tools/call": {"name": "core_list_sucursales", "arguments": {}, "_meta": META},
    "tools/list": {"_meta": META},
}
UVICORN = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(cpu: int, command: list[str]) -> list[str]:
    return (
        ["taskset", "-c", str(cpu), *command]
        if shutil.which("taskset") and (os.cpu_count() or 1) > 1
        else command
    )


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Run a server until the block ends; yields its base URL."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{command} did not start:\n{log.read_text()}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=15)


class Client:
    """How the SDK's own client calls one server (2026-07-28 headers), as data for wrk and httpx."""

    def __init__(self, url: str, client_id: str | None = None, key: str | None = None) -> None:
        self.url = url + "/mcp"
        self.client_id = client_id
        self.key = key

    def headers(self, method: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": method,
        }
        if method == "tools/call":
            headers["Mcp-Name"] = PARAMS[method]["name"]
        if self.client_id:
            headers["X-Client-ID"] = self.client_id
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    @staticmethod
    def body(method: str) -> str:
        return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": PARAMS[method]})

    def check_tool_call(self, http: httpx.Client) -> None:
        response = http.post(self.url, content=self.body("tools/call"), headers=self.headers("tools/call"))
        result = response.json()["result"]
        if result.get("isError") or "Sucursal Centro" not in result["content"][0]["text"]:
            raise RuntimeError(f"{self.url} did not answer the tool call correctly: {result}")

    def lua_script(self, workdir: Path, method: str) -> Path:
        lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(self.body(method))}"]
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in self.headers(method).items()]
        path = workdir / f"{method.replace('/', '_')}_{self.client_id or 'bare'}.lua"
        path.write_text("\n".join(lines) + "\n")
        return path


def found(match: re.Match[str] | None, text: str) -> re.Match[str]:
    if match is None:
        raise RuntimeError(f"wrk printed what this script cannot read:\n{text}")
    return match


def to_ms(value: str) -> float:
    number, unit = found(re.fullmatch(r"([\d.]+)(us|ms|s)", value), value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    output = subprocess.run(pinned(1, command), capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"errors under load:\n{output}")
    return {
        "rps": float(found(re.search(r"Requests/sec:\s+([\d.]+)", output), output).group(1)),
        "p50": to_ms(found(re.search(r"\s50%\s+(\S+)", output), output).group(1)),
        "p99": to_ms(found(re.search(r"\s99%\s+(\S+)", output), output).group(1)),
    }


def load(
    client: Client, workdir: Path, connections: int, duration: int
) -> dict[tuple[str, int], dict[str, float]]:
    results = {}
    for method in PARAMS:
        script = client.lua_script(workdir, method)
        wrk(client.url, script, connections, 2)  # warm-up
        for conc in (connections, 1):
            results[(method, conc)] = wrk(client.url, script, conc, duration)
    return results


def burst(client: Client, calls: int) -> dict[str, object]:
    """`calls` tool calls sent at once over as many connections (bench/burst.py, on CPU 1)."""

    def send(count: int) -> dict[str, object]:
        headers, body = json.dumps(client.headers("tools/call")), client.body("tools/call")
        command = pinned(1, [PYTHON, "bench/burst.py", client.url, str(count), headers, body])
        figures: dict[str, object] = json.loads(
            subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        )
        return figures

    send(10)  # the tenant's server is built and its pool warm, as in steady service
    return send(calls)


def upstream_connections(upstream: str) -> int:
    return int(httpx.get(upstream + "/__connections").text)


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def add_tenant(env: dict[str, str], client_id: str, upstream: str, **limits: int) -> str:
    """Create a tenant served by `upstream` and return a fresh access key for it."""
    fields = {"rate_limit_per_minute": 1_000_000, "max_concurrent_calls": 1000, **limits}
    manage(
        env,
        "shell",
        "-c",
        "from tenants.models import ClientConfig as C; C.objects.update_or_create("
        f"client_id={client_id!r}, defaults=dict(name={client_id!r}, core_base_url={upstream!r}, "
        f"client_base_url={upstream!r}, authorization='Bearer bench-token', client_header={client_id!r}, **{fields!r}))",
    )
    return manage(env, "create_access_key", client_id).strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per measurement")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections for throughput")
    parser.add_argument(
        "--burst", type=int, default=1000, help="tool calls sent at once against a 1 s upstream"
    )
    parser.add_argument("--tenants", type=int, default=10_000, help="configured tenants for the memory bound")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="oneapp-bench-"))
    ports = {name: free_port() for name in ("fast", "slow", "ours", "bare", "bare_slow")}
    fast, slow = f"http://127.0.0.1:{ports['fast']}", f"http://127.0.0.1:{ports['slow']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oneapp_site.settings",
        "ENV_FILE": "",
        "SECRET_KEY": "bench",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    manage(env, "migrate", "-v0")
    keys = {
        "acme": add_tenant(env, "acme", fast),
        "slow": add_tenant(env, "slow", slow),
        "sequential": add_tenant(env, "sequential", fast, max_concurrent_calls=50),
    }
    figures: dict[str, object] = {}
    with (
        process(
            pinned(1, [PYTHON, "bench/upstream.py", str(ports["fast"])]),
            env,
            ports["fast"],
            workdir / "fast.log",
        ),
        process(
            pinned(1, [PYTHON, "bench/upstream.py", str(ports["slow"]), "1.0"]),
            env,
            ports["slow"],
            workdir / "slow.log",
        ),
        httpx.Client(timeout=30) as http,
    ):
        ours_command = pinned(0, [*UVICORN, "--port", str(ports["ours"]), "oneapp_site.asgi:application"])
        with process(ours_command, env, ports["ours"], workdir / "ours.log") as ours_url:
            ours = Client(ours_url, "acme", keys["acme"])
            ours.check_tool_call(http)
            figures["ours"] = load(ours, workdir, options.connections, options.duration)
            figures["ours_burst"] = burst(Client(ours_url, "slow", keys["slow"]), options.burst)
            sequential = Client(ours_url, "sequential", keys["sequential"])
            before = upstream_connections(fast)
            for _ in range(1000):
                sequential.check_tool_call(http)
            figures["sequential_connections"] = upstream_connections(fast) - before
            figures["admin"] = [
                http.get(ours_url + path).status_code
                for path in ("/admin/login/", "/static/admin/css/base.css")
            ]

        def bare_app(name: str, upstream: str) -> contextlib.AbstractContextManager[str]:
            command = pinned(0, [*UVICORN, "--port", str(ports[name]), "bench.bare_app:app"])
            return process(command, {**env, "BENCH_UPSTREAM": upstream}, ports[name], workdir / f"{name}.log")

        with bare_app("bare", fast) as bare_url:
            bare = Client(bare_url)
            bare.check_tool_call(http)
            figures["bare"] = load(bare, workdir, options.connections, options.duration)
        with bare_app("bare_slow", slow) as bare_url:
            figures["bare_burst"] = burst(Client(bare_url), options.burst)
    micro = subprocess.run(
        [PYTHON, "bench/micro.py", str(options.tenants)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures["micro"] = json.loads(micro.stdout)
    report(figures, options)
    shutil.rmtree(workdir)


def report(figures: dict[str, Any], options: argparse.Namespace) -> None:
    ours, bare, micro = figures["ours"], figures["bare"], figures["micro"]
    conc = options.connections
    print(
        "\n/mcp (oneapp-mcp, Django) vs the bare SDK app: same catalog, same fake OneApp, one uvicorn worker on one core\n"
    )
    print(f"{'measurement':<40}{'ours':>11}{'bare SDK':>11}{'ours/bare':>11}")
    for method in PARAMS:
        for c in (conc, 1):
            o, b = ours[(method, c)], bare[(method, c)]
            print(
                f"{method + f' req/s, c={c}':<40}{o['rps']:>11.0f}{b['rps']:>11.0f}{o['rps'] / b['rps']:>10.2f}×"
            )
            for pct in ("p50", "p99"):
                print(
                    f"{method + f' {pct} ms, c={c}':<40}{o[pct]:>11.2f}{b[pct]:>11.2f}{o[pct] / b[pct]:>10.2f}×"
                )
    call_ratio = ours[("tools/call", conc)]["rps"] / bare[("tools/call", conc)]["rps"]
    added = ours[("tools/call", 1)]["p50"] - bare[("tools/call", 1)]["p50"]
    ob, bb = figures["ours_burst"], figures["bare_burst"]
    goals = [
        (f"tools/call throughput, c={conc}", "≥ 0.60× bare", f"{call_ratio:.2f}×", call_ratio >= 0.6),
        ("tools/call median added latency, c=1", "≤ 0.6 ms", f"{added:.2f} ms", added <= 0.6),
        (
            f"{options.burst} calls at once, 1 s upstream",
            "all ok, ≤ 1.5 s",
            f"{ob['wall_s']:.2f} s, {ob['failures']} failed (bare SDK {bb['wall_s']:.2f} s)",
            ob["failures"] == 0 and ob["wall_s"] <= 1.5,
        ),
        (
            "cache hit: tenant resolution",
            "≤ 20 µs, 0 queries",
            f"{micro['hit_us']:.1f} µs, {micro['hit_queries']} queries",
            micro["hit_us"] <= 20 and micro["hit_queries"] == 0,
        ),
        (
            "cold build: load, decrypt, build, start",
            "≤ 5 ms",
            f"{micro['cold_ms']:.2f} ms ({micro['cold_queries']} queries)",
            micro["cold_ms"] <= 5,
        ),
        (
            f"{micro['tenants']} tenants through a {micro['max_entries']}-entry cache",
            "bounded by the cap",
            f"{micro['cached_after']} cached, {micro['bytes_per_tenant'] / 1024:.0f} KiB each, "
            f"{micro['mib_after_all']:.1f} MiB after all vs {micro['mib_at_cap']:.1f} MiB at the cap",
            micro["cached_after"] <= micro["max_entries"]
            and micro["mib_after_all"] <= micro["mib_at_cap"] * 1.1,
        ),
        (
            "1,000 sequential calls, one tenant",
            "≤ pool size (50)",
            f"{figures['sequential_connections']} connection(s)",
            figures["sequential_connections"] <= 50,
        ),
        (
            "admin on the same server",
            "login and CSS 200",
            " ".join(map(str, figures["admin"])),
            figures["admin"] == [200, 200],
        ),
    ]
    print(f"\n{'goal':<42}{'target':<22}{'measured':<60}met")
    for name, target, measured, met in goals:
        print(f"{name:<42}{target:<22}{measured:<60}{'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
