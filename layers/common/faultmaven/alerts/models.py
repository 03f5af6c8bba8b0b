"""Alertmanager's webhook payload (version 4, alerts grouped by its route) and our alerts
and integrations. The payload's field names are Alertmanager's own."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from faultmaven.cases.models import CasePriority
from faultmaven.core.models import Line, RequestModel, StrictBool

Label = Annotated[str, StringConstraints(max_length=1024)]
LabelSet = dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], Label]
MAX_ALERTS = 500  # Alertmanager's max_alerts per webhook message is 0 (all) by default


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class WebhookAlert(BaseModel):
    """One alert of the group. Unknown fields are ignored: Alertmanager adds fields over
    versions and a receiver must not refuse them."""

    model_config = ConfigDict(extra="ignore")

    status: AlertState
    labels: LabelSet = Field(default_factory=dict, max_length=100)
    annotations: LabelSet = Field(default_factory=dict, max_length=100)
    startsAt: datetime  # noqa: N815 - Alertmanager's names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: Annotated[str, StringConstraints(max_length=2048)] = ""  # noqa: N815
    fingerprint: Annotated[str, StringConstraints(pattern=r"^[\w.:-]{1,64}$")]

    @field_validator("labels")
    @classmethod
    def _named(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname"):
            raise ValueError("an alert needs an alertname label")
        return labels


class AlertmanagerWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Annotated[str, StringConstraints(pattern=r"^4$")]
    groupKey: Annotated[str, StringConstraints(max_length=4096)] = ""  # noqa: N815
    truncatedAlerts: int = Field(default=0, ge=0)  # noqa: N815
    status: AlertState
    receiver: Annotated[str, StringConstraints(max_length=512)] = ""
    groupLabels: LabelSet = Field(default_factory=dict)  # noqa: N815
    commonLabels: LabelSet = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: LabelSet = Field(default_factory=dict)  # noqa: N815
    externalURL: Annotated[str, StringConstraints(max_length=2048)] = ""  # noqa: N815
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=MAX_ALERTS)


class WebhookReceipt(BaseModel):
    """What a delivery did, per alert: a case opened, an occurrence added, resolved."""

    received: int
    opened: list[str] = Field(description="cases opened by this delivery")
    repeated: int = Field(description="alerts that added an occurrence to an open case")
    resolved: int
    investigations_started: int
    failed: list[dict[str, str]] = Field(
        default_factory=list,
        description="alerts that could not be taken (fingerprint, error_code); the others were",
    )


class Route(RequestModel):
    """Alerts whose labels hold every `match` pair go to this owner (and its team or
    organization, for who may read the case). First matching route wins."""

    match: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], Line] = Field(
        min_length=1, max_length=20
    )
    owner_id: str | None = Field(default=None, min_length=1, max_length=40)
    team_id: str | None = Field(default=None, min_length=1, max_length=40)
    org_id: str | None = Field(default=None, min_length=1, max_length=40)


class IntegrationCreate(RequestModel):
    name: Line = Field(min_length=1, max_length=200)
    owner_id: str = Field(min_length=1, max_length=40, description="owns cases no route claims")
    team_id: str | None = Field(default=None, min_length=1, max_length=40)
    org_id: str | None = Field(default=None, min_length=1, max_length=40)
    routes: list[Route] = Field(default_factory=list, max_length=50)
    investigate: StrictBool = Field(
        default=True,
        description="start the autonomous investigation of each case an alert opens "
        "(configuring the integration is the consent)",
    )


class IntegrationUpdate(RequestModel):
    name: Line | None = Field(default=None, min_length=1, max_length=200)
    routes: list[Route] | None = Field(default=None, max_length=50)
    investigate: StrictBool | None = None
    enabled: StrictBool | None = None


class IntegrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    integration_id: str
    name: str
    owner_id: str
    team_id: str | None
    org_id: str | None
    routes: list[dict[str, Any]]
    investigate: bool
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class IntegrationCreated(BaseModel):
    integration: IntegrationOut
    secret: str = Field(
        description="the webhook's bearer token: shown once, stored only as a digest"
    )
    webhook_path: str = "/api/v1/alerts/alertmanager"


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alert_id: str
    integration_id: str
    fingerprint: str
    cluster: str | None
    alertname: str
    severity: str
    state: AlertState
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str | None
    case_id: str | None
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime


SEVERITY_PRIORITY: dict[str, CasePriority] = {
    "critical": CasePriority.CRITICAL,
    "page": CasePriority.CRITICAL,
    "error": CasePriority.HIGH,
    "high": CasePriority.HIGH,
    "major": CasePriority.HIGH,
    "warning": CasePriority.MEDIUM,
    "medium": CasePriority.MEDIUM,
    "minor": CasePriority.LOW,
    "low": CasePriority.LOW,
    "info": CasePriority.LOW,
    "none": CasePriority.LOW,
}
