"""The cluster registry over HTTP and live queries against telemetry backends: a real
Prometheus (Debian's package) scraping a prometheus-client exporter, Loki and Tempo
as recorded responses in their documented formats served over a socket (no package
exists here), and contract checks against real Loki/Tempo when LOKI_URL / TEMPO_URL
are set."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from faultmaven.adapters.telemetry import HttpTelemetry
from faultmaven.container import Container
from faultmaven.core.telemetry import Endpoint, LogQuery, MetricQuery, TelemetryError, TraceQuery
from faultmaven.db.tables import Cluster, HistoryToolInteraction
from tests.helpers import Api, User, assert_envelope, wait_until
from tests.integration.agent_helpers import Factory, ask, session_of
from tests.llm_stubs import MessagesStub, ToolCall
from tests.telemetry_servers import PROMETHEUS, Recorded, exporter, prometheus, recording

TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def register(api: Api, admin: User, **body: Any) -> dict[str, Any]:
    payload = {"name": "prod-eu", "endpoints": {}, **body}
    response = api.call("POST", "/clusters", admin, json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_admins_register_clusters_whose_credentials_never_come_back(
    api: Api, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    user = api.user()
    with Recorded({"/ready": (200, "ready")}, authorization=f"Bearer {TOKEN}") as loki:
        body = {
            "name": "prod-eu",
            "environment": "production",
            "endpoints": {"loki_url": loki.url + "/"},
            "credentials": {"kind": "bearer", "token": TOKEN},
        }
        refused = api.call("POST", "/clusters", user, json=body)
        assert_envelope(refused, 403, "ADMIN_ONLY")
        created = register(api, admin, **body)
        assert TOKEN not in str(created)
        assert created["auth"] == "bearer" and created["capabilities"] == ["loki"]
        assert created["endpoints"]["loki_url"] == loki.url  # the trailing slash dropped
        # The health check ran with the credentials: the recorded Loki checks them.
        assert created["status"]["state"] == "healthy", created["status"]
        assert loki.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    listed = api.call("GET", "/clusters", user).json()
    assert [c["name"] for c in listed["items"]] == ["prod-eu"] and TOKEN not in str(listed)
    with container.database.session() as session:
        row = session.get(Cluster, created["cluster_id"])
        assert row is not None and row.credentials_sealed is not None
        assert TOKEN.encode() not in row.credentials_sealed
    # Sealed for this cluster: the same bytes do not open as another's.
    with pytest.raises(ValueError, match="does not open"):
        container.sealer.open(row.credentials_sealed, context="cls_other")
    assert_envelope(api.call("POST", "/clusters", admin, json=body), 409, "CLUSTER_EXISTS")
    cleared = api.call(
        "PATCH", f"/clusters/{created['cluster_id']}", admin, json={"credentials": None}
    )
    assert cleared.status_code == 200 and cleared.json()["auth"] == "none"
    # The recorded Loki is gone: the re-check after the change finds it unreachable.
    assert cleared.json()["status"]["state"] == "unreachable"
    assert api.call("DELETE", f"/clusters/{created['cluster_id']}", user).status_code == 403
    assert api.call("DELETE", f"/clusters/{created['cluster_id']}", admin).status_code == 204
    assert_envelope(
        api.call("GET", f"/clusters/{created['cluster_id']}", user), 404, "CLUSTER_NOT_FOUND"
    )


@pytest.mark.parametrize(
    "endpoints",
    [
        {},
        {"prometheus_url": "ftp://prom:9090"},
        {"prometheus_url": "http://user:pw@prom:9090"},
        {"prometheus_url": "http://prom:9090/?x=1"},
        {"grafana_url": "http://grafana"},
    ],
)
def test_bad_endpoints_are_422(api: Api, container: Container, endpoints: dict[str, str]) -> None:
    admin = api.admin(container.auth.accounts)
    response = api.call("POST", "/clusters", admin, json={"name": "c1", "endpoints": endpoints})
    assert_envelope(response, 422)


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed")
def test_promql_instant_and_range_queries_against_a_real_prometheus(
    api: Api, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    with exporter() as target, tempfile.TemporaryDirectory() as workdir:
        target.errors.labels(route="/pay").inc(7)
        target.in_flight.set(42)
        with prometheus(Path(workdir), scrape=[target.target]) as base:
            created = register(api, admin, name="staging", endpoints={"prometheus_url": base})
            assert created["status"]["state"] == "healthy"
            assert created["status"]["components"]["prometheus"]["version"]
            clusters = container.clusters
            wait_until(
                lambda: (
                    clusters.query_metrics(None, MetricQuery(query="checkout_requests_in_flight"))[
                        1
                    ].series
                ),
                what="the first scrape",
                timeout=30,
            )
            name, instant = clusters.query_metrics(
                "staging", MetricQuery(query='checkout_errors_total{route="/pay"}')
            )
            assert name == "staging" and instant.result_type == "vector"
            assert instant.series[0].labels["route"] == "/pay"
            assert float(instant.series[0].values[0][1]) == 7.0
            from datetime import UTC, datetime, timedelta

            def ranged_points() -> object:
                now = datetime.now(UTC)
                _, ranged = clusters.query_metrics(
                    None,
                    MetricQuery(
                        query="checkout_requests_in_flight",
                        start=now - timedelta(minutes=1),
                        end=now,
                        step_seconds=1,
                    ),
                )
                assert ranged.result_type == "matrix"
                return len(ranged.series[0].values) > 1

            wait_until(ranged_points, what="a second scrape", timeout=30)
            with pytest.raises(TelemetryError) as bad:
                clusters.query_metrics(None, MetricQuery(query="sum(("))
            assert not bad.value.retryable and "parse error" in bad.value.message
    # Prometheus stopped: a retryable failure, and the health check says so.
    with pytest.raises(TelemetryError) as down:
        container.clusters.query_metrics(None, MetricQuery(query="up"))
    assert down.value.retryable
    checked = api.call("POST", f"/clusters/{created['cluster_id']}/health", admin).json()
    assert checked["status"]["state"] == "unreachable"


def test_logql_against_recorded_loki_responses() -> None:
    routes = {"/loki/api/v1/query_range": (200, recording("loki_query_range.json"))}
    with Recorded(routes, authorization="Basic b3BzOnMzY3JldA==") as loki:
        endpoint = Endpoint(url=loki.url)
        with pytest.raises(TelemetryError) as refused:
            HttpTelemetry().query_logs(endpoint, LogQuery(query='{app="checkout"}'))
        assert "credentials" in refused.value.message and not refused.value.retryable
        from faultmaven.core.telemetry import Credentials

        authed = Endpoint(
            url=loki.url,
            credentials=Credentials(kind="basic", username="ops", password="s3cret"),
        )
        entries = HttpTelemetry().query_logs(authed, LogQuery(query='{app="checkout"}', limit=2))
        sent = loki.requests[-1].query
        assert sent["query"] == ['{app="checkout"}'] and sent["limit"] == ["2"]
        assert len(sent["start"][0]) == 19  # Unix nanoseconds
    assert len(entries) == 2  # the limit holds across streams, newest first
    assert entries[0].timestamp > entries[1].timestamp
    assert entries[0].labels["app"] == "checkout" and "gateway timeout" in entries[0].line
    with Recorded({"/loki/api/v1/query_range": (200, recording("loki_metric_query.json"))}) as loki:
        with pytest.raises(TelemetryError) as metric:
            HttpTelemetry().query_logs(Endpoint(url=loki.url), LogQuery(query='rate({a="b"}[1m])'))
        assert "query_metrics" in metric.value.message
    with Recorded(
        {"/loki/api/v1/query_range": (400, {"message": "parse error at line 1"})}
    ) as loki:
        with pytest.raises(TelemetryError) as bad:
            HttpTelemetry().query_logs(Endpoint(url=loki.url), LogQuery(query="{"))
        assert "parse error" in bad.value.message and not bad.value.retryable


def test_tempo_trace_by_id_and_search_from_recorded_responses() -> None:
    trace_id = "2f3c4d5e6f708192a3b4c5d6e7f80911"
    routes = {
        f"/api/traces/{trace_id}": (200, recording("tempo_trace.json")),
        "/api/search": (200, recording("tempo_search.json")),
    }
    with Recorded(routes) as tempo:
        endpoint = Endpoint(url=tempo.url)
        (trace,) = HttpTelemetry().query_traces(endpoint, TraceQuery(trace_id=trace_id.upper()))
        found = HttpTelemetry().query_traces(
            endpoint, TraceQuery(query="{status=error}", min_duration_ms=1000, limit=5)
        )
        sent = tempo.requests[-1].query
        with pytest.raises(TelemetryError) as missing:
            HttpTelemetry().query_traces(endpoint, TraceQuery(trace_id="ab" * 16))
    assert trace.root_service == "frontend" and trace.root_name == "GET /checkout"
    assert len(trace.spans) == 4 and trace.duration_ms == pytest.approx(5123)
    # base64 ids in the recording are printed as hex, and the tree holds together.
    gateway = next(s for s in trace.spans if s.service == "payment-gateway")
    assert gateway.span_id == "c1b2c3d4e5f60718" and gateway.parent_span_id == "b1b2c3d4e5f60718"
    assert gateway.status == "error" and "upstream timeout" in gateway.status_message
    assert next(t.trace_id for t in found) == trace_id and found[0].duration_ms == 5123
    assert sent["q"] == ["{status=error}"] and sent["minDuration"] == ["1000ms"]
    assert missing.value.status == 404


@pytest.mark.skipif(not os.environ.get("LOKI_URL"), reason="set LOKI_URL to check a real Loki")
def test_contract_with_a_real_loki() -> None:
    entries = HttpTelemetry().query_logs(
        Endpoint(url=os.environ["LOKI_URL"]), LogQuery(query='{job=~".+"}', limit=5)
    )
    assert len(entries) <= 5


@pytest.mark.skipif(not os.environ.get("TEMPO_URL"), reason="set TEMPO_URL to check a real Tempo")
def test_contract_with_a_real_tempo() -> None:
    found = HttpTelemetry().query_traces(Endpoint(url=os.environ["TEMPO_URL"]), TraceQuery(limit=3))
    assert len(found) <= 3


def test_the_agent_queries_live_logs_redacted_and_saves_them_as_evidence(
    model_api: Factory, api: Api, messages_stub: MessagesStub, container: Container
) -> None:
    admin = api.admin(container.auth.accounts)
    owner = api.user()
    session_id = session_of(api, owner)
    case_id = api.call("POST", "/cases", owner, json={"title": "checkout 504s"}).json()["case_id"]
    routes = {
        "/ready": (200, "ready"),
        "/loki/api/v1/query_range": (200, recording("loki_query_range.json")),
    }
    with Recorded(routes) as loki:
        register(api, admin, name="shop", endpoints={"loki_url": loki.url})
        messages_stub.queue(
            ToolCall(
                name="query_logs",
                input={
                    "query": '{namespace="shop"}',
                    "range_minutes": 30,
                    "save_as_evidence": True,
                },
            ),
            ToolCall(
                name="give_answer",
                input={"response_type": "ANSWER", "content": "The gateway times out [S1]."},
            ),
        )
        response = ask(model_api(), owner, case_id, session_id, "Why do checkouts fail?")
    assert response.status_code == 200, response.text
    first, second = (r.body for r in messages_stub.requests[-2:])
    offered = [t["name"] for t in first["tools"]]
    assert "query_logs" in offered and "query_metrics" not in offered  # only Loki is registered
    results = [
        block["content"]
        for message in second["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    text = json.dumps(results)
    assert "payment gateway timeout" in text
    assert "ana.lima@example.com" not in text and "eyJhbGciOiJIUzI1NiJ9" not in text
    assert "Saved to the case as evidence" in text
    evidence = api.call("GET", f"/cases/{case_id}/evidence", owner).json()["items"]
    assert [e["filename"].startswith("query_logs-shop-") for e in evidence] == [True]
    with container.database.session() as session:
        calls = session.scalars(
            select(HistoryToolInteraction).where(HistoryToolInteraction.tool_name == "query_logs")
        ).all()
    assert len(calls) == 1 and calls[0].success
    assert "ana.lima@example.com" not in json.dumps(calls[0].result)
