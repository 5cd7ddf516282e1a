"""Benchmark /mcp against the bare SDK app serving the same catalog, in alternating rounds, as ratios and goals.

Both servers run at once under uvicorn, one worker each pinned to CPU 0, against the same fast fake
OneApp (bench/upstream.py); wrk (Debian's package) and the other clients run on CPU 1. Each round
loads every case (protocol era × method × connections) on both servers back to back, which one
goes first alternating, so that the machine's drift hits both alike. Per measurement: wrk's req/s
and latency, and the server's CPU per request (utime + stime from /proc/<pid>/stat around the
load, over the requests wrk completed), which noise moves much less than req/s. Reported: the
median over rounds and its spread (min–max), for each figure and for the per-round ratios.
In each round's 2026 tools/call case, three more loads are compared with ours' CPU per call: the
production command as the README gives it (`python -m oneapp_site.server`, LOG_LEVEL=INFO), and
requests for a tenant that does not exist, with one id and with a new id each time.
After the last round: the micro-benchmarks (bench/micro.py) and where a tools/call's CPU goes by
layer (bench/layers.py), unless --skip-micro.
Run from the repository root:

    .venv/bin/python bench/run.py [--rounds 5] [--duration 5] [--quick] [--skip-burst] [--skip-micro] [--redis]

With --redis, a third server counts the limits in a throwaway redis-server (Debian's package, on
CPU 1) instead of its worker's memory, and takes its turn in every tools/call measurement: its
figures are compared with ours (the local default) in a table of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MODERN, HANDSHAKE = "2026-07-28", "2025-06-18"
ERAS = (MODERN, HANDSHAKE)
METHODS = ("tools/call", "tools/list")
TOOL = "core_list_sucursales"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
UVICORN = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
# The production command as the README gives it (its own defaults, LOG_LEVEL=INFO), one worker.
SERVER_COMMAND = [PYTHON, "-m", "oneapp_site.server", "--host", "127.0.0.1"]
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
# CPU per tools/call or tools/list, bare SDK app / ours: issue 10's goals for each protocol era.
THROUGHPUT_GOALS = {MODERN: 1.25, HANDSHAKE: 1.5}
Measurement = dict[str, float]  # rps, p50, p99 (ms), requests, cpu_us (per request), errors, ...


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


def cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (all its threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15; the list starts at field 3


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[tuple[str, int]]:
    """Run a server until the block ends; yields its base URL and pid (taskset execs, keeping it)."""
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
            yield f"http://127.0.0.1:{port}", proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=15)


class Client:
    """How an MCP client calls one server in either protocol era, as data for wrk and httpx."""

    def __init__(self, url: str, client_id: str | None = None, key: str | None = None) -> None:
        self.url = url + "/mcp"
        self.client_id = client_id
        self.key = key

    def headers(self, method: str, era: str = MODERN) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": era,
        }
        if era == MODERN:  # the 2026 routing headers
            headers["Mcp-Method"] = method
            if method == "tools/call":
                headers["Mcp-Name"] = TOOL
        if self.client_id:
            headers["X-Client-ID"] = self.client_id
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    @staticmethod
    def body(method: str, era: str = MODERN) -> str:
        params: dict[str, Any] = {"name": TOOL, "arguments": {}} if method == "tools/call" else {}
        if era == MODERN:
            params["_meta"] = META
        return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})

    def check(self, http: httpx.Client, method: str = "tools/call", era: str = MODERN) -> None:
        """One real request: 200, a result, not an error, with the catalog's data in it."""
        response = http.post(self.url, content=self.body(method, era), headers=self.headers(method, era))
        result = response.json().get("result") if response.status_code == 200 else None
        ok = (
            not result.get("isError") and "Sucursal Centro" in result["content"][0]["text"]
            if method == "tools/call" and result
            else bool(result and any(tool["name"] == TOOL for tool in result["tools"]))
        )
        if not ok:
            raise RuntimeError(f"{self.url} {era} {method}: {response.status_code} {response.text[:500]}")

    def lua_script(self, workdir: Path, method: str, era: str, new_id_each_time: bool = False) -> Path:
        lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(self.body(method, era))}"]
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in self.headers(method, era).items()]
        if new_id_each_time:  # a flood of ids never seen before: each one is a database lookup
            lines += [
                "local n = 0",
                "request = function()",
                "  n = n + 1",
                f'  wrk.headers["X-Client-ID"] = "{self.client_id}" .. n',
                "  return wrk.format()",
                "end",
            ]
        name = f"{era}_{method.replace('/', '_')}_{self.client_id or 'bare'}{'_each' if new_id_each_time else ''}"
        path = workdir / f"{name}.lua"
        path.write_text("\n".join(lines) + "\n")
        return path


@dataclass(frozen=True)
class Case:
    era: str
    method: str
    connections: int

    @property
    def label(self) -> str:
        return f"{self.era} {self.method}, c={self.connections}"


@dataclass
class Server:
    name: str
    client: Client
    pid: int
    scripts: dict[tuple[str, str], Path]  # (era, method) -> wrk script


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)] if match else 0.0


def wrk(url: str, script: Path, connections: int, duration: int) -> Measurement:
    """One wrk load; errors (timeouts, socket errors, non-2xx, wrk failing) are counted, never raised."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    run = subprocess.run(pinned(1, command), capture_output=True, text=True, check=False)
    out = run.stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    if run.returncode or not done:
        print(f"wrk failed ({run.returncode}):\n{out}{run.stderr}", file=sys.stderr)
        return {"errors": 1, "wrk_failed": 1}
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    connect, read, write, timeout = map(int, socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures: Measurement = {
        "requests": int(done.group(1)),
        "rps": int(done.group(1)) / (to_ms(done.group(2) + done.group(3)) / 1000),
        "timeouts": timeout,
        "socket_errors": connect + read + write,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }
    for pct in ("50", "99"):
        latency = re.search(rf"\s{pct}%\s+(\S+)", out)
        if latency and figures["requests"]:
            figures[f"p{pct}"] = to_ms(latency.group(1))
    figures["errors"] = figures["timeouts"] + figures["socket_errors"] + figures["non_2xx"]
    return figures


def measure(server: Server, case: Case, duration: int) -> Measurement:
    """wrk's figures plus the server's CPU µs per completed request over the same load."""
    time.sleep(0.2)  # the previous load's last requests drain outside the count
    before = cpu_ticks(server.pid)
    figures = wrk(server.client.url, server.scripts[(case.era, case.method)], case.connections, duration)
    if figures.get("requests"):
        figures["cpu_us"] = (cpu_ticks(server.pid) - before) * TICK_US / figures["requests"]
    return figures


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarise(rounds: list[dict[str, Measurement]]) -> dict[str, dict[str, float]]:
    """Median and min–max over rounds of each figure, and of the per-round ratios and differences."""

    def pair(key: str, combine: Callable[[float, float], float]) -> dict[str, float]:
        return spread(
            [combine(r["ours"][key], r["bare"][key]) for r in rounds if key in r["ours"] and key in r["bare"]]
        )

    summary = {
        f"{name}_{key}": spread([r[name][key] for r in rounds if key in r[name]])
        for name in ("ours", "bare")
        for key in ("rps", "cpu_us", "p50", "p99")
    }
    for extra in ("prod", "unknown", "unknown_each"):  # CPU per request, as a share of ours' tools/call
        share = [r[extra]["cpu_us"] / r["ours"]["cpu_us"] for r in rounds if "cpu_us" in r.get(extra, {})]
        if share:
            summary[f"{extra}_cpu_share"] = spread(share)
    summary["rps_ratio"] = pair("rps", lambda o, b: o / b)  # ours / bare: above 1, we serve more
    summary["cpu_ratio"] = pair("cpu_us", lambda o, b: b / o)  # bare / ours: above 1, we cost less
    summary["p50_added"] = pair("p50", lambda o, b: o - b)
    for name in ("ours", "bare"):
        summary[f"{name}_errors"] = {
            key: sum(r[name].get(key, 0) for r in rounds)
            for key in ("timeouts", "socket_errors", "non_2xx", "wrk_failed")
        }
    return summary


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


def bench_env(workdir: Path) -> dict[str, str]:
    """The servers' and manage.py's environment: a fresh SQLite database and encryption key in `workdir`."""
    return {
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


def options_of(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="alternating rounds of every case on both servers (5)")
    parser.add_argument("--duration", type=int, help="seconds of load per case, server and round (5)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections for throughput")
    parser.add_argument(
        "--burst", type=int, default=1000, help="tool calls sent at once against a 1 s upstream"
    )
    parser.add_argument("--tenants", type=int, help="configured tenants for the memory bound (10000)")
    parser.add_argument("--skip-burst", action="store_true", help="leave out the burst goal")
    parser.add_argument(
        "--skip-micro", action="store_true", help="leave out bench/micro.py and bench/layers.py"
    )
    parser.add_argument(
        "--quick", action="store_true", help="check the bench itself: 2 rounds of 2 s, 2000 tenants"
    )
    parser.add_argument(
        "--redis", action="store_true", help="also measure tools/call with the limits counted in Redis"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    options = parser.parse_args(argv)
    preset = {"rounds": 2, "duration": 2, "tenants": 2000} if options.quick else {}
    for name, default in {"rounds": 5, "duration": 5, "tenants": 10_000}.items():
        if getattr(options, name) is None:
            setattr(options, name, preset.get(name, default))
    return options


def main() -> None:
    options = options_of()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if options.redis and not shutil.which("redis-server"):
        sys.exit("redis-server is not installed: apt-get install -y redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="oneapp-bench-"))
    ports = {
        name: free_port()
        for name in ("fast", "slow", "ours", "bare", "bare_slow", "prod", "redis", "redis_db")
    }
    fast, slow = f"http://127.0.0.1:{ports['fast']}", f"http://127.0.0.1:{ports['slow']}"
    env = bench_env(workdir)
    manage(env, "migrate", "-v0")
    keys = {
        "acme": add_tenant(env, "acme", fast),
        "slow": add_tenant(env, "slow", slow),
        "sequential": add_tenant(env, "sequential", fast, max_concurrent_calls=50),
    }
    cases = [Case(era, method, c) for era in ERAS for method in METHODS for c in (options.connections, 1)]
    figures: dict[str, Any] = {"options": {k: str(v) for k, v in vars(options).items()}}

    with contextlib.ExitStack() as stack:

        def start(name: str, app: str, upstream: str, **more_env: str) -> tuple[str, int]:
            command = pinned(0, [*UVICORN, "--port", str(ports[name]), app])
            server_env = {**env, "BENCH_UPSTREAM": upstream, **more_env}
            return stack.enter_context(process(command, server_env, ports[name], workdir / f"{name}.log"))

        def upstream_server(name: str, *delay: str) -> None:
            command = pinned(1, [PYTHON, "bench/upstream.py", str(ports[name]), *delay])
            stack.enter_context(process(command, env, ports[name], workdir / f"{name}.log"))

        http = stack.enter_context(httpx.Client(timeout=30))
        upstream_server("fast")
        (ours_url, ours_pid), (bare_url, bare_pid) = (
            start("ours", "oneapp_site.asgi:application", fast),
            start("bare", "bench.bare_app:app", fast),
        )
        servers = [Server("ours", Client(ours_url, "acme", keys["acme"]), ours_pid, {})]
        servers.append(Server("bare", Client(bare_url), bare_pid, {}))
        if options.redis:
            redis_db = ["redis-server", "--bind", "127.0.0.1", "--port", str(ports["redis_db"])]
            redis_db += ["--save", "", "--dir", str(workdir)]
            stack.enter_context(
                process(pinned(1, redis_db), env, ports["redis_db"], workdir / "redis-db.log")
            )
            redis_env = {"REDIS_URL": f"redis://127.0.0.1:{ports['redis_db']}/0"}
            redis_url, redis_pid = start("redis", "oneapp_site.asgi:application", fast, **redis_env)
            servers.append(Server("redis", Client(redis_url, "acme", keys["acme"]), redis_pid, {}))
        for server in servers:
            for era in ERAS:
                for method in METHODS:
                    server.client.check(http, method, era)
                    script = server.client.lua_script(workdir, method, era)
                    server.scripts[(era, method)] = script
                    wrk(server.client.url, script, options.connections, min(2, options.duration))  # warm-up

        # Measured once a round against ours' tools/call of that round, CPU per request: the
        # production command as the README gives it, and requests for tenants that do not exist.
        call = Case(MODERN, "tools/call", options.connections)
        prod_url, prod_pid = stack.enter_context(
            process(
                pinned(0, [*SERVER_COMMAND, "--port", str(ports["prod"])]),
                {**env, "BENCH_UPSTREAM": fast, "LOG_LEVEL": "INFO"},
                ports["prod"],
                workdir / "prod.log",
            )
        )
        extras = [
            Server("prod", Client(prod_url, "acme", keys["acme"]), prod_pid, {}),
            Server("unknown", Client(ours_url, "nosuchtenant", keys["acme"]), ours_pid, {}),
            Server("unknown_each", Client(ours_url, "nosuchtenant", keys["acme"]), ours_pid, {}),
        ]
        for extra in extras:
            if extra.name == "prod":
                extra.client.check(http)
            each = extra.name == "unknown_each"
            extra.scripts[(MODERN, "tools/call")] = extra.client.lua_script(
                workdir, "tools/call", MODERN, each
            )

        rounds: dict[Case, list[dict[str, Measurement]]] = {case: [] for case in cases}
        for number in range(options.rounds):
            for case in cases:
                pair = {}
                for server in servers if number % 2 == 0 else servers[::-1]:
                    if server.name != "redis" or case.method == "tools/call":
                        pair[server.name] = measure(server, case, options.duration)
                if case == call:
                    for extra in extras:
                        pair[extra.name] = measure(extra, case, options.duration)
                rounds[case].append(pair)
                print(
                    f"round {number + 1}/{options.rounds} {case.label:<32}"
                    + "".join(
                        f"  {name} {m.get('rps', 0):6.0f} req/s {m.get('cpu_us', 0):6.0f} µs CPU/req"
                        + (f" ({m['errors']:.0f} errors)" if m["errors"] else "")
                        for name, m in pair.items()
                    ),
                    file=sys.stderr,
                    flush=True,
                )
        figures["cases"] = [
            {**vars(case), "label": case.label, "summary": summarise(rounds[case]), "rounds": rounds[case]}
            for case in cases
        ]

        sequential = Client(ours_url, "sequential", keys["sequential"])
        before = upstream_connections(fast)
        for _ in range(1000):
            sequential.check(http)
        figures["sequential_connections"] = upstream_connections(fast) - before
        figures["admin"] = [
            http.get(ours_url + path).status_code for path in ("/admin/login/", "/static/admin/css/base.css")
        ]
        if not options.skip_burst:
            upstream_server("slow", "1.0")
            figures["ours_burst"] = burst(Client(ours_url, "slow", keys["slow"]), options.burst)
            figures["bare_burst"] = burst(
                Client(start("bare_slow", "bench.bare_app:app", slow)[0]), options.burst
            )
        if not options.skip_micro:
            micro = subprocess.run(
                [PYTHON, "bench/micro.py", str(options.tenants)],
                cwd=ROOT,
                env={**env, "BENCH_UPSTREAM": fast},
                capture_output=True,
                text=True,
                check=True,
            )
            figures["micro"] = json.loads(micro.stdout)
            layers = subprocess.run(
                pinned(0, [PYTHON, "bench/layers.py", "acme", keys["acme"]]),
                cwd=ROOT,
                env={**env, "BENCH_UPSTREAM": fast},
                capture_output=True,
                text=True,
                check=True,
            )
            figures["layers"] = json.loads(layers.stdout.splitlines()[-1])
    report(figures, options)
    if options.redis:
        figures["redis"] = redis_report(figures["cases"])
    if options.json:
        figures["goals"] = [
            dict(zip(("goal", "target", "measured", "met"), row, strict=True))
            for row in goals(figures, options)
        ]
        options.json.write_text(json.dumps(figures, indent=1) + "\n")
    shutil.rmtree(workdir)


def cell(s: dict[str, float], fmt: str, unit: str = "", errors: bool = False) -> str:
    """median (min–max), marked with * when a round of it had errors."""
    if not s:
        return "n/a"
    text = f"{s['median']:{fmt}}{unit} ({s['min']:{fmt}}–{s['max']:{fmt}})"
    return text + ("*" if errors else "")


# title, figure, its format, and the per-round comparison shown next to it (or, for None, the errors)
TABLES = [
    ("req/s", "rps", ".0f", ("rps_ratio", "ours/bare", ".2f", "×")),
    ("server CPU µs per request", "cpu_us", ".0f", ("cpu_ratio", "bare/ours", ".2f", "×")),
    ("median latency ms", "p50", ".2f", ("p50_added", "added (ours − bare)", "+.2f", "")),
    ("p99 latency ms", "p99", ".1f", None),
]


def report(figures: dict[str, Any], options: argparse.Namespace) -> None:
    print(
        "\n/mcp (oneapp-mcp, Django) vs the bare SDK app: same catalog, same fake OneApp, one uvicorn worker"
        f" each on CPU 0.\nMedian (min–max) over {options.rounds} alternating rounds of {options.duration} s"
        " per case and server; ratios are per round.\nCPU = the server process's user+system CPU per"
        " request. Above 1.00×, ours is faster than the bare SDK."
    )
    cases = figures["cases"]
    errors = [
        {name: any(c["summary"][f"{name}_errors"].values()) for name in ("ours", "bare")} for c in cases
    ]
    for title, key, fmt, compared in TABLES:
        print(f"\n{title:<30}{'ours':<24}{'bare SDK':<24}{compared[1] if compared else 'errors ours | bare'}")
        for case, error in zip(cases, errors, strict=True):
            s = case["summary"]
            cells = [cell(s[f"{name}_{key}"], fmt, errors=error[name]) for name in ("ours", "bare")]
            if compared:
                cells.append(cell(s[compared[0]], compared[2], compared[3], any(error.values())))
            else:
                cells.append(
                    " | ".join(
                        ", ".join(f"{v:.0f} {k}" for k, v in s[f"{name}_errors"].items() if v) or "0"
                        for name in ("ours", "bare")
                    )
                )
            print(f"{case['label']:<30}" + "".join(f"{c:<24}" for c in cells).rstrip())
    if any(any(e.values()) for e in errors):
        print("* a round of this figure had errors (wrk timeouts, socket errors or non-2xx answers)")
    if "layers" in figures:
        layers_report(figures["layers"])
    print(f"\n{'goal':<52}{'target':<30}{'measured':<64}met")
    for name, target, measured, met in goals(figures, options):
        print(f"{name:<52}{target:<30}{measured:<64}{'yes' if met else 'NO'}")


def layers_report(us: dict[str, float]) -> None:
    """bench/layers.py's figures: what each side adds to what both share, in each protocol era."""
    shared, bare, ours = us["exchange"], us["bare"], us["ours"]
    print("\nA 2026-07-28 tools/call in one process, no HTTP server (bench/layers.py): CPU µs, sequential")
    _print_rows(
        [
            ("ours, whole (front door to answer)", f"{ours:.0f}"),
            ("bare SDK app, whole", f"{bare:.0f}"),
            ("shared: sdk.exchange (2026 checks, SDK dispatch, tool, OneApp call)", f"{shared:.0f}"),
            ("  the 2026 entry's checks (a replayed tools/list)", f"{us['replayed_list']:.0f}"),
            (
                "  the SDK's dispatch (an unserved method, less the checks)",
                f"{us['unserved'] - us['replayed_list']:.0f}",
            ),
            ("  the tool and its OneApp call", f"{shared - us['unserved']:.0f}"),
            ("    of which the OneApp client's call", f"{us['upstream_call']:.0f}"),
            (
                "ours only: front door, routing, credential, limits, metrics, audit log",
                f"{ours - shared:.0f}",
            ),
            ("bare only: Starlette and the SDK's HTTP transport", f"{bare - shared:.0f}"),
            ("best bare/ours if our own layers cost nothing (bare ÷ shared)", f"{bare / shared:.2f}×"),
        ]
    )
    shared, bare, ours = us["exchange_2025"], us["bare_2025"], us["ours_2025"]
    print("\nA 2025-06-18 tools/call, the same way")
    _print_rows(
        [
            ("ours, whole / bare SDK app, whole", f"{ours:.0f} / {bare:.0f}"),
            ("shared: sdk.exchange", f"{shared:.0f}"),
            (
                "ours only / bare only (Starlette, a session manager per request)",
                f"{ours - shared:.0f} / {bare - shared:.0f}",
            ),
            ("best bare/ours if our own layers cost nothing (bare ÷ shared)", f"{bare / shared:.2f}×"),
        ]
    )
    print("(uvicorn's share of a request, the same for both, brings a ratio closer to 1.00×)")


def _print_rows(rows: list[tuple[str, str]]) -> None:
    for label, figure in rows:
        print(f"{label:<72}{figure:>12}")


def redis_report(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """tools/call with the limits counted in Redis against ours (in the worker's memory), per round."""
    print("\ntools/call, limits in Redis vs in the worker's memory (ours): median (min–max) over rounds")
    print(f"{'case':<30}{'req/s redis/ours':<24}{'CPU µs/req redis':<24}{'CPU µs/req ours':<24}p50 added ms")
    rows = []
    for case in cases:
        rounds = [r for r in case["rounds"] if "redis" in r and "rps" in r["redis"] and "rps" in r["ours"]]
        if not rounds:
            continue
        row = {
            "label": case["label"],
            "rps_ratio": spread([r["redis"]["rps"] / r["ours"]["rps"] for r in rounds]),
            "redis_cpu_us": spread([r["redis"].get("cpu_us", 0.0) for r in rounds]),
            "ours_cpu_us": spread([r["ours"].get("cpu_us", 0.0) for r in rounds]),
            "p50_added": spread([r["redis"].get("p50", 0.0) - r["ours"].get("p50", 0.0) for r in rounds]),
            "redis_errors": sum(r["redis"].get("errors", 0) for r in rounds),
        }
        rows.append(row)
        cells = [
            cell(row["rps_ratio"], ".2f", "×"),
            cell(row["redis_cpu_us"], ".0f", errors=bool(row["redis_errors"])),
            cell(row["ours_cpu_us"], ".0f"),
            cell(row["p50_added"], "+.2f"),
        ]
        print(f"{row['label']:<30}" + "".join(f"{c:<24}" for c in cells).rstrip())
    return rows


def goals(figures: dict[str, Any], options: argparse.Namespace) -> list[tuple[str, str, str, bool]]:
    summary = {(c["era"], c["method"], c["connections"]): c["summary"] for c in figures["cases"]}
    rows = []
    for era in ERAS:
        for method in METHODS:
            cpu, rps = (summary[(era, method, options.connections)][k] for k in ("cpu_ratio", "rps_ratio"))
            target = THROUGHPUT_GOALS[era]
            rows.append(
                (  # one worker on one saturated core: its throughput is 1 / CPU per request, without wrk's noise
                    f"{method} throughput, c={options.connections}, {era}",
                    f"≥ {target:.2f}× bare (CPU)",
                    f"CPU {cell(cpu, '.2f', '×')}, req/s {cell(rps, '.2f', '×')}",
                    bool(cpu) and cpu["median"] >= target,
                )
            )
        added = summary[(era, "tools/call", 1)]["p50_added"]
        rows.append(
            (
                f"tools/call median added latency, c=1, {era}",
                "≤ 0.6 ms",
                cell(added, "+.2f", " ms"),
                bool(added) and added["median"] <= 0.6,
            )
        )
    call = summary[(MODERN, "tools/call", options.connections)]
    for key, goal, target in (
        ("prod_cpu_share", "production command (LOG_LEVEL=INFO) vs quiet", 1.03),
        ("unknown_cpu_share", "request for an unknown tenant (same id)", 0.2),
        ("unknown_each_cpu_share", "request for an unknown tenant (new id each)", 0.2),
    ):
        share = call.get(key, {})
        rows.append(
            (
                goal,
                f"≤ {target:.2f}× a tools/call (CPU)",
                cell(share, ".2f", "×"),
                bool(share) and share["median"] <= target,
            )
        )
    if "ours_burst" in figures:
        ob, bb = figures["ours_burst"], figures["bare_burst"]
        rows.append(
            (
                f"{options.burst} calls at once, 1 s upstream",
                "all ok, ≤ 1.5 s",
                f"{ob['wall_s']:.2f} s, {ob['failures']} failed (bare SDK {bb['wall_s']:.2f} s)",
                ob["failures"] == 0 and ob["wall_s"] <= 1.5,
            )
        )
    if "micro" in figures:
        micro = figures["micro"]
        rows += [
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
                "memory per cached tenant with an idle OneApp connection",
                "≤ 25 KiB RSS",
                f"{micro['rss_bytes_per_connected_tenant'] / 1024:.1f} KiB "
                f"(over {micro['connected_tenants']} tenants)",
                micro["rss_bytes_per_connected_tenant"] <= 25 * 1024,
            ),
            (
                f"{micro['tenants']} tenants through a {micro['max_entries']}-entry cache",
                "bounded by the cap",
                f"{micro['cached_after']} cached, {micro['bytes_per_tenant'] / 1024:.0f} KiB each; "
                f"{micro['mib_after_all']:.1f} MiB after all, {micro['mib_at_cap']:.1f} at the cap",
                micro["cached_after"] <= micro["max_entries"]
                and micro["mib_after_all"] <= micro["mib_at_cap"] * 1.1,
            ),
        ]
    rows += [
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
    return rows


if __name__ == "__main__":
    main()
