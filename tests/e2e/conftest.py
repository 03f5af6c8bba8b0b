"""The local runtime (`faultmaven dev`) as a subprocess on embedded servers, driven over HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.helpers import free_port

CLI = str(Path(sys.executable).with_name("faultmaven"))


@dataclass
class Runtime:
    state_dir: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        log = (self.state_dir / "runtime.log").open("ab")
        self.process = subprocess.Popen(
            [CLI, "dev"], env=self.env, cwd=ROOT, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"runtime exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"runtime did not become healthy: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def cli(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args],
            env={**self.env, **extra_env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def log_tail(self) -> str:
        path = self.state_dir / "runtime.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def runtime_env(state_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a `faultmaven dev` under test: the caller's minus FaultMaven
    settings and store URLs, plus a state dir and ports of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("FAULTMAVEN_")
    }
    env.update(
        FAULTMAVEN_STATE_DIR=str(state_dir / "state"),
        FAULTMAVEN_PORT=str(port),
        FAULTMAVEN_MOTO_PORT=str(free_port()),
        FAULTMAVEN_PASSWORD_HASH_TIME_COST="1",
        FAULTMAVEN_PASSWORD_HASH_MEMORY_KIB="8192",
        # Protection on, budgets out of reach: these tests are one client registering and
        # logging in faster than any person would (benchmarks/load.py exercises limits).
        FAULTMAVEN_RATE_LIMIT_SCALE="1000",
        POWERTOOLS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    state_dir = Path(tempfile.mkdtemp(prefix="fme", dir="/tmp"))
    port = free_port()
    runtime = Runtime(state_dir=state_dir, env=runtime_env(state_dir, port), port=port)
    runtime.start()
    yield runtime
    runtime.stop()
    shutil.rmtree(state_dir, ignore_errors=True)
