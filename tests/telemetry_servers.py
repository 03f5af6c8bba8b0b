"""Real telemetry servers for the tests, and the recorded ones that stand in where no
package exists here (Loki, Tempo).

- `prometheus()` / `alertmanager()`: Debian's binaries (installed by `.ci/run`), on
  loopback ports, stopped by PID.
- `exporter()`: a prometheus-client exporter with counters the test drives, for a
  Prometheus to scrape.
- `Recorded`: a stdlib HTTP server answering documented Loki/Tempo responses recorded
  in tests/data/telemetry, checking the credentials and keeping every request, so the
  adapters are driven over a real socket with the real client library.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.helpers import free_port

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
RECORDED = Path(__file__).parent / "data" / "telemetry"


def wait_for(url: str, timeout: float = 30, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{url}: the server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def running(args: list[str], ready: str, timeout: float = 30) -> Iterator[None]:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(ready, timeout, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def prometheus(
    workdir: Path,
    *,
    scrape: Sequence[str] = (),
    rules: str | None = None,
    alertmanager: str | None = None,
    interval: str = "1s",
) -> Iterator[str]:
    """A Prometheus that scrapes itself and `scrape` (host:port) every `interval`, with
    optional alerting `rules` sent to `alertmanager`. Yields its base URL."""
    assert PROMETHEUS is not None, "prometheus is not installed"
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
            *(
                [{"job_name": "checkout", "static_configs": [{"targets": list(scrape)}]}]
                if scrape
                else []
            ),
        ],
    }
    if rules is not None:
        (workdir / "rules.yml").write_text(rules)
        config["rule_files"] = [str(workdir / "rules.yml")]
    if alertmanager is not None:
        config["alerting"] = {
            "alertmanagers": [
                {"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}
            ]
        }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    base = f"http://127.0.0.1:{port}"
    with running(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Alerts raised before the Alertmanager is discovered are sent again only
            # after this delay (a minute by default).
            "--rules.alert.resend-delay=2s",
        ],
        f"{base}/-/ready",
    ):
        yield base


@contextlib.contextmanager
def alertmanager(workdir: Path, receivers_yaml: str) -> Iterator[str]:
    """An Alertmanager with the given `route:`/`receivers:` configuration."""
    assert ALERTMANAGER is not None, "prometheus-alertmanager is not installed"
    port = free_port()
    (workdir / "alertmanager.yml").write_text(receivers_yaml)
    base = f"http://127.0.0.1:{port}"
    with running(
        [
            ALERTMANAGER,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        f"{base}/api/v2/status",
    ):
        yield base


@dataclass
class Exporter:
    target: str
    errors: Any  # prometheus_client Counter, labelled by route
    in_flight: Any  # Gauge


@contextlib.contextmanager
def exporter() -> Iterator[Exporter]:
    """A prometheus-client exporter on its own registry: `checkout_errors_total{route}`
    and `checkout_requests_in_flight`, which the test sets."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

    registry = CollectorRegistry()
    errors = Counter("checkout_errors", "errors", ["route"], registry=registry)
    in_flight = Gauge("checkout_requests_in_flight", "in flight", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield Exporter(f"127.0.0.1:{port}", errors, in_flight)
    finally:
        server.shutdown()
        thread.join(timeout=5)


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Recorded:
    """Answers GETs from `routes` (path → (status, JSON body))
    after checking the Authorization header against `authorization` (when set)."""

    routes: dict[str, tuple[int, Any]]
    authorization: str | None = None
    requests: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Recorded:
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                recorded.requests.append(
                    Seen(
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                    )
                )
                if (
                    recorded.authorization
                    and self.headers.get("Authorization") != recorded.authorization
                ):
                    return self._send(401, {"error": "unauthorized"})
                status, body = recorded.routes.get(parts.path, (404, {"error": "not found"}))
                self._send(status, body)
                return None

            def _send(self, status: int, body: Any) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def recording(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())
