"""Persistence of alert integrations and alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from faultmaven.db.queries import page_of
from faultmaven.db.tables import Alert, AlertIntegration


def add_integration(session: Session, integration: AlertIntegration) -> None:
    session.add(integration)
    session.flush()


def integration(session: Session, integration_id: str) -> AlertIntegration | None:
    return session.get(AlertIntegration, integration_id)


def integrations(session: Session, *, limit: int, offset: int) -> tuple[list[Any], int]:
    query = select(AlertIntegration).order_by(
        AlertIntegration.created_at, AlertIntegration.integration_id
    )
    return page_of(session, query, limit=limit, offset=offset)


def delete_integration(session: Session, row: AlertIntegration) -> None:
    session.delete(row)


def close(session: Session, row: Alert) -> None:
    """The alert stops collecting occurrences; written now, so a claim of its fingerprint
    in the same transaction does not meet it in the unique index."""
    row.is_open = False
    session.flush()


def claim(session: Session, values: dict[str, Any]) -> str | None:
    """Insert the fingerprint's open alert and return its id; None when another delivery
    holds it (the partial unique index decides, waiting for that one to commit)."""
    inserted: str | None = session.scalar(
        insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["integration_id", "fingerprint"], index_where=text("is_open")
        )
        .returning(Alert.alert_id)
    )
    return inserted


def open_alert(session: Session, integration_id: str, fingerprint: str) -> Alert | None:
    """The fingerprint's alert while its case is open, locked for this delivery."""
    return session.scalars(
        select(Alert)
        .where(
            Alert.integration_id == integration_id,
            Alert.fingerprint == fingerprint,
            Alert.is_open,
        )
        .with_for_update()
    ).first()


def of_case(session: Session, case_id: str) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.case_id == case_id)))


def page_for_cases(
    session: Session,
    *,
    case_ids: Select[Any] | None,
    state: str | None,
    severity: str | None,
    alertname: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """Alerts, newest first, of the cases `case_ids` selects (None: every alert, for an
    administrator)."""
    query = select(Alert)
    if case_ids is not None:
        query = query.where(Alert.case_id.in_(case_ids))
    if state:
        query = query.where(Alert.state == state)
    if severity:
        query = query.where(Alert.severity == severity)
    if alertname:
        query = query.where(Alert.alertname == alertname)
    query = query.order_by(Alert.last_seen_at.desc(), Alert.alert_id)
    return page_of(session, query, limit=limit, offset=offset)


def get(session: Session, alert_id: str) -> Alert | None:
    return session.get(Alert, alert_id)
