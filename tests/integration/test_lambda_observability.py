"""Traces, metrics and SnapStart priming of the real Lambda handlers.

Each handler runs in a fresh interpreter set up the way the Lambda runtime sets one up
(`LAMBDA_TASK_ROOT`, the function's name, a `_X_AMZN_TRACE_ID` header per invocation),
over the real PostgreSQL, Redis and moto. A UDP socket stands in for the X-Ray daemon,
which is where the X-Ray SDK sends segments in Lambda, and stdout is read as Lambda ships
it to CloudWatch, where the EMF documents become metrics.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from faultmaven.adapters.aws import client
from faultmaven.core.settings import Settings, get_settings
from faultmaven.lambda_entry import priming_paths
from tests.conftest import ROOT, TEST_JWT_SECRET
from tests.helpers import Api
from tests.integration.test_lambda_handlers import LambdaContext, load_event

NAMESPACE = "FaultMavenTest"
WATCHED = ("faultmaven.cases.service", "faultmaven.cases.store", "sqlalchemy.orm", "psycopg")

DRIVER = """\
import importlib.util, json, os, sys

WATCHED = {watched!r}


class Context:
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "6f1c2b7d-5e6a-4b8c-9d0e-1f2a3b4c5d6e"

    def __init__(self):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:x"

    def get_remaining_time_in_millis(self):
        return 60_000


invocations = json.load(open(sys.argv[1]))
modules = {{}}
for invocation in invocations:
    path = invocation["handler"]
    if path not in modules:
        spec = importlib.util.spec_from_file_location("handler_" + str(len(modules)), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[path] = module
        loaded = sorted(name for name in WATCHED if name in sys.modules)
        print("IMPORTED " + json.dumps(loaded), flush=True)
for index, invocation in enumerate(invocations):
    os.environ["_X_AMZN_TRACE_ID"] = (
        f"Root={{invocation['trace']}};Parent=53995c3f42cd8ad8;Sampled=1"
    )
    print(f"INVOCATION {{index}}", flush=True)
    handler = getattr(modules[invocation["handler"]], invocation["attribute"])
    try:
        response = handler(invocation["event"], Context())
        status = response.get("statusCode") if isinstance(response, dict) else None
        outcome = {{"ok": True, "status": status}}
    except Exception as exc:
        outcome = {{"ok": False, "error": type(exc).__name__}}
    outcome["xray_sdk_loaded"] = "aws_xray_sdk" in sys.modules
    print("RESULT " + json.dumps(outcome), flush=True)
"""


@dataclass
class Invocation:
    emf: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    imported: list[list[str]]
    invocations: list[Invocation]
    segments: list[dict[str, Any]]
    raw_datagrams: list[str]

    def metric(self, index: int, name: str) -> list[tuple[float, dict[str, Any]]]:
        """The values of metric `name` in invocation `index`, with their EMF documents."""
        found = []
        for document in self.invocations[index].emf:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                if any(m["Name"] == name for m in directive["Metrics"]):
                    # Powertools writes each value as a list; one per invocation here.
                    [value] = document[name]
                    found.append((float(value), document))
        return found

    def subsegments(self, trace: str) -> list[dict[str, Any]]:
        return [s for s in self.segments if s.get("trace_id") == trace]


class XRayDaemon:
    """Receives what the X-Ray SDK emits: UDP datagrams, each a JSON header line and a
    segment or subsegment document."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def drain(self) -> list[str]:
        datagrams = []
        while True:
            try:
                data, _ = self.socket.recvfrom(65_536)
            except TimeoutError:
                return datagrams
            datagrams.append(data.decode())


@pytest.fixture
def xray_daemon() -> Iterator[XRayDaemon]:
    daemon = XRayDaemon()
    yield daemon
    daemon.socket.close()


@pytest.fixture
def run_in_lambda(
    settings: Settings, xray_daemon: XRayDaemon, tmp_path: Path
) -> Callable[..., Run]:
    """Runs invocations in one fresh interpreter configured as the named function."""
    # The signing key comes from Secrets Manager, as on AWS: an AWS call to trace.
    name = f"faultmaven/jwt-{secrets.token_hex(4)}"
    key_arn = client("secretsmanager", settings).create_secret(
        Name=name, SecretString=TEST_JWT_SECRET
    )["ARN"]
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(watched=WATCHED))

    def run(
        function: str,
        invocations: list[dict[str, Any]],
        extra_env: dict[str, str | None] | None = None,
    ) -> Run:
        service = f"faultmaven-{function.replace('_', '-')}"
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in ("FAULTMAVEN_JWT_SECRET", "POWERTOOLS_TRACE_DISABLED")
        }
        env.update(
            {
                "FAULTMAVEN_JWT_SECRET_ARN": key_arn,
                "FAULTMAVEN_PASSWORD_HASH_TIME_COST": "1",
                "FAULTMAVEN_PASSWORD_HASH_MEMORY_KIB": "1024",
                "FAULTMAVEN_METRICS_NAMESPACE": NAMESPACE,
                "FAULTMAVEN_SERVICE_NAME": service,
                "POWERTOOLS_SERVICE_NAME": service,
                "FAULTMAVEN_LOG_LEVEL": "WARNING",
                "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
                "AWS_LAMBDA_FUNCTION_NAME": service,
                "AWS_XRAY_DAEMON_ADDRESS": xray_daemon.address,
            }
        )
        for name, value in (extra_env or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        invocations_file = tmp_path / "invocations.json"
        invocations_file.write_text(json.dumps(invocations))
        completed = subprocess.run(
            [sys.executable, str(driver), str(invocations_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        imported: list[list[str]] = []
        parsed: list[Invocation] = []
        for line in completed.stdout.splitlines():
            if line.startswith("IMPORTED "):
                imported.append(json.loads(line.removeprefix("IMPORTED ")))
            elif line.startswith("INVOCATION "):
                parsed.append(Invocation())
            elif line.startswith("RESULT "):
                parsed[-1].result = json.loads(line.removeprefix("RESULT "))
            elif line.startswith("{") and '"_aws"' in line and parsed:
                parsed[-1].emf.append(json.loads(line))
        datagrams = xray_daemon.drain()
        segments: list[dict[str, Any]] = []
        for datagram in datagrams:
            header, _, body = datagram.partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            segments.extend(_flatten(json.loads(body)))
        assert len(parsed) == len(invocations), completed.stdout[-3000:]
        return Run(imported, parsed, segments, datagrams)

    return run


def _flatten(document: dict[str, Any], trace_id: str | None = None) -> Iterator[dict[str, Any]]:
    """A streamed subsegment and the subsegments nested in it (those carry no trace id)."""
    trace_id = document.get("trace_id", trace_id)
    yield {**document, "trace_id": trace_id}
    for child in document.get("subsegments", ()):
        yield from _flatten(child, trace_id)


def _root(index: int) -> str:
    return f"1-5759e988-bd862e3fe1be46a99427{index:04d}"


def _handler_path(function: str) -> str:
    return str(ROOT / "functions" / function / "handler.py")


def test_api_handler_emits_emf_metrics_and_xray_subsegments(
    api: Api, run_in_lambda: Callable[..., Run]
) -> None:
    owner, stranger = api.user(), api.user()
    case = api.case(owner, title="Checkout p99 latency doubled after deploy")
    get_case = load_event("cases_get", ACCESS_TOKEN=owner.token, CASE_ID=case["case_id"])
    forbidden = load_event("cases_get", ACCESS_TOKEN=stranger.token, CASE_ID=case["case_id"])
    path = _handler_path("api_cases")
    run = run_in_lambda(
        "api_cases",
        [
            {"handler": path, "attribute": "handler", "event": get_case, "trace": _root(0)},
            {"handler": path, "attribute": "handler", "event": get_case, "trace": _root(1)},
            {"handler": path, "attribute": "handler", "event": forbidden, "trace": _root(2)},
        ],
    )
    assert [i.result["status"] for i in run.invocations] == [200, 200, 404]

    # EMF: one request per invocation, in the configured namespace, per function.
    for index in range(3):
        [(value, document)] = run.metric(index, "Requests")
        assert value == 1
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [["service"]]
        assert document["service"] == "faultmaven-api-cases"
    # A cold start is counted once, on the first invocation of the process.
    [(cold, cold_document)] = run.metric(0, "ColdStart")
    assert cold == 1
    assert cold_document["function_name"] == "faultmaven-api-cases"
    assert run.metric(1, "ColdStart") == run.metric(2, "ColdStart") == []
    # A 404 is a client error, not an error.
    assert run.metric(0, "ClientErrors") == run.metric(0, "Errors") == []
    assert [value for value, _ in run.metric(2, "ClientErrors")] == [1]
    assert run.metric(2, "Errors") == []

    # X-Ray: the handler's subsegment per invocation, annotated.
    first = run.subsegments(_root(0))
    [handler] = [s for s in first if s["name"] == "## handler"]
    assert handler["annotations"]["ColdStart"] is True
    assert handler["annotations"]["Service"] == "faultmaven-api-cases"
    assert handler["annotations"]["status_code"] == 200
    [warm] = [s for s in run.subsegments(_root(1)) if s["name"] == "## handler"]
    assert warm["annotations"]["ColdStart"] is False
    # Each SQL statement is a remote subsegment carrying the statement, not its values.
    statements = [s for s in first if s.get("namespace") == "remote" and "sql" in s]
    assert any("FROM cases" in s["sql"]["sanitized_query"] for s in statements), first
    assert all(s["sql"]["database_type"] == "postgresql" for s in statements)
    assert all("password" not in s["sql"]["url"] for s in statements)
    # The AWS call of the cold start (the signing key) is an aws subsegment.
    aws_calls = [s for s in first if s.get("namespace") == "aws"]
    assert [s["aws"]["operation"] for s in aws_calls] == ["GetSecretValue"]
    # Nothing secret or personal reaches X-Ray: no token, no response, no parameter.
    everything = "\n".join(run.raw_datagrams)
    for secret in (owner.token, stranger.token, case["title"], case["case_id"], TEST_JWT_SECRET):
        assert secret not in everything


def test_tracing_is_off_outside_lambda_and_when_disabled_but_metrics_still_print(
    api: Api, run_in_lambda: Callable[..., Run]
) -> None:
    user = api.user()
    case = api.case(user)
    event = load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID=case["case_id"])
    invocation = {
        "handler": _handler_path("api_cases"),
        "attribute": "handler",
        "event": event,
        "trace": _root(0),
    }
    for extra_env in ({"LAMBDA_TASK_ROOT": None}, {"POWERTOOLS_TRACE_DISABLED": "true"}):
        run = run_in_lambda("api_cases", [invocation], extra_env)
        assert run.invocations[0].result["status"] == 200, extra_env
        assert run.raw_datagrams == [], extra_env
        # No Tracer is built, so the X-Ray SDK (and its sampler's botocore client) is
        # never imported: nothing to look for a daemon, nothing to pay at import.
        assert run.invocations[0].result["xray_sdk_loaded"] is False, extra_env
        assert [value for value, _ in run.metric(0, "Requests")] == [1], extra_env


def test_event_handlers_emit_invocations_duration_and_errors(
    api: Api, run_in_lambda: Callable[..., Run]
) -> None:
    scheduled = json.loads((ROOT / "events" / "eventbridge" / "retention_daily.json").read_text())
    retention = _handler_path("retention")
    run = run_in_lambda(
        "retention",
        [
            {"handler": retention, "attribute": "handler", "event": scheduled, "trace": _root(0)},
            {"handler": retention, "attribute": "handler", "event": scheduled, "trace": _root(1)},
            # A malformed step input: the exception propagates (Step Functions retries on
            # its class name) and is still counted.
            {
                "handler": _handler_path("preprocess"),
                "attribute": "classify",
                "event": {"unexpected": True},
                "trace": _root(2),
            },
        ],
    )
    assert run.invocations[0].result["ok"] and run.invocations[1].result["ok"]
    assert not run.invocations[2].result["ok"]

    for index, handler in ((0, "handler"), (1, "handler"), (2, "classify")):
        [(invocations, document)] = run.metric(index, "Invocations")
        assert invocations == 1
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == NAMESPACE
        assert [sorted(d) for d in directive["Dimensions"]] == [["handler", "service"]]
        assert document["handler"] == handler
        [(duration, _)] = run.metric(index, "Duration")
        assert duration > 0
        assert {m["Name"]: m["Unit"] for m in directive["Metrics"]}["Duration"] == "Milliseconds"
    assert len(run.metric(0, "ColdStart")) == 1
    assert run.metric(1, "ColdStart") == []
    assert run.metric(0, "Errors") == run.metric(1, "Errors") == []
    assert [value for value, _ in run.metric(2, "Errors")] == [1]

    [retention_segment] = [s for s in run.subsegments(_root(0)) if s["name"] == "## handler"]
    assert retention_segment["annotations"]["ColdStart"] is True
    assert any(s.get("namespace") == "remote" and "sql" in s for s in run.subsegments(_root(0))), (
        "the retention sweep's SQL is traced"
    )
    [failed] = [s for s in run.subsegments(_root(2)) if s["name"] == "## classify"]
    assert failed.get("fault") or failed.get("error"), failed


def test_snapstart_init_primes_the_routes_and_the_first_invocation_still_counts(
    api: Api, run_in_lambda: Callable[..., Run]
) -> None:
    user = api.user()
    case = api.case(user)
    event = load_event("cases_get", ACCESS_TOKEN=user.token, CASE_ID=case["case_id"])
    invocation = {
        "handler": _handler_path("api_cases"),
        "attribute": "handler",
        "event": event,
        "trace": _root(0),
    }
    on_demand = run_in_lambda("api_cases", [invocation])
    primed = run_in_lambda(
        "api_cases", [invocation], {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
    )
    # An on-demand init stays lazy; a SnapStart init has imported what the routes need.
    assert on_demand.imported == [[]]
    assert primed.imported == [sorted(WATCHED)]
    for run in (on_demand, primed):
        assert run.invocations[0].result["status"] == 200
        # Priming went around the instrumented handler: the real first request is the
        # one request counted, and the cold start is still its own.
        assert [value for value, _ in run.metric(0, "Requests")] == [1]
        assert [value for value, _ in run.metric(0, "ColdStart")] == [1]
    # No subsegment from the init: only the invocation's trace reached the daemon.
    assert {s["trace_id"] for s in primed.segments} == {_root(0)}
    # The signing key was read before the snapshot, so not on the request path.
    assert [s for s in primed.segments if s.get("namespace") == "aws"] == []
    assert [s for s in on_demand.segments if s.get("namespace") == "aws"] != []


API_FUNCTIONS = (
    "api_auth",
    "api_sessions",
    "api_cases",
    "api_evidence",
    "api_knowledge",
    "api_history",
    "api_alerts",
)


@pytest.fixture
def load_api_handler(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[Callable[[str], ModuleType]]:
    """Import an API handler as a SnapStart init does (so priming runs)."""
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    for name, value in {
        "FAULTMAVEN_JWT_SECRET": TEST_JWT_SECRET,
        "FAULTMAVEN_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    loaded: list[ModuleType] = []

    def load(function: str) -> ModuleType:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            f"primed_{function}", ROOT / "functions" / function / "handler.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    for module in loaded:
        module.app.state.container.close()
    get_settings.cache_clear()


def _write_marks(settings: Settings) -> tuple[int, dict[bytes, bytes | None]]:
    """A transaction id (PostgreSQL assigns one to each writing transaction, and to this
    query, never to a read) and a dump of every Redis key."""
    url = (settings.database_url or "").replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            xid = int(connection.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())
            connection.rollback()
    finally:
        engine.dispose()
    kv = redis.Redis.from_url(settings.redis_url or "")
    try:
        keys = {key: kv.dump(key) for key in kv.scan_iter(count=1000)}
    finally:
        kv.close()
    return xid, keys


def _quiet_marks(settings: Settings) -> tuple[int, dict[bytes, bytes | None]]:
    """The marks once nothing else writes: work an earlier test left running (a pipeline
    execution finishing, a background task) must not count as the primer's."""
    marks = _write_marks(settings)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.25)
        again = _write_marks(settings)
        if again[0] == marks[0] + 1 and again[1] == marks[1]:
            return again
        marks = again
    return marks


def test_priming_reaches_every_get_route_and_writes_nothing(
    api: Api, settings: Settings, load_api_handler: Callable[[str], ModuleType]
) -> None:
    api.case(api.user())  # something to find, should priming look for it
    xid_before, redis_before = _quiet_marks(settings)
    modules = []
    for function in API_FUNCTIONS:
        module = load_api_handler(function)
        paths = priming_paths(module.app)
        assert paths[0] == "/health"
        assert all("{" not in path for path in paths)
        modules.append(module)
    xid_after, redis_after = _write_marks(settings)
    assert xid_after == xid_before + 1, "a priming request wrote to PostgreSQL"
    # Keys may expire meanwhile (TTLs of earlier tests); none may appear or change.
    for key, value in redis_after.items():
        assert redis_before.get(key) == value, f"a priming request wrote {key!r} to Redis"
    for module in modules:
        # A primed function still answers, over reopened connections, and checks tokens
        # again (the priming override is gone).
        event = load_event("cases_get", ACCESS_TOKEN="x", CASE_ID="x")
        assert module.handler(event, LambdaContext())["statusCode"] in (401, 404)


def test_priming_answers_without_server_errors(
    settings: Settings, load_api_handler: Callable[[str], ModuleType]
) -> None:
    from mangum import Mangum

    from faultmaven.lambda_entry import prime

    module = load_api_handler("api_cases")
    statuses = prime(module.app, Mangum(module.app, lifespan="off"))
    assert set(statuses) == set(priming_paths(module.app))
    assert len(statuses) > 5
    assert statuses["/health"] == 200
    # The primer is authenticated: its own (empty) list of cases is a 200.
    assert statuses["/api/v1/cases"] == 200
    assert all(status < 500 for status in statuses.values()), statuses
