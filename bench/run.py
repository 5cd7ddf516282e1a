"""Benchmark /mcp against the bare SDK app serving the same catalog, in one run, as ratios.

Both servers run under uvicorn (one worker, pinned to CPU 0) against the same fast fake OneApp;
wrk (Debian's package) drives them from CPU 1. Run from the repository root:

    .venv/bin/python bench/run.py [--duration 10] [--connections 32]
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

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
REQUESTS = {
    "tools/call": {"name": "core_list_sucursales", "arguments": {}, "_meta": META},
    "tools/list": {"_meta": META},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def pinned(cpu: int, command: list[str]) -> list[str]:
    return (
        ["taskset", "-c", str(cpu), *command] if shutil.which("taskset") and os.cpu_count() > 1 else command
    )


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def request_headers(method: str, client_id: str | None) -> dict[str, str]:
    """What the SDK's own client sends with a 2026-07-28 request."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
    }
    if method == "tools/call":
        headers["Mcp-Name"] = REQUESTS[method]["name"]
    if client_id:
        headers["X-Client-ID"] = client_id
    return headers


def request_body(method: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": REQUESTS[method]}


def lua_script(workdir: Path, method: str, client_id: str | None) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(request_body(method)))}"]
    lines += [
        f'wrk.headers["{name}"] = "{value}"' for name, value in request_headers(method, client_id).items()
    ]
    path = workdir / f"{method.replace('/', '_')}_{client_id or 'bare'}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    output = subprocess.run(
        pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"errors under load:\n{output}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", output).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", output).group(1)),
    }


def check_answers(url: str, client_id: str | None) -> None:
    """One real tools/call before the load, so that the numbers are for correct answers."""
    import httpx

    response = httpx.post(
        url, json=request_body("tools/call"), headers=request_headers("tools/call", client_id)
    )
    result = response.json()["result"]
    if result.get("isError") or "Sucursal Centro" not in result["content"][0]["text"]:
        raise RuntimeError(f"{url} did not answer the tool call correctly: {result}")


def prepare_database(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    create = (
        "from tenants.models import ClientConfig as C; import os; u = os.environ['BENCH_UPSTREAM'];"
        "C.objects.update_or_create(client_id='acme', defaults=dict(name='Bench', core_base_url=u,"
        " client_base_url=u, authorization='Bearer bench-token', client_header='acme'))"
    )
    subprocess.run([PYTHON, "manage.py", "shell", "-c", create], cwd=ROOT, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per measurement")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections for throughput")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="oneapp-bench-"))
    ports = {name: free_port() for name in ("upstream", "ours", "bare")}
    upstream_url = f"http://127.0.0.1:{ports['upstream']}"
    env = {
        **os.environ,
        "ENV_FILE": "",
        "SECRET_KEY": "bench",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "BENCH_UPSTREAM": upstream_url,
        "PYTHONPATH": str(ROOT),
    }
    prepare_database(env)
    uvicorn = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    servers = {
        "ours": (f"http://127.0.0.1:{ports['ours']}/mcp", "acme", "oneapp_site.asgi:application"),
        "bare": (f"http://127.0.0.1:{ports['bare']}/mcp", None, "bench.bare_app:app"),
    }
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    with process(
        pinned(1, [PYTHON, "bench/upstream.py", str(ports["upstream"])]),
        env,
        ports["upstream"],
        workdir / "upstream.log",
    ):
        for name, (url, client_id, app) in servers.items():
            command = pinned(0, [*uvicorn, "--port", str(ports[name]), app])
            with process(command, env, ports[name], workdir / f"{name}.log"):
                check_answers(url, client_id)
                for method in REQUESTS:
                    script = lua_script(workdir, method, client_id)
                    wrk(url, script, options.connections, 2)  # warm-up
                    for connections in (options.connections, 1):
                        results[(name, method, connections)] = wrk(url, script, connections, options.duration)
    micro = json.loads(
        subprocess.run(
            [PYTHON, "bench/micro.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    report(results, micro, options.connections)
    shutil.rmtree(workdir)


def report(
    results: dict[tuple[str, str, int], dict[str, float]], micro: dict[str, float], connections: int
) -> None:
    print(
        "\n/mcp (Django, oneapp-mcp) vs bare SDK app, same catalog and upstream, one uvicorn worker on one core\n"
    )
    print(f"{'measurement':<44}{'ours':>12}{'bare SDK':>12}{'ours/bare':>11}")
    for method in REQUESTS:
        for conc in (connections, 1):
            ours, bare = results[("ours", method, conc)], results[("bare", method, conc)]
            print(
                f"{method + f' req/s, c={conc}':<44}{ours['rps']:>12.0f}{bare['rps']:>12.0f}{ours['rps'] / bare['rps']:>10.2f}×"
            )
            for pct in ("p50", "p99"):
                label = f"{method} {pct} ms, c={conc}"
                print(f"{label:<44}{ours[pct]:>12.2f}{bare[pct]:>12.2f}{ours[pct] / bare[pct]:>10.2f}×")
        added = results[("ours", method, 1)]["p50"] - results[("bare", method, 1)]["p50"]
        print(f"{method + ' median added latency, c=1':<44}{added:>11.2f} ms")
    print(
        f"\n{'cache hit: tenant resolution':<44}{micro['hit_us']:>10.1f} µs  ({micro['hit_queries']} queries)"
    )
    print(
        f"{'cold build: load, decrypt, build, start':<44}{micro['cold_ms']:>10.2f} ms  ({micro['cold_queries']} queries)"
    )


if __name__ == "__main__":
    main()
