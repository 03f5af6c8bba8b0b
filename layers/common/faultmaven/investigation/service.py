"""Investigations: the durable state of a case's investigation and the user's consent.

Every case is in phase 0 (intake, the agent as consultant) until its user consents;
consent creates the investigation in phase 1 (blast radius) with the agent as lead
investigator, and moves the case to `investigating`. The phase rules are in `phases.py`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from faultmaven.cases.access import Access
from faultmaven.cases.lifecycle import can_transition
from faultmaven.cases.models import CaseStatus, StatusChange
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import ConflictError, NotFoundError, ValidationFailedError
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.db.tables import EvidenceRequest
from faultmaven.investigation import store
from faultmaven.investigation.models import (
    BLOCKED_STALL,
    OPEN_REQUEST_STATUSES,
    ConsentRequest,
    EvidenceRequestRecord,
    InvestigationOut,
    NewEvidenceRequest,
    PhaseRequirement,
    RequestStatus,
    RequestStatusChange,
    phase_name,
)
from faultmaven.investigation.phases import (
    EngagementMode,
    HypothesisFacts,
    Phase,
    PhaseFacts,
    Strategy,
    exit_criteria,
)
from faultmaven.preprocessing.redact import redact

# Which way a request may move when its user speaks (received and validated are the
# system's, when evidence arrives).
_USER_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.REQUESTED: frozenset({RequestStatus.ACKNOWLEDGED, RequestStatus.BLOCKED}),
    RequestStatus.ACKNOWLEDGED: frozenset({RequestStatus.BLOCKED}),
    RequestStatus.BLOCKED: frozenset({RequestStatus.ACKNOWLEDGED}),
    RequestStatus.RECEIVED: frozenset(),
    RequestStatus.VALIDATED: frozenset(),
}

if TYPE_CHECKING:
    from faultmaven.auth.principal import Principal
    from faultmaven.cases.models import CaseOut
    from faultmaven.cases.service import CaseService
    from faultmaven.core.ports import Database
    from faultmaven.db.tables import Investigation


class InvestigationService:
    def __init__(self, database: Database, cases: CaseService) -> None:
        self._db = database
        self._cases = cases

    def get(self, principal: Principal, case_id: str) -> InvestigationOut:
        case = self._cases.get(principal, case_id)
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            return self._out(principal, case, row)

    def forget_case(self, case_id: str) -> int:
        """A deleted case takes its investigation along."""
        with self._db.session() as session:
            return store.delete_of_case(session, case_id)

    def lifecycle_of(self, case_id: str) -> tuple[Phase, EngagementMode, Strategy, str]:
        """Phase, mode, strategy and status, for a caller that already authorized the
        case (the agent's turn): intake in consultant mode until consent."""
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            if row is None:
                return Phase.INTAKE, EngagementMode.CONSULTANT, Strategy.ACTIVE_INCIDENT, "intake"
            return (
                Phase(row.phase),
                EngagementMode(row.engagement_mode),
                Strategy(row.strategy),
                row.status,
            )

    def consent(self, principal: Principal, case_id: str, body: ConsentRequest) -> InvestigationOut:
        """Idempotent: consenting again returns the investigation as it is."""
        self._cases.require_access(principal, case_id, Access.WRITE, open_case=True)
        case = self._cases.get(principal, case_id)
        status = case.status
        if status is not CaseStatus.INVESTIGATING and not can_transition(
            status, CaseStatus.INVESTIGATING
        ):
            raise ConflictError(
                f"A {status.value} case cannot be investigated",
                error_code="INVESTIGATION_NOT_ALLOWED",
                details={"status": status.value},
            )
        now = utcnow()
        # Stored text carries no secret, whoever typed it.
        statement = redact(body.problem_statement or case.description or case.title).text
        with self._db.session() as session:
            store.create(
                session,
                {
                    "investigation_id": new_id("inv"),
                    "case_id": case_id,
                    "phase": int(Phase.BLAST_RADIUS),
                    "engagement_mode": EngagementMode.LEAD_INVESTIGATOR.value,
                    "strategy": body.strategy.value,
                    "status": "investigating",
                    "problem_statement": statement,
                    "state": {"iterations": [], "stall_count": 0, "anchored_on": None},
                    "consented_by": principal.user_id,
                    "consented_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if status is not CaseStatus.INVESTIGATING:
            case = self._cases.change_status(
                principal,
                case_id,
                StatusChange(status=CaseStatus.INVESTIGATING, reason="consent to investigate"),
            )
        with self._db.session() as session:
            return self._out(principal, case, store.of_case(session, case_id))

    # -- evidence requests -------------------------------------------------------------------
    def add_requests(
        self,
        principal: Principal,
        case_id: str,
        requests: list[NewEvidenceRequest],
        *,
        turn: int,
    ) -> list[EvidenceRequestRecord]:
        if not requests:
            return []
        self._cases.require_access(principal, case_id, Access.WRITE, open_case=True)
        now = utcnow()
        rows = [
            EvidenceRequest(
                request_id=new_id("er"),
                case_id=case_id,
                label=redact(r.label).text[:100],
                description=redact(r.description).text,
                category=r.category.value,
                priority=r.priority,
                guidance=r.guidance,
                for_hypothesis_id=r.for_hypothesis_id,
                status=RequestStatus.REQUESTED.value,
                status_reason="",
                created_at_turn=turn,
                created_at=now,
                updated_at=now,
            )
            for r in requests
        ]
        with self._db.session() as session:
            store.add_requests(session, rows)
            return [EvidenceRequestRecord.model_validate(r) for r in rows]

    def requests(
        self, principal: Principal, case_id: str, page: PageRequest, *, open_only: bool = False
    ) -> Page[EvidenceRequestRecord]:
        self._cases.require_access(principal, case_id, Access.READ)
        return self.requests_of(case_id, page, open_only=open_only)

    def requests_of(
        self, case_id: str, page: PageRequest, *, open_only: bool = False
    ) -> Page[EvidenceRequestRecord]:
        """For a caller that already authorized the case (the agent's turn)."""
        statuses = frozenset(s.value for s in OPEN_REQUEST_STATUSES) if open_only else None
        with self._db.session() as session:
            rows, total = store.requests_of_case(
                session, case_id, limit=page.page_size, offset=page.offset, statuses=statuses
            )
            return Page[EvidenceRequestRecord].of(
                [EvidenceRequestRecord.model_validate(r) for r in rows], total, page
            )

    def change_request_status(
        self, principal: Principal, case_id: str, request_id: str, body: RequestStatusChange
    ) -> EvidenceRequestRecord:
        """Acknowledge a request, or say it cannot be met (a reason is required). Three
        blocked requests stall an investigating case."""
        self._cases.require_access(principal, case_id, Access.WRITE, open_case=True)
        if body.status not in RequestStatusChange.allowed:
            raise _invalid("status", "a user may set acknowledged or blocked")
        if body.status is RequestStatus.BLOCKED and not body.reason.strip():
            raise _invalid("reason", "say why the evidence cannot be provided")
        with self._db.session() as session:
            row = (
                store.request(session, request_id, for_update=True)
                if looks_like_id(request_id, "er")
                else None
            )
            if row is None or row.case_id != case_id:
                raise NotFoundError(
                    "Evidence request not found", error_code="EVIDENCE_REQUEST_NOT_FOUND"
                )
            current = RequestStatus(row.status)
            if body.status is not current:
                if body.status not in _USER_MOVES[current]:
                    raise ConflictError(
                        f"An evidence request cannot move from {current.value} to "
                        f"{body.status.value}",
                        error_code="ILLEGAL_REQUEST_TRANSITION",
                        details={"from": current.value, "to": body.status.value},
                    )
                row.status = body.status.value
                row.status_reason = redact(body.reason).text
                row.updated_at = utcnow()
            record = EvidenceRequestRecord.model_validate(row)
            blocked = store.blocked_count(session, case_id)
        if record.status is RequestStatus.BLOCKED and blocked >= BLOCKED_STALL:
            case = self._cases.get(principal, case_id)
            if case.status is CaseStatus.INVESTIGATING:
                self._cases.change_status(
                    principal,
                    case_id,
                    StatusChange(
                        status=CaseStatus.STALLED,
                        reason=f"{blocked} evidence requests are blocked",
                    ),
                )
        return record

    def _out(
        self, principal: Principal, case: CaseOut, row: Investigation | None
    ) -> InvestigationOut:
        hypotheses = self._cases.hypotheses(
            principal, case.case_id, PageRequest(page=1, page_size=100)
        ).items
        phase = Phase(row.phase) if row is not None else Phase.INTAKE
        facts = PhaseFacts(
            consented=row is not None,
            problem_statement=row.problem_statement if row is not None else None,
            hypotheses=tuple(
                HypothesisFacts(h.hypothesis_id, h.status.value, h.category.value, h.likelihood)
                for h in hypotheses
            ),
        )
        state = dict(row.state) if row is not None else {}
        return InvestigationOut(
            investigation_id=row.investigation_id if row is not None else None,
            case_id=case.case_id,
            phase=int(phase),
            phase_name=phase_name(phase),
            engagement_mode=EngagementMode(row.engagement_mode)
            if row is not None
            else EngagementMode.CONSULTANT,
            strategy=Strategy(row.strategy) if row is not None else Strategy.ACTIVE_INCIDENT,
            status=row.status if row is not None else "intake",
            problem_statement=row.problem_statement if row is not None else "",
            consented_by=row.consented_by if row is not None else None,
            consented_at=row.consented_at if row is not None else None,
            ooda={
                "iterations": state.get("iterations", []),
                "stall_count": state.get("stall_count", 0),
                "anchored_on": state.get("anchored_on"),
            },
            hypotheses=dict(Counter(h.status.value for h in hypotheses)),
            requirements=PhaseRequirement(
                phase=int(phase),
                phase_name=phase_name(phase),
                missing=list(exit_criteria(phase, facts).missing),
            ),
            created_at=row.created_at if row is not None else None,
            updated_at=row.updated_at if row is not None else None,
        )


def _invalid(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError(
        f"Invalid {field}: {message}",
        details=[{"field": field, "message": message, "type": "value_error"}],
    )
