"""A real Alertmanager (Debian's `prometheus-alertmanager`, installed by `.ci/run`) firing
at our webhook: its own grouping, its `http_config.authorization` bearer credentials and
its retries and repeats, against the app served over a real socket. One alert, one case,
however often it is delivered. And a real Prometheus (`prometheus`) whose alerting rule
fires, through that Alertmanager, into a case."""

from __future__ import annotations

import shutil
import socket
import subprocess
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
from tests.helpers import Api

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def start_alertmanager(
    webhook: str, secret: str, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        f"""
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
    )
    assert BINARY is not None
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v2/status", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("alertmanager did not start")


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
    with tempfile.TemporaryDirectory() as workdir:
        process, base = start_alertmanager(served, created.json()["secret"], Path(workdir))
        try:
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
                    a
                    for a in api.call("GET", "/alerts", owner).json()["items"]
                    if a["occurrences"] > 1
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
        finally:
            process.terminate()
            process.wait(timeout=10)


def start_prometheus(alertmanager: str, workdir: Path) -> subprocess.Popen[bytes]:
    """Prometheus with one rule that fires at once (`vector(1)`), evaluated every second,
    sending to `alertmanager`."""
    assert PROMETHEUS is not None
    port = free_port()
    (workdir / "rules.yml").write_text(
        """
groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: CheckoutErrorBudgetBurn
        expr: vector(1) > 0
        labels: {severity: critical, service: checkout}
        annotations: {summary: "error budget burning 14x"}
"""
    )
    (workdir / "prometheus.yml").write_text(
        f"""
global: {{evaluation_interval: 1s, scrape_interval: 5s}}
rule_files: [{workdir / "rules.yml"}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["{alertmanager.removeprefix("http://")}"]}}]
"""
    )
    return subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Alerts raised before the Alertmanager is discovered are sent again only
            # after this delay (a minute by default).
            "--rules.alert.resend-delay=2s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
    with tempfile.TemporaryDirectory() as workdir:
        manager, base = start_alertmanager(served, created.json()["secret"], Path(workdir))
        prometheus = start_prometheus(base, Path(workdir))
        try:
            cases = _until(lambda: api.call("GET", "/cases", owner).json()["items"], timeout=60)
            assert "CheckoutErrorBudgetBurn" in cases[0]["title"]
            assert cases[0]["priority"] == "critical"
            alerts = api.call("GET", "/alerts", owner).json()["items"]
            assert alerts[0]["labels"]["service"] == "checkout"
            assert alerts[0]["generator_url"].startswith("http")
        finally:
            for process in (prometheus, manager):
                process.terminate()
                process.wait(timeout=10)


def _until(probe: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out waiting for Alertmanager's delivery")
