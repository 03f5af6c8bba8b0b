"""Warm request latency of the local runtime (`faultmaven dev`) over loopback HTTP.

This is the number a developer feels on every click, and the closest local stand-in for
warm Lambda latency: the same app, middleware and stores, minus API Gateway. The runtime
runs exactly as `make dev` starts it (embedded PostgreSQL, Redis and moto) in a throwaway
state directory; the client reuses keep-alive connections so the figures are the server's
work rather than TCP handshakes.

Figures are printed, never asserted. Targets: sessions p50 <= 2 ms, cases p95 <= 10 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _support import STRONG_PASSWORD, clean_env, free_port, header, percentile, short_tmp_dir

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
WARMUP_REQUESTS = 200
MEASURED_REQUESTS = 3000
RUN_BUDGET_S = 60.0
CONCURRENT_THREADS = 4
CONCURRENT_REQUESTS_PER_THREAD = 1000
CONCURRENT_BUDGET_S = 30.0
TARGETS = {"sessions": ("p50", 2.0), "cases": ("p95", 10.0)}


@dataclass
class Run:
    """Latencies (seconds) of one measured loop and how long the loop took."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wall_s: float = 0.0


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """One request on a kept-alive connection; the body is read fully so the connection
    can be reused."""
    headers = {"Accept": "application/json"}
    payload = None
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        payload = json.dumps(body)
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return response.status, (json.loads(raw) if raw else None)


def start_runtime(
    state_dir: Path,
    port: int,
    moto_port: int,
    log: Path,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    executable = Path(sys.executable).with_name("faultmaven")
    env = clean_env(
        {
            "FAULTMAVEN_STATE_DIR": str(state_dir),
            "FAULTMAVEN_PORT": str(port),
            "FAULTMAVEN_MOTO_PORT": str(moto_port),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "FAULTMAVEN_LOG_LEVEL": "WARNING",
            # The request path is measured, not the background embedding of the
            # starter KB, which would share the two cores with it.
            "FAULTMAVEN_SEED_GLOBAL_KB": "false",
            **(extra_env or {}),
        }
    )
    with log.open("wb") as sink:
        # Own session: a Ctrl-C on the benchmark reaches the runtime only through stop().
        return subprocess.Popen(
            [str(executable), "dev"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            start_new_session=True,
        )


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < STARTUP_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"runtime exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            status, _ = request(conn, "GET", "/health")
            conn.close()
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"runtime not healthy after {STARTUP_TIMEOUT_S:.0f}s:\n{log.read_text()[-3000:]}"
    )


def stop_runtime(process: subprocess.Popen[bytes], state_dir: Path) -> None:
    """SIGINT (uvicorn's graceful path, which also stops the embedded servers), then
    SIGTERM, then SIGKILL; finally stop a PostgreSQL the runtime may have orphaned."""
    for sig, grace in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            print(f"(runtime ignored {sig.name} for {grace:.0f}s)")
    pid_file = state_dir / "pg" / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)  # only this run's postmaster, by its own pid file
            print(f"(runtime left PostgreSQL pid {pid} running; stopped it)")
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass


def prepare(port: int) -> dict[str, str]:
    """A user, a session and a case to read back."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        status, body = request(
            conn,
            "POST",
            "/api/v1/auth/register",
            body={"email": "bench@example.com", "username": "bench", "password": STRONG_PASSWORD},
        )
        if status != 201:
            raise RuntimeError(f"register: {status} {body}")
        status, body = request(
            conn,
            "POST",
            "/api/v1/auth/login",
            body={"username": "bench", "password": STRONG_PASSWORD},
        )
        if status != 200:
            raise RuntimeError(f"login: {status} {body}")
        token = body["access_token"]
        status, session = request(conn, "POST", "/api/v1/sessions", token=token, body={})
        if status != 201:
            raise RuntimeError(f"session: {status} {session}")
        status, case = request(
            conn, "POST", "/api/v1/cases", token=token, body={"title": "Checkout latency"}
        )
        if status != 201:
            raise RuntimeError(f"case: {status} {case}")
        return {
            "token": token,
            "sessions": f"/api/v1/sessions/{session['session_id']}",
            "cases": f"/api/v1/cases/{case['case_id']}",
        }
    finally:
        conn.close()


def loop(port: int, path: str, token: str, count: int, budget_s: float, run: Run) -> None:
    """`count` sequential GETs on one keep-alive connection, stopping early at the budget."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    clock = time.perf_counter
    started = clock()
    deadline = started + budget_s
    latencies: list[float] = []
    errors = 0
    try:
        for _ in range(count):
            before = clock()
            status, _ = request(conn, "GET", path, token=token)
            latencies.append(clock() - before)
            errors += status != 200
            if before > deadline:
                break
    finally:
        conn.close()
    run.latencies.extend(latencies)
    run.errors += errors
    run.wall_s = max(run.wall_s, clock() - started)


def sequential(port: int, path: str, token: str) -> Run:
    loop(port, path, token, WARMUP_REQUESTS, RUN_BUDGET_S, Run())
    run = Run()
    loop(port, path, token, MEASURED_REQUESTS, RUN_BUDGET_S, run)
    return run


def concurrent(port: int, path: str, token: str) -> Run:
    """Several clients at once, each on its own connection: throughput, and latency under
    queueing (the runtime serves sync endpoints from a thread pool)."""
    run = Run()
    partial = [Run() for _ in range(CONCURRENT_THREADS)]
    threads = [
        threading.Thread(
            target=loop,
            args=(port, path, token, CONCURRENT_REQUESTS_PER_THREAD, CONCURRENT_BUDGET_S, part),
        )
        for part in partial
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall_s = time.perf_counter() - started
    for part in partial:
        run.latencies.extend(part.latencies)
        run.errors += part.errors
    return run


def report(label: str, name: str, run: Run, *, judged: bool = True) -> None:
    """One table row; the targets are for a single client, so only those rows are judged."""
    ordered = sorted(run.latencies)
    p50, p95, p99 = (percentile(ordered, f) * 1000 for f in (0.50, 0.95, 0.99))
    figures = {"p50": p50, "p95": p95}
    metric, limit = TARGETS[name]
    verdict = "ok" if figures[metric] <= limit else "OVER"
    target = f"{metric}<={limit:g}ms {verdict}" if judged else ""
    rate = len(ordered) / run.wall_s if run.wall_s else float("nan")
    print(
        f"{label:34} {len(ordered):6d} {rate:9.0f} {p50:8.2f} {p95:8.2f} {p99:8.2f} "
        f"{ordered[-1] * 1000:8.2f} {run.errors:6d}   {target}"
    )


def main() -> None:
    state_dir = short_tmp_dir()
    log = state_dir / "runtime.log"
    port, moto_port = free_port(), free_port()
    while moto_port == port:
        moto_port = free_port()
    # Protection runs on every request, as in production, but the budgets are scaled
    # out of reach: one user sending thousands of requests is what this measures, not
    # what the limits do with it (benchmarks/load.py does that).
    process = start_runtime(
        state_dir, port, moto_port, log, extra_env={"FAULTMAVEN_RATE_LIMIT_SCALE": "1000"}
    )
    try:
        ready_s = wait_healthy(process, port, log)
        print(f"runtime healthy after {ready_s:.1f}s on {HOST}:{port}")
        targets = prepare(port)
        header(
            f"Loopback latency, keep-alive (warm-up {WARMUP_REQUESTS}, then up to "
            f"{MEASURED_REQUESTS} requests or {RUN_BUDGET_S:.0f}s)"
        )
        print(
            f"{'run':34} {'n':>6} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
            f"{'max ms':>8} {'errors':>6}   target"
        )
        for name in ("sessions", "cases"):
            report(
                f"GET /{name}/{{id}}  1 client",
                name,
                sequential(port, targets[name], targets["token"]),
            )
        for name in ("sessions", "cases"):
            report(
                f"GET /{name}/{{id}}  {CONCURRENT_THREADS} clients",
                name,
                concurrent(port, targets[name], targets["token"]),
                judged=False,
            )
        print(
            f"({CONCURRENT_THREADS} clients: up to {CONCURRENT_REQUESTS_PER_THREAD} each; the "
            "client shares the machine's cores with the server, so this is a floor.)"
        )
    finally:
        stop_runtime(process, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
