"""A real Alertmanager (Debian's `prometheus-alertmanager`, installed by `.ci/run`) firing
at our webhook: its own grouping, its `http_config.authorization` bearer credentials and
its retries and repeats, against the app served over a real socket. One alert, one case,
however often it is delivered. And a real Prometheus (`prometheus`) whose alerting rule
fires, through that Alertmanager, into a case."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from faultmaven.container import Container
from tests.helpers import Api, free_port, wait_until
from tests.telemetry_servers import ALERTMANAGER, PROMETHEUS, alertmanager, prometheus

pytestmark = pytest.mark.skipif(
    ALERTMANAGER is None, reason="prometheus-alertmanager is not installed"
)


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The suite's app on a real port (Alertmanager needs an address to send to)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def receiver(webhook: str, secret: str) -> str:
    return f"""
route:
  receiver: faultmaven
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 3s
receivers:
  - name: faultmaven
    webhook_configs:
      - url: {webhook}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {secret}
"""


def _until(probe: Any, timeout: float = 30) -> Any:
    return wait_until(probe, "Alertmanager's delivery", timeout)


def test_alertmanager_opens_one_case_for_a_firing_alert_and_resolves_it(
    api: Api, container: Container, served: str
) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    created = api.call(
        "POST",
        "/alerts/integrations",
        admin,
        json={"name": "alertmanager", "owner_id": owner.user_id, "investigate": False},
    )
    assert created.status_code == 201, created.text
    with (
        tempfile.TemporaryDirectory() as workdir,
        alertmanager(Path(workdir), receiver(served, created.json()["secret"])) as base,
    ):
        started = datetime.now(UTC).isoformat()
        alert: dict[str, Any] = {
            "labels": {
                "alertname": "DiskAlmostFull",
                "severity": "warning",
                "instance": "db-3:9100",
            },
            "annotations": {"summary": "/var is 93% full"},
            "startsAt": started,
            "generatorURL": "http://prometheus:9090/graph",
        }
        posted = httpx.post(f"{base}/api/v2/alerts", json=[alert], timeout=10)
        assert posted.status_code == 200, posted.text
        cases = _until(lambda: api.call("GET", "/cases", owner).json()["items"])
        # Alertmanager repeats the group every 3 s here: still one case, more occurrences.
        alerts = _until(
            lambda: [
                a for a in api.call("GET", "/alerts", owner).json()["items"] if a["occurrences"] > 1
            ],
            timeout=30,
        )
        assert len(api.call("GET", "/cases", owner).json()["items"]) == 1
        assert alerts[0]["case_id"] == cases[0]["case_id"]
        assert cases[0]["priority"] == "medium" and "DiskAlmostFull" in cases[0]["title"]
        # Resolving it in Alertmanager sends `resolved`.
        ended = {**alert, "endsAt": datetime.now(UTC).isoformat()}
        assert httpx.post(f"{base}/api/v2/alerts", json=[ended], timeout=10).status_code == 200
        _until(
            lambda: [
                a
                for a in api.call("GET", "/alerts", owner).json()["items"]
                if a["state"] == "resolved"
            ],
            timeout=30,
        )


# One rule that fires at once (`vector(1)`), evaluated every second.
RULES = """
groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: vector(1) > 0
        labels: {severity: critical, service: checkout}
        annotations: {summary: "error budget burning 14x"}
"""


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed")
def test_a_prometheus_rule_that_fires_opens_a_case(
    api: Api, container: Container, served: str
) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    created = api.call(
        "POST",
        "/alerts/integrations",
        admin,
        json={"name": "prometheus", "owner_id": owner.user_id, "investigate": False},
    )
    with (
        tempfile.TemporaryDirectory() as workdir,
        alertmanager(Path(workdir), receiver(served, created.json()["secret"])) as manager,
        prometheus(Path(workdir), rules=RULES, alertmanager=manager),
    ):
        cases = _until(lambda: api.call("GET", "/cases", owner).json()["items"], timeout=60)
        assert "CheckoutErrorBudgetBurn" in cases[0]["title"]
        assert cases[0]["priority"] == "critical"
        # The case is visible a moment before its alert row names it: wait for that too.
        alerts = _until(lambda: api.call("GET", "/alerts", owner).json()["items"])
        assert alerts[0]["labels"]["service"] == "checkout"
        assert alerts[0]["generator_url"].startswith("http")
