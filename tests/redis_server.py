"""A Redis server of a test's own, which the test may kill and start again on the same port (an outage)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.live_server import free_port

# scripts/test starts a Redis server for the suite and names it here; where it is unset, Redis is
# not known to be there, and the tests that need it (or its redis-server) are skipped.
TEST_REDIS_URL = os.environ.get("ONEAPP_TEST_REDIS_URL", "")
NO_TEST_REDIS = "needs ONEAPP_TEST_REDIS_URL, a Redis server for tests (scripts/test starts one)"
needs_redis = pytest.mark.skipif(not TEST_REDIS_URL, reason=NO_TEST_REDIS)


class RedisServer:
    """`redis-server` (Debian's, as scripts/test installs it) on 127.0.0.1, without persistence."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/test installs it)")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.socket = folder / "redis.sock"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.unix_url = f"unix://{self.socket}?db=0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "no", "--unixsocket", str(self.socket), "--dir", str(self.folder)]
        with (self.folder / "redis.log").open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError((self.folder / "redis.log").read_text())
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
