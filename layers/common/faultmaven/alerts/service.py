"""Alerts open investigations.

A delivery of Alertmanager's webhook is authenticated by its integration's bearer secret
(never a user token). Each firing alert whose fingerprint has no open case opens one —
owned as the integration's routes say, its priority from the severity, the alert as its
first evidence — and starts the autonomous investigation (configuring the integration is
the consent). A repeated delivery or a re-firing adds an occurrence to the open case; a
resolved alert adds a note, and when every alert of a case is resolved the note suggests
closing it. Alert text is redacted before it is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from faultmaven.alerts import store
from faultmaven.alerts.models import (
    SEVERITY_PRIORITY,
    AlertmanagerWebhook,
    AlertOut,
    AlertState,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationOut,
    IntegrationUpdate,
    WebhookAlert,
    WebhookReceipt,
)
from faultmaven.auth.principal import Principal, PrincipalOf, require_admin
from faultmaven.cases import queries as case_queries
from faultmaven.cases.models import (
    CaseCreate,
    CasePriority,
    CaseStatus,
    MessageCreate,
    MessageType,
    Visibility,
)
from faultmaven.cases.service import CaseService
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    AppError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.logging import logger
from faultmaven.core.models import replace_hidden_characters
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.core.ports import Database
from faultmaven.db.tables import Alert, AlertIntegration
from faultmaven.evidence.models import TextEvidenceRequest, safe_filename
from faultmaven.evidence.service import EvidenceService
from faultmaven.investigation.models import ConsentRequest
from faultmaven.investigation.service import InvestigationService
from faultmaven.preprocessing.redact import redact

SECRET_PREFIX = "fma"  # noqa: S105 - the prefix of generated secrets, not one
CLOSED = frozenset({CaseStatus.ARCHIVED})
# An alert whose case has not appeared this long after its claim lost its opening (the
# request died between the claim and the case): the next firing opens the case again.
OPENING = timedelta(minutes=2)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _clean(values: dict[str, str]) -> dict[str, str]:
    """Label and annotation values as stored: secrets and PII redacted, and no NUL
    (PostgreSQL's text and JSON cannot hold one)."""
    return {
        key.replace("\x00", ""): redact(value.replace("\x00", "")).text
        for key, value in values.items()
    }


def _shown(text: str, *, multiline: bool = False) -> str:
    """Alert text as a case's title or description: no hidden or control characters (a
    sender's bytes must not make the case a 500), one line for a title."""
    kept = "".join(c for c in text if c.isprintable() or (multiline and c == "\n") or c == " ")
    return replace_hidden_characters(kept, "")


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9._:/-]+", "-", text.lower()).strip("-")[:64] or "alert"


class AlertService:
    def __init__(
        self,
        database: Database,
        *,
        cases: CaseService,
        evidence: EvidenceService,
        investigation: InvestigationService,
        principal_of: PrincipalOf,
    ) -> None:
        self._db = database
        self._cases = cases
        self._evidence = evidence
        self._investigation = investigation
        self._principal_of = principal_of

    # -- integrations (administrators) ---------------------------------------------------
    def create_integration(
        self, principal: Principal, body: IntegrationCreate
    ) -> IntegrationCreated:
        require_admin(principal)
        integration_id = new_id("ain")
        secret = f"{SECRET_PREFIX}_{integration_id.split('_', 1)[1]}_{secrets.token_urlsafe(32)}"
        now = utcnow()
        row = AlertIntegration(
            integration_id=integration_id,
            name=body.name,
            secret_hash=_digest(secret),
            owner_id=body.owner_id,
            team_id=body.team_id,
            org_id=body.org_id,
            routes=[r.model_dump(exclude_none=True) for r in body.routes],
            investigate=body.investigate,
            enabled=True,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        if self._principal_of(body.owner_id, acting_as=integration_id) is None:
            raise NotFoundError("No active user has that id", error_code="USER_NOT_FOUND")
        with self._db.session() as session:
            store.add_integration(session, row)
            out = IntegrationOut.model_validate(row)
        return IntegrationCreated(integration=out, secret=secret)

    def integrations(self, principal: Principal, page: PageRequest) -> Page[IntegrationOut]:
        require_admin(principal)
        with self._db.session() as session:
            rows, total = store.integrations(session, limit=page.page_size, offset=page.offset)
            return Page[IntegrationOut].of(
                [IntegrationOut.model_validate(r) for r in rows], total, page
            )

    def update_integration(
        self, principal: Principal, integration_id: str, body: IntegrationUpdate
    ) -> IntegrationOut:
        require_admin(principal)
        with self._db.session() as session:
            row = self._integration(session, integration_id)
            changes = body.model_dump(exclude_none=True)
            if "routes" in changes:
                changes["routes"] = [r.model_dump(exclude_none=True) for r in body.routes or []]
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            return IntegrationOut.model_validate(row)

    def delete_integration(self, principal: Principal, integration_id: str) -> None:
        require_admin(principal)
        with self._db.session() as session:
            store.delete_integration(session, self._integration(session, integration_id))

    @staticmethod
    def _integration(session: Any, integration_id: str) -> AlertIntegration:
        row = (
            store.integration(session, integration_id)
            if looks_like_id(integration_id, "ain")
            else None
        )
        if row is None:
            raise NotFoundError("Integration not found", error_code="INTEGRATION_NOT_FOUND")
        return row

    # -- the webhook ----------------------------------------------------------------------
    def authenticate(self, authorization: str) -> IntegrationOut:
        """The integration a bearer secret belongs to; every failure is the same 401."""
        refused = UnauthorizedError(
            "A valid integration secret is required", error_code="INVALID_INTEGRATION_SECRET"
        )
        scheme, _, secret = authorization.partition(" ")
        parts = secret.strip().split("_")
        if scheme.lower() != "bearer" or len(parts) < 3 or parts[0] != SECRET_PREFIX:
            raise refused
        integration_id = f"ain_{parts[1]}"
        with self._db.session() as session:
            row = (
                store.integration(session, integration_id)
                if looks_like_id(integration_id, "ain")
                else None
            )
            expected = row.secret_hash if row is not None else _digest("")
            if row is None or not row.enabled:
                hmac.compare_digest(expected, _digest(secret.strip()))  # same work either way
                raise refused
            if not hmac.compare_digest(expected, _digest(secret.strip())):
                raise refused
            return IntegrationOut.model_validate(row)

    def receive(self, integration: IntegrationOut, payload: AlertmanagerWebhook) -> WebhookReceipt:
        opened: list[str] = []
        repeated = resolved = started = 0
        touched: set[str] = set()
        failed: list[dict[str, str]] = []
        for alert in payload.alerts:
            try:
                if alert.status is AlertState.FIRING:
                    case_id, is_new = self._fire(integration, alert)
                    if is_new and case_id is not None:
                        opened.append(case_id)
                        started += self._investigate(integration, case_id)
                    else:
                        repeated += 1
                elif self._resolve(integration, alert, touched):
                    resolved += 1
            except ServiceUnavailableError:
                raise  # a 503: Alertmanager retries the whole group, and repeats are no-ops
            except AppError as exc:  # this alert cannot be taken; the others still are
                logger.warning(
                    "alert refused",
                    extra={"fingerprint": alert.fingerprint, "error_code": exc.error_code},
                )
                failed.append({"fingerprint": alert.fingerprint, "error_code": exc.error_code})
        for case_id in touched:
            self._suggest_closing(integration, case_id)
        return WebhookReceipt(
            received=len(payload.alerts),
            opened=opened,
            repeated=repeated,
            resolved=resolved,
            investigations_started=started,
            failed=failed,
        )

    def _owner(
        self, integration: IntegrationOut, labels: dict[str, str]
    ) -> tuple[str, str | None, str | None]:
        for route in integration.routes:
            match = route.get("match") or {}
            if all(labels.get(k) == v for k, v in match.items()):
                return (
                    str(route.get("owner_id") or integration.owner_id),
                    route.get("team_id") or integration.team_id,
                    route.get("org_id") or integration.org_id,
                )
        return integration.owner_id, integration.team_id, integration.org_id

    def _acting(self, integration: IntegrationOut, user_id: str) -> Principal:
        principal = self._principal_of(user_id, acting_as=integration.integration_id)
        if principal is None:
            raise NotFoundError(
                "The integration's case owner is no longer active",
                error_code="ALERT_OWNER_INACTIVE",
            )
        return principal

    def _fire(self, integration: IntegrationOut, alert: WebhookAlert) -> tuple[str | None, bool]:
        """The open case of the alert's fingerprint (an occurrence more), or a new one.
        The fingerprint's open alert is claimed by inserting it (a partial unique index),
        so of deliveries that arrive at once (Alertmanager's retries, several replicas of
        it sending one group) exactly one opens the case; the others count as
        occurrences, also while the case is still being opened."""
        now = utcnow()
        labels = _clean(alert.labels)
        annotations = _clean(alert.annotations)
        with self._db.session() as session:
            row = store.open_alert(session, integration.integration_id, alert.fingerprint)
            if row is not None and self._still_open(row, now):
                row.occurrences += 1
                row.last_seen_at = now
                row.state = AlertState.FIRING.value
                row.ends_at = None
                return row.case_id, False
            if row is not None:  # its case was closed, or its opening failed: a new incident
                store.close(session, row)
            alert_id = store.claim(
                session,
                {
                    "alert_id": new_id("alr"),
                    "integration_id": integration.integration_id,
                    "fingerprint": alert.fingerprint,
                    "cluster": labels.get("cluster") or labels.get("k8s_cluster"),
                    "alertname": labels["alertname"][:200],
                    "severity": (labels.get("severity") or "none")[:32],
                    "state": AlertState.FIRING.value,
                    "labels": labels,
                    "annotations": annotations,
                    "starts_at": alert.startsAt,
                    "generator_url": _shown(redact(alert.generatorURL).text) or None,
                    "first_seen_at": now,
                    "last_seen_at": now,
                },
            )
            if alert_id is None:  # a delivery at the same moment claimed it first
                held = store.open_alert(session, integration.integration_id, alert.fingerprint)
                if held is not None:
                    held.occurrences += 1
                    held.last_seen_at = now
                    return held.case_id, False
                raise ServiceUnavailableError(
                    "The alert is being recorded by another delivery; retry",
                    headers={"Retry-After": "1"},
                )
        try:
            case_id = self._open_case(integration, alert, labels, annotations)
        except BaseException:
            # Free the fingerprint, so Alertmanager's retry (or the next firing) opens
            # the case instead of counting an occurrence of one that never came.
            with self._db.session() as session:
                failed = store.get(session, alert_id)
                if failed is not None:
                    store.close(session, failed)
            raise
        with self._db.session() as session:
            opened = store.get(session, alert_id)
            if opened is not None:
                opened.case_id = case_id
        return case_id, True

    def _still_open(self, row: Alert, now: datetime) -> bool:
        if row.case_id is None:  # being opened right now, unless that opening failed
            return now - row.first_seen_at < OPENING
        return self._open_owner(row.case_id) is not None

    def _open_owner(self, case_id: str) -> str | None:
        """The owner of the case while it is live and open; None once it is closed or
        deleted (alerts then no longer add to it)."""
        with self._db.session() as session:
            found = case_queries.status_and_owner(session, case_id)
        return found[1] if found is not None and found[0] not in CLOSED else None

    def _open_case(
        self,
        integration: IntegrationOut,
        alert: WebhookAlert,
        labels: dict[str, str],
        annotations: dict[str, str],
    ) -> str:
        owner_id, team_id, org_id = self._owner(integration, alert.labels)
        principal = self._acting(integration, owner_id)
        severity = labels.get("severity", "none").lower()
        summary = annotations.get("summary") or annotations.get("description") or ""
        title = f"[{severity}] {labels['alertname']}" + (f": {summary}" if summary else "")
        description = "\n".join(
            [
                annotations.get("description", ""),
                "",
                "Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())),
                f"Firing since {alert.startsAt.isoformat()}",
            ]
        ).strip()
        visibility = (
            Visibility.TEAM
            if team_id
            else Visibility.ORGANIZATION
            if org_id
            else Visibility.PRIVATE
        )
        case = self._cases.create(
            principal,
            CaseCreate(
                title=" ".join(_shown(title).split())[:200] or "Alert",
                description=_shown(description, multiline=True)[:10_000],
                priority=SEVERITY_PRIORITY.get(severity, CasePriority.MEDIUM),
                tags=["alert", _tag(f"alertname:{labels['alertname'][:50]}")],
                visibility=visibility,
                team_id=team_id,
                org_id=org_id if not team_id else None,
            ),
        )
        document = {
            "source": "alertmanager",
            "integration": integration.name,
            "status": alert.status.value,
            "labels": labels,
            "annotations": annotations,
            "startsAt": alert.startsAt.isoformat(),
            "generatorURL": _shown(redact(alert.generatorURL).text),
            "fingerprint": alert.fingerprint,
        }
        self._evidence.submit_text(
            principal,
            case.case_id,
            TextEvidenceRequest(
                content=json.dumps(document, indent=2),
                filename=safe_filename(_shown(f"alert-{labels['alertname'][:80]}.json")),
            ),
        )
        return case.case_id

    def _investigate(self, integration: IntegrationOut, case_id: str) -> int:
        if not integration.investigate:
            return 0
        owner = self._open_owner(case_id)
        if owner is None:
            raise NotFoundError("Case not found", error_code="CASE_NOT_FOUND")
        principal = self._acting(integration, owner)
        try:
            self._investigation.consent(principal, case_id, ConsentRequest())
            self._investigation.start_run(principal, case_id)
        except Exception as exc:  # the case stands; the run can be started by hand
            logger.error(
                "alert investigation not started",
                extra={"case_id": case_id, "error": type(exc).__name__},
            )
            return 0
        return 1

    def _resolve(self, integration: IntegrationOut, alert: WebhookAlert, touched: set[str]) -> bool:
        with self._db.session() as session:
            row = store.open_alert(session, integration.integration_id, alert.fingerprint)
            if row is None or row.state == AlertState.RESOLVED.value:
                return False
            row.state = AlertState.RESOLVED.value
            row.ends_at = alert.endsAt
            row.last_seen_at = utcnow()
            case_id = row.case_id
        owner_id = self._open_owner(case_id) if case_id is not None else None
        if case_id is None or owner_id is None:
            return True
        touched.add(case_id)
        owner = self._acting(integration, owner_id)
        self._cases.add_message(
            owner,
            case_id,
            MessageCreate(
                content=f"Alert {_shown(_clean(alert.labels).get('alertname', ''))} resolved"
                + (f" at {alert.endsAt.isoformat()}" if alert.endsAt else ""),
                type=MessageType.CASE_NOTE,
                metadata={"source": "alertmanager", "fingerprint": alert.fingerprint},
            ),
        )
        return True

    def _suggest_closing(self, integration: IntegrationOut, case_id: str) -> None:
        with self._db.session() as session:
            states = {a.state for a in store.of_case(session, case_id)}
        owner_id = self._open_owner(case_id)
        if states != {AlertState.RESOLVED.value} or owner_id is None:
            return
        owner = self._acting(integration, owner_id)
        self._cases.add_message(
            owner,
            case_id,
            MessageCreate(
                content="Every alert of this case is resolved: consider closing the case "
                "once the fix is confirmed.",
                type=MessageType.CASE_NOTE,
                metadata={"source": "alertmanager", "suggestion": "close"},
            ),
        )

    # -- reading -----------------------------------------------------------------------
    def list(
        self,
        principal: Principal,
        page: PageRequest,
        *,
        state: AlertState | None = None,
        severity: str | None = None,
        alertname: str | None = None,
    ) -> Page[AlertOut]:
        """Alerts of the cases the caller may read (an administrator: every alert)."""
        with self._db.session() as session:
            visible = (
                None
                if principal.is_admin
                else case_queries.visible_case_ids(
                    session, principal.user_id, sees_all=principal.is_analyst
                )
            )
            rows, total = store.page_for_cases(
                session,
                case_ids=visible,
                state=state.value if state else None,
                severity=severity,
                alertname=alertname,
                limit=page.page_size,
                offset=page.offset,
            )
            return Page[AlertOut].of([AlertOut.model_validate(r) for r in rows], total, page)

    def get(self, principal: Principal, alert_id: str) -> AlertOut:
        with self._db.session() as session:
            row = store.get(session, alert_id) if looks_like_id(alert_id, "alr") else None
        if row is None or (not principal.is_admin and not self._readable(principal, row)):
            raise NotFoundError("Alert not found", error_code="ALERT_NOT_FOUND")
        return AlertOut.model_validate(row)

    def _readable(self, principal: Principal, row: Alert) -> bool:
        if row.case_id is None:
            return False
        try:
            self._cases.get(principal, row.case_id)
        except NotFoundError:
            return False
        return True
