"""/api/v1/alerts: Alertmanager's webhook (authenticated by an integration secret, never a
user token), the alerts users may read, and the integrations administrators manage. HTTP
shape only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from faultmaven.alerts.models import (
    AlertmanagerWebhook,
    AlertOut,
    AlertState,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
    IntegrationUpdate,
    WebhookReceipt,
)
from faultmaven.auth.dependencies import ContainerDep, PrincipalDep
from faultmaven.core.openapi import ERROR_RESPONSES
from faultmaven.core.pagination import Page, PageRequest, page_params

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=ERROR_RESPONSES)
Paging = Annotated[PageRequest, Depends(page_params)]
Name = Annotated[str | None, Query(min_length=1, max_length=200)]


def sending_integration(
    container: ContainerDep, authorization: Annotated[str, Header(max_length=512)] = ""
) -> IntegrationOut:
    """The integration whose secret the request carries: checked before the body is, so
    a caller without it learns nothing about what a valid payload looks like."""
    return container.alerts.authenticate(authorization)


@router.post("/alertmanager", response_model=WebhookReceipt)
def alertmanager_webhook(
    body: AlertmanagerWebhook,
    container: ContainerDep,
    integration: Annotated[IntegrationOut, Depends(sending_integration)],
) -> WebhookReceipt:
    """Alertmanager's webhook (`webhook_configs` with `http_config.authorization`
    credentials = the integration's secret). A firing alert opens a case and starts its
    investigation, or adds an occurrence to the open case of its fingerprint; a resolved
    one adds a note. Retried deliveries open no second case."""
    return container.alerts.receive(integration, body)


@router.get("", response_model=Page[AlertOut])
def list_alerts(
    principal: PrincipalDep,
    container: ContainerDep,
    page: Paging,
    state: AlertState | None = None,
    severity: Name = None,
    alertname: Name = None,
) -> Page[AlertOut]:
    return container.alerts.list(
        principal, page, state=state, severity=severity, alertname=alertname
    )


@router.post(
    "/integrations", status_code=status.HTTP_201_CREATED, response_model=IntegrationCreated
)
def create_integration(
    body: IntegrationCreate, principal: PrincipalDep, container: ContainerDep
) -> IntegrationCreated:
    """Administrators only. The secret is in this reply and nowhere else."""
    return container.alerts.create_integration(principal, body)


@router.get("/integrations", response_model=Page[IntegrationOut])
def list_integrations(
    principal: PrincipalDep, container: ContainerDep, page: Paging
) -> Page[IntegrationOut]:
    return container.alerts.integrations(principal, page)


@router.patch("/integrations/{integration_id}", response_model=IntegrationOut)
def update_integration(
    integration_id: str, body: IntegrationUpdate, principal: PrincipalDep, container: ContainerDep
) -> IntegrationOut:
    return container.alerts.update_integration(principal, integration_id, body)


@router.delete("/integrations/{integration_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_integration(
    integration_id: str, principal: PrincipalDep, container: ContainerDep
) -> Response:
    container.alerts.delete_integration(principal, integration_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: str, principal: PrincipalDep, container: ContainerDep) -> AlertOut:
    return container.alerts.get(principal, alert_id)
