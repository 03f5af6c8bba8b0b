"""/api/v1/clusters: the telemetry clusters the agent may query. Administrators register
and change them; every signed-in user may list them (credentials are never returned).
HTTP shape only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.clusters.models import ClusterCreate, ClusterOut, ClusterUpdate
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClusterOut)
def create_cluster(
    body: ClusterCreate, principal: PrincipalDep, container: ContainerDep
) -> ClusterOut:
    """Administrators only. The endpoints are health-checked at once; an unreachable
    cluster is still registered, with that status."""
    return container.clusters.create(principal, body)


@router.get("", response_model=Page[ClusterOut])
def list_clusters(
    principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[ClusterOut]:
    return container.clusters.page(principal, page)


@router.get("/{cluster_id}", response_model=ClusterOut)
def get_cluster(cluster_id: str, principal: PrincipalDep, container: ContainerDep) -> ClusterOut:
    return container.clusters.get(principal, cluster_id)


@router.patch("/{cluster_id}", response_model=ClusterOut)
def update_cluster(
    cluster_id: str, body: ClusterUpdate, principal: PrincipalDep, container: ContainerDep
) -> ClusterOut:
    """Administrators only. `credentials` replaces the stored ones (null removes them)."""
    return container.clusters.update(principal, cluster_id, body)


@router.delete("/{cluster_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_cluster(cluster_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    container.clusters.delete(principal, cluster_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{cluster_id}/health", response_model=ClusterOut)
def check_cluster(cluster_id: str, principal: PrincipalDep, container: ContainerDep) -> ClusterOut:
    """Administrators only: probe every endpoint now and store what it answered."""
    return container.clusters.check(principal, cluster_id)
