"""Bounded load on the local runtime, loopback only: 200 concurrent clients reading cases,
then 200 concurrent clients flooding login, each for `--duration` seconds (30 s default).

The runtime runs as `make dev` starts it, with its default protection settings. The
clients never back off (a flood, the worst case): what is measured is that the API stays
up (no 5xx), that every refusal is a 429 with `Retry-After`, and the throughput and
latency of what it serves. Case readers come from `--read-addresses` distinct loopback
addresses (127.0.1.x; Linux routes all of 127/8 to lo) as `--users` accounts, so the
per-user budgets are what binds; the login flood comes from `--login-addresses`
addresses (one by default: a single attacker), so the per-address auth budget binds.

The client shares the machine's cores with the server, so the rates are a floor.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from _support import STRONG_PASSWORD, free_port, header, percentile, short_tmp_dir
from loopback_latency import HOST, start_runtime, stop_runtime, wait_healthy


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ok_latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    refused_without_retry_after: int = 0
    transport_errors: int = 0
    wall_s: float = 0.0


def address(block: int, i: int) -> str:
    return f"127.0.{block}.{i % 250 + 1}"


def prepare(port: int, users: int) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Accounts, their access tokens and a case each, every account registered from an
    address of its own so the preparation itself is not throttled."""
    tokens, cases, logins = [], [], []
    for i in range(users):
        source = address(2, i)
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=f"http://{HOST}:{port}", transport=transport) as client:
            creds = {"username": f"load{i}", "password": STRONG_PASSWORD}
            answer = client.post(
                "/api/v1/auth/register", json={**creds, "email": f"load{i}@example.com"}
            )
            if answer.status_code != 201:
                raise RuntimeError(f"register: {answer.status_code} {answer.text}")
            answer = client.post("/api/v1/auth/login", json=creds)
            if answer.status_code != 200:
                raise RuntimeError(f"login: {answer.status_code} {answer.text}")
            token = answer.json()["access_token"]
            answer = client.post(
                "/api/v1/cases",
                json={"title": f"Checkout latency {i}"},
                headers={"Authorization": f"Bearer {token}"},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"case: {answer.status_code} {answer.text}")
            tokens.append(token)
            cases.append(f"/api/v1/cases/{answer.json()['case_id']}")
            logins.append(creds)
    return tokens, cases, logins


async def client_loop(
    client: httpx.AsyncClient, deadline: float, tally: Tally, request: Any
) -> None:
    clock = time.perf_counter
    while clock() < deadline:
        before = clock()
        try:
            answer = await request(client)
        except httpx.HTTPError:
            tally.transport_errors += 1
            continue
        elapsed = clock() - before
        tally.latencies.append(elapsed)
        tally.statuses[answer.status_code] += 1
        if answer.status_code < 300:
            tally.ok_latencies.append(elapsed)
        elif answer.status_code >= 400:
            try:
                tally.codes[answer.json().get("error_code", "?")] += 1
            except ValueError:
                tally.codes["(not json)"] += 1
            if answer.status_code == 429 and "retry-after" not in answer.headers:
                tally.refused_without_retry_after += 1


async def run_scenario(
    port: int, clients: int, sources: list[str], duration: float, request_for: Any
) -> Tally:
    """Every client (its own connection, from its address) is built before the clock
    starts: building one costs milliseconds of CPU that would otherwise be measured."""
    tally = Tally()
    built = [
        httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            transport=httpx.AsyncHTTPTransport(local_address=sources[i % len(sources)]),
            timeout=30,
        )
        for i in range(clients)
    ]
    try:
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(
            *(client_loop(c, deadline, tally, request_for(i)) for i, c in enumerate(built))
        )
        tally.wall_s = time.perf_counter() - started
    finally:
        for client in built:
            await client.aclose()
    return tally


def report(label: str, tally: Tally) -> None:
    ordered, ok = sorted(tally.latencies), sorted(tally.ok_latencies)
    total = len(ordered)
    rate = total / tally.wall_s if tally.wall_s else float("nan")
    p50, p95, p99 = (percentile(ordered, f) * 1000 for f in (0.5, 0.95, 0.99))
    o50, o95, o99 = (percentile(ok, f) * 1000 for f in (0.5, 0.95, 0.99))
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    print(f"\n{label}")
    print(
        f"  requests {total}  in {tally.wall_s:.1f}s  = {rate:.0f} req/s  "
        f"(2xx {len(ok) / tally.wall_s:.0f}/s)"
    )
    print(f"  all answers  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  p99 {p99:7.2f} ms")
    print(f"  2xx answers  p50 {o50:7.2f} ms  p95 {o95:7.2f} ms  p99 {o99:7.2f} ms")
    print(f"  statuses     {dict(sorted(tally.statuses.items()))}")
    print(f"  error codes  {dict(tally.codes.most_common())}")
    print(
        f"  5xx: {server_errors}   429 without Retry-After: {tally.refused_without_retry_after}"
        f"   transport errors: {tally.transport_errors}"
    )


def health(port: int) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        json.loads(response.read())
        return response.status
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per scenario")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--users", type=int, default=20, help="accounts the readers share")
    parser.add_argument("--read-addresses", type=int, default=200)
    parser.add_argument("--login-addresses", type=int, default=1)
    args = parser.parse_args()

    state_dir = short_tmp_dir()
    log = state_dir / "runtime.log"
    port, moto_port = free_port(), free_port()
    while moto_port == port:
        moto_port = free_port()
    process = start_runtime(state_dir, port, moto_port, log)
    try:
        ready_s = wait_healthy(process, port, log)
        print(f"runtime healthy after {ready_s:.1f}s on {HOST}:{port} (default protection)")
        tokens, cases, logins = prepare(port, args.users)
        header(
            f"Load: {args.clients} concurrent clients, {args.duration:.0f}s per scenario, "
            "no back-off"
        )

        def read_case(i: int) -> Any:
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            path = cases[i % len(cases)]
            return lambda client: client.get(path, headers=headers)

        def login(i: int) -> Any:
            body = logins[i % len(logins)]
            return lambda client: client.post("/api/v1/auth/login", json=body)

        readers = [address(1, i) for i in range(args.read_addresses)]
        report(
            f"GET /cases/{{id}}: {args.users} users from {len(readers)} addresses",
            asyncio.run(run_scenario(port, args.clients, readers, args.duration, read_case)),
        )
        flooders = [address(3, i) for i in range(args.login_addresses)]
        report(
            f"POST /auth/login: {len(logins)} accounts from {len(flooders)} address(es)",
            asyncio.run(run_scenario(port, args.clients, flooders, args.duration, login)),
        )
        print(f"\n/health after the load: {health(port)}")
    finally:
        stop_runtime(process, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
