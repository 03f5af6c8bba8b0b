"""The cluster registry (administrators write it, every user reads it without its
credentials) and live queries against a cluster's telemetry for the agent.

Credentials are sealed with the cluster id as context before they reach the database
and opened only for the moment of a query; no response, log line or history record
carries them. A query names a cluster, or takes the default one, or the only one that
has the capability; an unknown name is an error listing the names the agent may use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from faultmaven.auth.principal import Principal, require_admin
from faultmaven.clusters import store
from faultmaven.clusters.models import (
    ClusterCreate,
    ClusterCredentials,
    ClusterEndpoints,
    ClusterOut,
    ClusterState,
    ClusterStatus,
    ClusterUpdate,
)
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError, ValidationFailedError
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.telemetry import (
    ActiveAlert,
    AlertQuery,
    Backend,
    BackendHealth,
    Credentials,
    Endpoint,
    LogEntry,
    LogQuery,
    MetricQuery,
    MetricResult,
    Trace,
    TraceQuery,
)

if TYPE_CHECKING:
    from faultmaven.core.ports import Database, Sealer, Telemetry
    from faultmaven.db.tables import Cluster


class ClusterService:
    def __init__(
        self, database: Database, *, sealer: Callable[[], Sealer], telemetry: Telemetry
    ) -> None:
        self._db = database
        self._sealer = sealer
        self._telemetry = telemetry

    # -- the registry ----------------------------------------------------------------------
    def create(self, principal: Principal, body: ClusterCreate) -> ClusterOut:
        require_admin(principal)
        cluster_id = new_id("cls")
        now = utcnow()
        values: dict[str, Any] = {
            "cluster_id": cluster_id,
            "name": body.name,
            "description": body.description,
            "environment": body.environment,
            "endpoints": body.endpoints.model_dump(),
            "auth_kind": body.credentials.kind if body.credentials else "none",
            "credentials_sealed": self._seal(cluster_id, body.credentials),
            "verify_tls": body.verify_tls,
            "is_default": body.is_default,
            "enabled": True,
            "status": ClusterState.UNKNOWN.value,
            "status_components": {},
            "created_by": principal.user_id,
            "created_at": now,
            "updated_at": now,
        }
        with self._db.session() as session:
            if not store.add(session, values):
                raise ConflictError(
                    f"A cluster named {body.name!r} exists", error_code="CLUSTER_EXISTS"
                )
            if body.is_default:
                store.clear_default(session, keep=cluster_id)
        return self.check(principal, cluster_id)

    def page(self, principal: Principal, page: PageRequest) -> Page[ClusterOut]:
        with self._db.session() as session:
            rows, total = store.page(session, limit=page.page_size, offset=page.offset)
            return Page[ClusterOut].of([_out(r) for r in rows], total, page)

    def get(self, principal: Principal, cluster_id: str) -> ClusterOut:
        with self._db.session() as session:
            return _out(self._row(session, cluster_id))

    def update(self, principal: Principal, cluster_id: str, body: ClusterUpdate) -> ClusterOut:
        require_admin(principal)
        with self._db.session() as session:
            row = self._row(session, cluster_id)
            fields = body.model_fields_set
            for name in ("description", "environment", "verify_tls", "is_default", "enabled"):
                if name in fields:
                    setattr(row, name, getattr(body, name))
            if "endpoints" in fields and body.endpoints is not None:
                if not body.endpoints.capabilities():
                    raise ValidationFailedError("A cluster needs at least one endpoint URL")
                row.endpoints = body.endpoints.model_dump()
            if "credentials" in fields:
                row.credentials_sealed = self._seal(row.cluster_id, body.credentials)
                row.auth_kind = body.credentials.kind if body.credentials else "none"
            if body.is_default:
                store.clear_default(session, keep=row.cluster_id)
            row.updated_at = utcnow()
            reachability_changed = bool(fields & {"endpoints", "credentials", "verify_tls"})
        if reachability_changed:
            return self.check(principal, cluster_id)
        return self.get(principal, cluster_id)

    def delete(self, principal: Principal, cluster_id: str) -> None:
        require_admin(principal)
        with self._db.session() as session:
            store.delete(session, self._row(session, cluster_id))

    def check(self, principal: Principal, cluster_id: str) -> ClusterOut:
        """Probe every configured endpoint (in parallel: one slow backend must not hold
        the others) and keep what they answered as the cluster's status."""
        require_admin(principal)
        with self._db.session() as session:
            row = self._row(session, cluster_id)
            endpoints = _endpoints(row)
            credentials = self._credentials(row)
            verify = row.verify_tls
        backends = endpoints.capabilities()

        def probe(backend: Backend) -> BackendHealth:
            url = endpoints.url(backend) or ""
            return self._telemetry.health(
                backend, Endpoint(url=url, credentials=credentials, verify_tls=verify)
            )

        with ThreadPoolExecutor(max_workers=max(1, len(backends))) as pool:
            found = dict(zip(backends, pool.map(probe, backends), strict=True))
        healthy = sum(h.ok for h in found.values())
        state = (
            ClusterState.HEALTHY
            if healthy == len(found)
            else ClusterState.DEGRADED
            if healthy
            else ClusterState.UNREACHABLE
        )
        with self._db.session() as session:
            row = self._row(session, cluster_id)
            row.status = state.value
            row.status_components = {b.value: h.model_dump() for b, h in found.items()}
            row.checked_at = utcnow()
            return _out(row)

    # -- live queries ------------------------------------------------------------------------
    def capabilities(self) -> frozenset[Backend]:
        """What the enabled clusters can answer between them (which tools to offer)."""
        with self._db.session() as session:
            return frozenset(
                b for r in store.enabled(session) for b in _endpoints(r).capabilities()
            )

    def query_metrics(self, cluster: str | None, query: MetricQuery) -> tuple[str, MetricResult]:
        name, endpoint = self._endpoint(cluster, Backend.PROMETHEUS, query.timeout_seconds + 5)
        return name, self._telemetry.query_metrics(endpoint, query)

    def query_logs(self, cluster: str | None, query: LogQuery) -> tuple[str, list[LogEntry]]:
        name, endpoint = self._endpoint(cluster, Backend.LOKI)
        return name, self._telemetry.query_logs(endpoint, query)

    def query_traces(self, cluster: str | None, query: TraceQuery) -> tuple[str, list[Trace]]:
        name, endpoint = self._endpoint(cluster, Backend.TEMPO)
        return name, self._telemetry.query_traces(endpoint, query)

    def get_alerts(self, cluster: str | None, query: AlertQuery) -> tuple[str, list[ActiveAlert]]:
        name, endpoint = self._endpoint(cluster, Backend.ALERTMANAGER)
        return name, self._telemetry.get_alerts(endpoint, query)

    def _endpoint(
        self, cluster: str | None, backend: Backend, timeout: float = 30.0
    ) -> tuple[str, Endpoint]:
        with self._db.session() as session:
            candidates = [r for r in store.enabled(session) if _endpoints(r).url(backend)]
            names = ", ".join(r.name for r in candidates) or "none"
            if cluster:
                row = next((r for r in candidates if r.name == cluster), None)
                if row is None:
                    raise NotFoundError(
                        f"No enabled cluster {cluster!r} has {backend.value}; clusters that "
                        f"do: {names}",
                        error_code="CLUSTER_NOT_FOUND",
                    )
            elif len(candidates) == 1:
                row = candidates[0]
            else:
                row = next((r for r in candidates if r.is_default), None)
                if row is None:
                    raise ValidationFailedError(
                        f"Name the cluster to query; clusters with {backend.value}: {names}",
                        error_code="CLUSTER_REQUIRED" if candidates else "NO_CLUSTER",
                    )
            url = _endpoints(row).url(backend) or ""
            return row.name, Endpoint(
                url=url,
                credentials=self._credentials(row),
                verify_tls=row.verify_tls,
                timeout_seconds=timeout,
            )

    # -- sealing --------------------------------------------------------------------------
    def _seal(self, cluster_id: str, credentials: ClusterCredentials | None) -> bytes | None:
        if credentials is None:
            return None
        plain = {
            "kind": credentials.kind,
            "token": credentials.token.get_secret_value() if credentials.token else None,
            "username": credentials.username,
            "password": credentials.password.get_secret_value() if credentials.password else None,
        }
        return self._sealer().seal(json.dumps(plain).encode(), context=cluster_id)

    def _credentials(self, row: Cluster) -> Credentials:
        if row.credentials_sealed is None:
            return Credentials()
        try:
            opened = self._sealer().open(row.credentials_sealed, context=row.cluster_id)
        except ValueError as exc:  # another key (a new local key file, another KMS key)
            raise ConflictError(
                f"The stored credentials of cluster {row.name!r} no longer open with this "
                "deployment's key; an administrator must set them again",
                error_code="CLUSTER_CREDENTIALS_UNREADABLE",
            ) from exc
        return Credentials.model_validate(json.loads(opened))

    @staticmethod
    def _row(session: Any, cluster_id: str) -> Cluster:
        row = store.get(session, cluster_id) if looks_like_id(cluster_id, "cls") else None
        if row is None:
            raise NotFoundError("Cluster not found", error_code="CLUSTER_NOT_FOUND")
        return row


def _endpoints(row: Cluster) -> ClusterEndpoints:
    return ClusterEndpoints.model_validate(row.endpoints)


def _out(row: Cluster) -> ClusterOut:
    endpoints = _endpoints(row)
    return ClusterOut(
        cluster_id=row.cluster_id,
        name=row.name,
        description=row.description,
        environment=row.environment,
        endpoints=endpoints.model_dump(),
        capabilities=endpoints.capabilities(),
        auth=row.auth_kind,
        verify_tls=row.verify_tls,
        is_default=row.is_default,
        enabled=row.enabled,
        status=ClusterStatus(
            state=ClusterState(row.status),
            checked_at=row.checked_at,
            components={
                Backend(k): BackendHealth.model_validate(v)
                for k, v in (row.status_components or {}).items()
            },
        ),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
