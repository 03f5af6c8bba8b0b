"""One GET against a telemetry endpoint, with its credentials and budget, and the one
mapping of transport and HTTP failures to `TelemetryError`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx

from faultmaven.core.telemetry import BackendHealth, Endpoint, TelemetryError

MAX_RESPONSE_BYTES = 20 * 1024 * 1024  # a query that returns more must be narrowed


def get(
    endpoint: Endpoint,
    path: str,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    *,
    timeout: float | None = None,
    accept: str = "application/json",
) -> Any:
    """The JSON body of `GET endpoint.url + path`. A 4xx is the query's fault (not
    retryable; the backend's own message says why), a 5xx or transport failure is not."""
    url = urljoin(endpoint.url.rstrip("/") + "/", path.lstrip("/"))
    budget = timeout if timeout is not None else endpoint.timeout_seconds
    try:
        with (
            httpx.Client(
                verify=endpoint.verify_tls,
                timeout=httpx.Timeout(budget, connect=min(5.0, budget)),
                follow_redirects=False,
            ) as http,
            http.stream(
                "GET",
                url,
                params=params,
                headers={"Accept": accept, **endpoint.credentials.headers()},
                auth=endpoint.credentials.basic(),
            ) as response,
        ):
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > MAX_RESPONSE_BYTES:
                    raise TelemetryError(
                        f"the response is larger than {MAX_RESPONSE_BYTES} bytes; narrow "
                        "the query (fewer series, a shorter range or a lower limit)",
                        retryable=False,
                    )
    except httpx.TimeoutException as exc:
        raise TelemetryError(f"timed out after {budget:.0f} s", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise TelemetryError(f"unreachable: {type(exc).__name__}", retryable=True) from exc
    status = response.status_code
    if status in (401, 403):
        raise TelemetryError(
            f"the endpoint refused our credentials (HTTP {status})", retryable=False, status=status
        )
    try:
        data = json.loads(body) if body else None
    except ValueError:  # UnicodeDecodeError included
        data = None
    if status >= 400:
        message = _message(data) or bytes(body[:300]).decode("utf-8", "replace").strip()
        raise TelemetryError(
            f"HTTP {status}: {message or 'no detail'}", retryable=status >= 500, status=status
        )
    if data is None and body:
        raise TelemetryError("the endpoint did not answer JSON", retryable=False, status=status)
    return data


def _message(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return None


def probe(endpoint: Endpoint, ready_path: str, version_path: str | None) -> BackendHealth:
    """Readiness (any 2xx), then the build version when the backend tells it."""
    started = time.perf_counter()
    url = urljoin(endpoint.url.rstrip("/") + "/", ready_path.lstrip("/"))
    try:
        with httpx.Client(
            verify=endpoint.verify_tls, timeout=min(10.0, endpoint.timeout_seconds)
        ) as http:
            ready = http.get(
                url, headers=endpoint.credentials.headers(), auth=endpoint.credentials.basic()
            )
    except httpx.HTTPError as exc:
        return BackendHealth(
            ok=False, latency_ms=_ms(started), error=f"unreachable: {type(exc).__name__}"
        )
    latency = _ms(started)
    if not ready.is_success:
        return BackendHealth(ok=False, latency_ms=latency, error=f"HTTP {ready.status_code}")
    version = None
    if version_path:
        try:
            info = get(endpoint, version_path, timeout=min(10.0, endpoint.timeout_seconds))
            version = _version(info)
        except TelemetryError:
            version = None
    return BackendHealth(ok=True, latency_ms=latency, version=version)


def _version(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    for holder in (info.get("data"), info.get("versionInfo"), info):
        if isinstance(holder, dict) and isinstance(holder.get("version"), str):
            return str(holder["version"])
    return None


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def unix(moment: datetime | None) -> float:
    return (moment or datetime.now(UTC)).timestamp()


def from_unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
