"""Cold first response of each API Lambda handler, against a hello-world FastAPI+Mangum one.

A Lambda cold start pays for the imports and the module-scope work of the handler (app
factory, pools, settings) and then for the first invocation (first connection to
PostgreSQL and Redis, first route compilation). Each repetition therefore runs in a fresh
interpreter that times itself from the top of a tiny driver script, imports the handler by
file path like the Lambda runtime does, and answers one API Gateway HTTP API (v2) event.

The agent function (`functions/api_agent/handler.py`) gets its own section: init and
first `GET /api/v1/agent/health` on demand and as a SnapStart version (whose init also
imports the model SDK and builds its client), a first chat turn with the offline analyst,
and each process's peak RSS, the figure its Lambda memory is sized from
(`--only agent` runs just hello-world and these).

Figures are printed, never asserted: machines differ, and a benchmark that fails a build
on a noisy laptop teaches people to ignore it. Target: first response <= 2x hello-world.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _support import (
    BENCH_JWT_SECRET,
    ROOT,
    STRONG_PASSWORD,
    Stores,
    clean_env,
    embedded_stores,
    header,
    median,
)

REPETITIONS = 5
SUBPROCESS_TIMEOUT_S = 120.0
TARGET_RATIO = 2.0
CHEAP_HASH = {
    "FAULTMAVEN_PASSWORD_HASH_TIME_COST": "1",
    "FAULTMAVEN_PASSWORD_HASH_MEMORY_KIB": "1024",
}
WATCHED_MODULES = ("boto3", "anthropic", "zxcvbn")

# The Lambda memory of the agent function (infra/cdk/faultmaven_infra/stacks/api.py),
# printed beside the peak RSS measured here.
AGENT_MEMORY_MB = 1769
# Where Lambda gives a function one whole vCPU (CPU share grows with memory).
FULL_VCPU_MB = 1769

# Runs in the fresh interpreter. The clock starts on its first line, so interpreter
# start-up and `site` are excluded here and reported separately ("spawn" column).
DRIVER = """\
import time
T0 = time.perf_counter()
import importlib.util
import json
import resource
import sys


# This image's high-water RSS: VmHWM belongs to the memory map exec created, while
# ru_maxrss keeps the forking parent's peak across exec on Linux.
def peak_rss_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

WATCHED = {watched!r}


class LambdaContext:
    function_name = "faultmaven-bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:faultmaven-bench"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/faultmaven-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self):
        return 30000


def loaded():
    return sorted(name for name in WATCHED if name in sys.modules)


handler_path, event_path, mode = sys.argv[1:4]
with open(event_path) as f:
    event = json.load(f)
T_EVENT = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler_under_test", handler_path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
T1 = time.perf_counter()
after_import = loaded()
rss_after_import = peak_rss_kib()
if mode == "import-only":
    sys.exit(0)
first = module.handler(event, LambdaContext())
T2 = time.perf_counter()
first_at = time.monotonic()
second = module.handler(event, LambdaContext())
T3 = time.perf_counter()
print(json.dumps({{
    "status": first["statusCode"],
    "warm_status": second["statusCode"],
    "body": str(first.get("body", ""))[:300],
    "import_s": T1 - T_EVENT,
    "invoke_s": T2 - T1,
    "first_response_s": T2 - T0,
    "warm_s": T3 - T2,
    "first_at_monotonic": first_at,
    "after_import": after_import,
    "after_invoke": loaded(),
    "rss_import_kib": rss_after_import,
    "rss_peak_kib": peak_rss_kib(),
}}), flush=True)
"""

HELLO_HANDLER = '''\
"""The baseline: the least a FastAPI app behind Mangum can cost."""
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


handler = Mangum(app, lifespan="off")
'''

IMPORT_PROBES: dict[str, str] = {
    "fastapi+mangum": "import fastapi, mangum",
    "sqlalchemy.orm": "import sqlalchemy.orm",
    "psycopg": "import psycopg",
    "redis": "import redis",
    "pydantic_settings": "import pydantic_settings",
    "aws_lambda_powertools.logging": "import aws_lambda_powertools.logging",
    "boto3": "import boto3",
    "argon2": "import argon2",
    "jwt": "import jwt",
    "zxcvbn": "import zxcvbn",
    "faultmaven.app (all of it)": "import faultmaven.app",
    # Only where tracing is on (in Lambda): its recorder builds a botocore client.
    "aws_xray_sdk.core (Tracer on)": "import aws_xray_sdk.core",
}
SNAP_START_ENV = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
AGENT_PREFIX = "api_agent"
# The agent as deployed by default: the Anthropic API, its SDK imported and its client
# built at a SnapStart init. The key is a dummy and the base URL a port nothing listens
# on: no variant below sends a request to a model.
AGENT_ANTHROPIC_ENV = {
    "FAULTMAVEN_LLM_PROVIDER": "anthropic",
    "FAULTMAVEN_ANTHROPIC_API_KEY": "sk-ant-bench-never-sent",
    "FAULTMAVEN_ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
}
# A whole turn without a model: the offline analyst over the same context build. The
# repeated turns of one user would hit the agent route's rate limit otherwise.
AGENT_OFFLINE_ENV = {"FAULTMAVEN_LLM_PROVIDER": "offline", "FAULTMAVEN_RATE_LIMIT_SCALE": "1000"}


@dataclass
class Variant:
    """One handler + event + environment whose cold start is measured."""

    name: str
    handler: Path
    event: dict[str, Any]
    env: dict[str, str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    spawn_s: list[float] = field(default_factory=list)
    # Initialised as a SnapStart version is (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start):
    # "import" then includes the priming, and the first invocation is what a request
    # after a restore pays (priming drops its connections, as a restore does).
    primed: bool = False


def http_api_event(
    method: str, path: str, *, token: str | None = None, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event, as API Gateway sends it to Lambda."""
    headers = {
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "faultmaven-bench/1.0",
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if body is not None:
        headers["content-type"] = "application/json"
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "faultmaven-bench/1.0",
            },
            "requestId": "bench-request-0001",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def _register(client: Any, username: str) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": f"{username}@example.com",
            "username": username,
            "password": STRONG_PASSWORD,
        },
    )
    if response.status_code != 201:
        raise RuntimeError(f"register {username}: {response.status_code} {response.text}")


def prepare_data(stores: Stores) -> dict[str, str]:
    """Users, a session and a case, created through the real app in this process, so the
    subprocesses hit rows and keys that exist (a 404 would skip the interesting work)."""
    from fastapi.testclient import TestClient

    from faultmaven.app import create_app
    from faultmaven.container import build_container
    from faultmaven.core.settings import load_settings

    common: dict[str, Any] = {
        "environment": "test",
        "database_url": stores.database_url,
        "redis_url": stores.redis_url,
        "jwt_secret": BENCH_JWT_SECRET,
        "log_level": "WARNING",
    }
    ids: dict[str, str] = {}
    cheap = build_container(
        load_settings(**common, password_hash_time_cost=1, password_hash_memory_kib=1024)
    )
    try:
        with TestClient(create_app(container=cheap)) as client:
            _register(client, "benchcheap")
            login = client.post(
                "/api/v1/auth/login", json={"username": "benchcheap", "password": STRONG_PASSWORD}
            )
            login.raise_for_status()
            ids["token"] = login.json()["access_token"]
            auth = {"Authorization": f"Bearer {ids['token']}"}
            session = client.post("/api/v1/sessions", headers=auth, json={})
            session.raise_for_status()
            ids["session_id"] = session.json()["session_id"]
            case = client.post("/api/v1/cases", headers=auth, json={"title": "Checkout latency"})
            case.raise_for_status()
            ids["case_id"] = case.json()["case_id"]
    finally:
        cheap.close()
    # Registered at the production Argon2 cost, so logging in at that cost does not rehash.
    default_cost = build_container(load_settings(**common))
    try:
        with TestClient(create_app(container=default_cost)) as client:
            _register(client, "benchdefault")
    finally:
        default_cost.close()
    return ids


def agent_variants(base_env: dict[str, str], ids: dict[str, str], functions: Path) -> list[Variant]:
    handler = functions / "api_agent" / "handler.py"
    health = http_api_event("GET", "/api/v1/agent/health", token=ids["token"])
    anthropic_env = clean_env({**base_env, **AGENT_ANTHROPIC_ENV})
    turn = http_api_event(
        "POST",
        f"/api/v1/cases/{ids['case_id']}/query",
        token=ids["token"],
        body={
            "session_id": ids["session_id"],
            "query": "Why is checkout slow since the last deploy?",
        },
    )
    return [
        Variant(f"{AGENT_PREFIX}   GET health", handler, health, anthropic_env),
        Variant(
            f"{AGENT_PREFIX}   GET health, primed",
            handler,
            health,
            {**anthropic_env, **SNAP_START_ENV},
            primed=True,
        ),
        Variant(
            f"{AGENT_PREFIX}   POST query, offline",
            handler,
            turn,
            clean_env({**base_env, **AGENT_OFFLINE_ENV}),
        ),
        # Priming sends GETs only, so this is what the first turn after a restore pays.
        Variant(
            f"{AGENT_PREFIX}   POST query, offline, primed",
            handler,
            turn,
            clean_env({**base_env, **AGENT_OFFLINE_ENV, **SNAP_START_ENV}),
            primed=True,
        ),
    ]


def build_variants(
    stores: Stores, ids: dict[str, str], work: Path, *, only_agent: bool = False
) -> list[Variant]:
    base = {
        "FAULTMAVEN_ENVIRONMENT": "test",
        "DATABASE_URL": stores.database_url,
        "REDIS_URL": stores.redis_url,
        "FAULTMAVEN_JWT_SECRET": BENCH_JWT_SECRET,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "FAULTMAVEN_LOG_LEVEL": "WARNING",
        "POWERTOOLS_SERVICE_NAME": "faultmaven",
    }
    cheap_env = clean_env({**base, **CHEAP_HASH})
    default_env = clean_env(base)
    hello = work / "hello_handler.py"
    hello.write_text(HELLO_HANDLER)
    token = ids["token"]
    functions = ROOT / "functions"
    login = {"username": "benchcheap", "password": STRONG_PASSWORD}
    hello_world = Variant("hello-world", hello, http_api_event("GET", "/hello"), cheap_env)
    agent = agent_variants({**base, **CHEAP_HASH}, ids, functions)
    if only_agent:
        return [hello_world, *agent]
    measured = [
        hello_world,
        Variant(
            "api_auth    POST login",
            functions / "api_auth" / "handler.py",
            http_api_event("POST", "/api/v1/auth/login", body=login),
            cheap_env,
        ),
        Variant(
            "api_sessions GET {id}",
            functions / "api_sessions" / "handler.py",
            http_api_event("GET", f"/api/v1/sessions/{ids['session_id']}", token=token),
            cheap_env,
        ),
        Variant(
            "api_cases   GET {id}",
            functions / "api_cases" / "handler.py",
            http_api_event("GET", f"/api/v1/cases/{ids['case_id']}", token=token),
            cheap_env,
        ),
        Variant(
            "api_auth    login, default argon2",
            functions / "api_auth" / "handler.py",
            http_api_event(
                "POST",
                "/api/v1/auth/login",
                body={"username": "benchdefault", "password": STRONG_PASSWORD},
            ),
            default_env,
        ),
        Variant(
            "api_sessions GET, default argon2",
            functions / "api_sessions" / "handler.py",
            http_api_event("GET", f"/api/v1/sessions/{ids['session_id']}", token=token),
            default_env,
        ),
    ]
    primed = [
        Variant(
            f"{variant.name}, primed",
            variant.handler,
            variant.event,
            {**variant.env, **SNAP_START_ENV},
            primed=True,
        )
        for variant in measured[1:4]
    ]
    return measured + primed + agent


def run_once(variant: Variant, driver: Path, event_file: Path) -> None:
    """One fresh interpreter: records its own timings and, from here, spawn-to-response."""
    spawned_at = time.monotonic()
    completed = subprocess.run(
        [sys.executable, str(driver), str(variant.handler), str(event_file), "invoke"],
        env=variant.env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"{variant.name}: driver exited {completed.returncode}\n{completed.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    if result["status"] != 200 or result["warm_status"] != 200:
        raise RuntimeError(f"{variant.name}: status {result['status']}: {result['body']}")
    variant.runs.append(result)
    variant.spawn_s.append(result["first_at_monotonic"] - spawned_at)


def measure_handlers(variants: list[Variant], work: Path) -> None:
    driver = work / "driver.py"
    driver.write_text(DRIVER.format(watched=WATCHED_MODULES))
    events: dict[str, Path] = {}
    for index, variant in enumerate(variants):
        events[variant.name] = work / f"event{index}.json"
        events[variant.name].write_text(json.dumps(variant.event))
    # One discarded round writes .pyc files and warms the page cache, so every measured
    # round sees the same disk state; rounds are interleaved so drift hits all alike.
    for variant in variants:
        run_once(variant, driver, events[variant.name])
        variant.runs.clear()
        variant.spawn_s.clear()
    for _ in range(REPETITIONS):
        for variant in variants:
            run_once(variant, driver, events[variant.name])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def report_handlers(variants: list[Variant]) -> None:
    header(
        f"Cold first response, fresh interpreter per run (median of {REPETITIONS}, "
        "clock from the driver's first line)"
    )
    baseline = median([r["first_response_s"] for r in variants[0].runs])
    variants = [variant for variant in variants if not variant.primed]
    print(
        f"{'handler':36} {'median ms':>9} {'min ms':>8} {'import':>8} {'1st inv':>8} "
        f"{'warm':>8} {'spawn':>8} {'ratio':>6}  target<={TARGET_RATIO:.1f}"
    )
    for variant in variants:
        first = [r["first_response_s"] for r in variant.runs]
        ratio = median(first) / baseline
        verdict = "" if variant is variants[0] else ("ok" if ratio <= TARGET_RATIO else "OVER")
        print(
            f"{variant.name:36} {_ms(median(first)):>9} {_ms(min(first))} "
            f"{_ms(median([r['import_s'] for r in variant.runs]))} "
            f"{_ms(median([r['invoke_s'] for r in variant.runs]))} "
            f"{_ms(median([r['warm_s'] for r in variant.runs]))} "
            f"{_ms(median(variant.spawn_s))} {ratio:6.2f}  {verdict}"
        )
    print(
        "columns: import = exec of handler module; 1st inv = first handler() call; "
        "warm = second call;\n         spawn = from Popen in the parent to the first response "
        "(adds interpreter start-up)."
    )
    print(f"\nModules loaded ({', '.join(WATCHED_MODULES)}):")
    for variant in variants[1:4]:
        run = variant.runs[-1]
        print(
            f"  {variant.name:24} after import: {run['after_import'] or 'none'}; "
            f"after first invoke: {run['after_invoke'] or 'none'}"
        )


def report_priming(variants: list[Variant]) -> None:
    """Each API function initialised on demand (today) and as a SnapStart version: what
    init costs, and what the first invocation costs after it. With SnapStart, init runs
    once per published version and is snapshotted; the first invocation after a restore
    is paid by a user (plus the restore itself, which is not measurable here)."""
    header(
        f"SnapStart priming: init vs first invocation (median of {REPETITIONS}; "
        "a primed init's connections are dropped, as after a restore)"
    )
    baseline = median([r["first_response_s"] for r in variants[0].runs])
    by_name = {variant.name: variant for variant in variants}
    print(
        f"{'handler':32} {'init ms':>9} {'1st inv':>9} {'primed init':>12} "
        f"{'primed 1st':>11} {'1st inv gain':>13} {'primed 1st / hello':>19}"
    )
    for primed in (variant for variant in variants if variant.primed):
        lazy = by_name[primed.name.removesuffix(", primed")]
        lazy_first = median([r["invoke_s"] for r in lazy.runs])
        primed_first = median([r["invoke_s"] for r in primed.runs])
        print(
            f"{lazy.name:32} {_ms(median([r['import_s'] for r in lazy.runs])):>9} "
            f"{_ms(lazy_first):>9} {_ms(median([r['import_s'] for r in primed.runs])):>12} "
            f"{_ms(primed_first):>11} {lazy_first / primed_first:12.1f}x "
            f"{primed_first / baseline:19.2f}"
        )
    print(
        "columns: init = exec of the handler module (with priming when primed); 1st inv = "
        "first handler() call;\n         primed 1st / hello = the first invocation after "
        "a primed init over hello-world's whole cold first response."
    )


def _mib(kib: float) -> str:
    return f"{kib / 1024:8.1f}"


def report_agent(variants: list[Variant]) -> None:
    """The agent function's cold start and memory. Peak RSS is the process's high-water
    mark (VmHWM) after its second invocation: what the Lambda memory setting must hold,
    with room for a long turn's context and answer."""
    agent = [variant for variant in variants if variant.name.startswith(AGENT_PREFIX)]
    if not agent:
        return
    header(
        f"Agent function (functions/api_agent/handler.py), median of {REPETITIONS} "
        "fresh interpreters"
    )
    baseline = median([r["first_response_s"] for r in variants[0].runs])
    print(
        f"{'variant':40} {'init ms':>8} {'1st inv':>8} {'warm':>8} {'1st resp':>9} "
        f"{'/hello':>7} {'RSS init':>9} {'RSS peak':>9}  SDK after init"
    )
    peaks = []
    for variant in agent:
        runs = variant.runs
        first = median([r["first_response_s"] for r in runs])
        peak = median([r["rss_peak_kib"] for r in runs])
        peaks.append(peak)
        sdk = "anthropic" if "anthropic" in runs[-1]["after_import"] else "not imported"
        print(
            f"{variant.name:40} {_ms(median([r['import_s'] for r in runs]))} "
            f"{_ms(median([r['invoke_s'] for r in runs]))} "
            f"{_ms(median([r['warm_s'] for r in runs]))} {_ms(first):>9} "
            f"{first / baseline:7.2f} {_mib(median([r['rss_import_kib'] for r in runs])):>9} "
            f"{_mib(peak):>9}  {sdk}"
        )
    print(
        "columns: init = exec of the handler module (primed: + priming + SDK import and "
        "client);\n         1st inv / warm = first / second handler() call; RSS in MiB "
        "(VmHWM: the process's high-water mark)."
    )
    highest = max(peaks) / 1024
    print(
        f"Lambda memory of api_agent: {AGENT_MEMORY_MB} MB = {AGENT_MEMORY_MB / highest:.1f}x "
        f"the highest peak RSS here ({highest:.0f} MiB); {FULL_VCPU_MB} MB is one whole "
        "vCPU, which the\nturn's CPU-bound part (context build, validation, redaction) and "
        "the first invocation after a restore run on."
    )


def measure_imports(env: dict[str, str]) -> None:
    header(f"Import cost, fresh interpreter each (median of {REPETITIONS})")
    for label, statement in IMPORT_PROBES.items():
        code = f"import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
        samples = []
        for _ in range(REPETITIONS):
            completed = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                capture_output=True,
                text=True,
                timeout=SUBPROCESS_TIMEOUT_S,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"import {label}: {completed.stderr[-2000:]}")
            samples.append(float(completed.stdout.strip().splitlines()[-1]))
        print(f"  {label:32} {_ms(median(samples))} ms   (min {_ms(min(samples)).strip()})")


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime_top(variants: list[Variant], work: Path, top: int = 10) -> None:
    """`python -X importtime` of each handler's import, as the self time of every module
    summed per top-level package: unlike cumulative times these do not overlap, so they
    show where the import budget really goes."""
    header(f"python -X importtime: self time per top-level package, top {top} (one run, ms)")
    driver = work / "driver.py"
    for variant in variants[1:4]:
        event_file = work / "importtime_event.json"
        event_file.write_text(json.dumps(variant.event))
        completed = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                str(driver),
                str(variant.handler),
                str(event_file),
                "import-only",
            ],
            env=variant.env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
        per_package: dict[str, int] = {}
        for line in completed.stderr.splitlines():
            match = _IMPORTTIME.match(line)
            if match:
                root = match.group(4).split(".")[0]
                per_package[root] = per_package.get(root, 0) + int(match.group(1))
        total_ms = sum(per_package.values()) / 1000
        ranked = sorted(per_package.items(), key=lambda item: item[1], reverse=True)[:top]
        shown = ", ".join(f"{name} {us / 1000:.0f}" for name, us in ranked)
        print(f"  {variant.name.split()[0]:13} total {total_ms:.0f}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["agent"], help="measure only hello-world and the agent function"
    )
    args = parser.parse_args()
    only_agent = args.only == "agent"
    work = Path(tempfile.mkdtemp(prefix="fmbcold"))
    try:
        with embedded_stores() as stores:
            ids = prepare_data(stores)
            variants = build_variants(stores, ids, work, only_agent=only_agent)
            measure_handlers(variants, work)
            if not only_agent:
                report_handlers(variants)
                report_priming(variants)
            report_agent(variants)
            if not only_agent:
                importtime_top(variants, work)
                measure_imports(variants[1].env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
