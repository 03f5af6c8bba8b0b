"""Investigations: the durable state of a case's investigation and the user's consent.

Every case is in phase 0 (intake, the agent as consultant) until its user consents;
consent creates the investigation in phase 1 (blast radius) with the agent as lead
investigator, and moves the case to `investigating`. The phase rules are in `phases.py`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from faultmaven.cases.access import Access
from faultmaven.cases.lifecycle import can_transition
from faultmaven.cases.models import CaseStatus, HypothesisOut, HypothesisUpdate, StatusChange
from faultmaven.core.clock import utcnow
from faultmaven.core.errors import (
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from faultmaven.core.ids import looks_like_id, new_id
from faultmaven.core.logging import logger
from faultmaven.core.pagination import Page, PageRequest
from faultmaven.db.tables import EvidenceRequest
from faultmaven.investigation import store
from faultmaven.investigation.classify import EvidenceClassification, OpenRequest
from faultmaven.investigation.models import (
    BLOCKED_STALL,
    OPEN_REQUEST_STATUSES,
    ConsentRequest,
    EvidenceRequestRecord,
    InvestigationOut,
    IterationOutcome,
    IterationReport,
    NewEvidenceRequest,
    PhaseRequirement,
    RequestStatus,
    RequestStatusChange,
    RunOut,
    RunPayload,
    RunStatus,
    phase_name,
)
from faultmaven.investigation.phases import (
    OODA_STEPS,
    PHASE_GOALS,
    EngagementMode,
    HypothesisFacts,
    Iteration,
    Outcome,
    Phase,
    PhaseFacts,
    Strategy,
    decay_due,
    exit_criteria,
    momentum,
    next_transition,
)
from faultmaven.preprocessing.redact import redact

MAX_ITERATIONS = 50  # kept in the state; older ones are in the history
MAX_RUNS = 20
INVESTIGATION_JOB = "investigation"
# The error name a blocked request fails the waiting task with (the ASL catches it).
EVIDENCE_BLOCKED = "EvidenceBlocked"

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
    from collections.abc import Callable

    from faultmaven.auth.principal import Principal
    from faultmaven.cases.models import CaseOut
    from faultmaven.cases.service import CaseService
    from faultmaven.core.ports import Database, Workflow
    from faultmaven.db.tables import Investigation
    from faultmaven.jobs.service import JobService


class InvestigationService:
    def __init__(
        self,
        database: Database,
        cases: CaseService,
        *,
        jobs: JobService | None = None,
        workflow: Callable[[], Workflow] | None = None,
    ) -> None:
        self._db = database
        self._cases = cases
        self._jobs = jobs
        self._workflow = workflow

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

    def briefing(self, principal: Principal, case_id: str) -> str | None:
        """The lead investigator's orders for this turn, as a prompt section: the phase,
        its goal and OODA steps, the strategy, what the phase still needs, the working
        conclusion so far and any anchoring warning. None in consultant mode."""
        state = self.get(principal, case_id)
        if state.investigation_id is None or state.status == "done":
            return None
        phase = Phase(state.phase)
        lines = [
            f"You lead this investigation. Phase {int(phase)} ({phase_name(phase)}), "
            f"strategy {state.strategy.value}"
            + (" (mitigation first)." if state.strategy is Strategy.ACTIVE_INCIDENT else "."),
            f"Goal: {PHASE_GOALS[phase]}",
            "OODA steps this phase: " + ", ".join(step.value for step in OODA_STEPS[phase]),
            "Problem: " + state.problem_statement,
        ]
        if state.requirements.missing:
            lines.append("Still needed to end the phase: " + "; ".join(state.requirements.missing))
        if state.anomaly_frame:
            lines.append(
                "Anomaly frame so far: "
                + "; ".join(f"{k}: {v}" for k, v in state.anomaly_frame.items() if v)
            )
        if state.timeline:
            lines.append(
                "Timeline so far: " + "; ".join(f"{k}: {v}" for k, v in state.timeline.items() if v)
            )
        if state.working_conclusion:
            lines.append(f"Working conclusion so far: {state.working_conclusion.get('statement')}")
        anchored = state.ooda.get("anchored_on")
        if anchored:
            lines.append(
                f"Warning: several iterations worked {anchored} without gaining confidence. "
                "Weigh the alternatives this turn."
            )
        if state.status == "stalled":
            lines.append(
                "The investigation is stalled: suggest escalating or what would unblock it."
            )
        lines.append(
            "Answer with working_conclusion (statement, confidence, what would change it, next "
            "steps) and the phase's findings (anomaly_frame, timeline, focus_hypothesis_id, "
            "fix_verified) as they apply."
        )
        return "<investigation>\n" + "\n".join(lines) + "\n</investigation>"

    # -- iterations ----------------------------------------------------------------------------
    def record_iteration(
        self,
        principal: Principal,
        case_id: str,
        report: IterationReport,
        *,
        hypotheses_before: dict[str, float],
        hypotheses_after: list[HypothesisOut],
        solution_statuses: list[str],
    ) -> IterationOutcome | None:
        """One OODA iteration of a lead-investigator turn: the phase's findings merged
        into the state, progress judged, stall and anchoring assessed, decay applied to
        the hypotheses nobody worked on, and the phase moved when its criteria say so.
        None when the case has no investigation (consultant mode)."""
        with self._db.session() as session:
            row = store.of_case(session, case_id, for_update=True)
            if row is None or row.status == "done":
                return None
            state = dict(row.state or {})
            frame = {**state.get("anomaly_frame", {})}
            learned = 0
            for key, value in (report.anomaly_frame or {}).items():
                if value and frame.get(key) != value:
                    frame[key] = redact(str(value)).text
                    learned += 1
            timeline = {**state.get("timeline", {})}
            for key, value in (report.timeline or {}).items():
                if value and timeline.get(key) != value:
                    timeline[key] = value
                    learned += 1
            delta = 0.0
            if report.focus_hypothesis_id:
                after = {h.hypothesis_id: h.likelihood for h in hypotheses_after}
                if report.focus_hypothesis_id in after:
                    delta = after[report.focus_hypothesis_id] - hypotheses_before.get(
                        report.focus_hypothesis_id, after[report.focus_hypothesis_id]
                    )
            phase = Phase(row.phase)
            facts = _facts(
                row.problem_statement,
                frame,
                timeline,
                hypotheses_after,
                solution_statuses,
                fix_verified=report.fix_verified or bool(state.get("fix_verified")),
                documented=phase is Phase.DOCUMENT and bool(report.working_conclusion),
            )
            transition = next_transition(phase, facts, Strategy(row.strategy))
            moved = transition.outcome in (Outcome.ADVANCE, Outcome.LOOP_BACK)
            made_progress = bool(
                learned
                or report.created_hypothesis_ids
                or report.evidence_added
                or delta > 0
                or moved
                or transition.outcome is Outcome.DONE
                or (report.fix_verified and not state.get("fix_verified"))
            )
            iterations = list(state.get("iterations", []))
            number = len(iterations) + 1
            stall_reason = None if made_progress else "no new finding, evidence or hypothesis"
            iteration = {
                "number": number,
                "turn": report.turn,
                "phase": int(phase),
                "steps_completed": report.steps_completed,
                "state_changes": {
                    "facts_learned": learned,
                    "hypotheses_created": len(report.created_hypothesis_ids),
                    "evidence_added": report.evidence_added,
                    "requests_made": report.requests_made,
                },
                "new_insights": [redact(i).text for i in report.new_insights][:5],
                "evidence_collected": report.evidence_added,
                "confidence_delta": round(delta, 6),
                "focus_hypothesis_id": report.focus_hypothesis_id,
                "made_progress": made_progress,
                "stall_reason": stall_reason,
            }
            iterations = [*iterations, iteration][-MAX_ITERATIONS:]
            drive = momentum(
                [
                    Iteration(
                        i["number"],
                        bool(i["made_progress"]),
                        i.get("focus_hypothesis_id"),
                        float(i.get("confidence_delta", 0.0)),
                    )
                    for i in iterations
                ]
            )
            status = row.status
            if transition.outcome is Outcome.DONE:
                status = "done"
            elif drive.stalled:
                status = "stalled"
            elif status == "stalled" and made_progress:
                status = "investigating"
            unstalled = row.status == "stalled" and status == "investigating"
            if moved:
                row.phase = int(transition.to)
            row.status = status
            decay = decay_due(number, int(state.get("last_decayed_iteration", 0)))
            row.state = {
                **state,
                "anomaly_frame": frame,
                "timeline": timeline,
                "working_conclusion": report.working_conclusion or state.get("working_conclusion"),
                "fix_verified": facts.fix_verified,
                "iterations": iterations,
                "stall_count": drive.iterations_without_progress,
                "anchored_on": drive.anchored_on,
                "last_decayed_iteration": number
                if decay
                else state.get("last_decayed_iteration", 0),
                "transitions": [
                    *state.get("transitions", []),
                    {
                        "iteration": number,
                        "from": int(phase),
                        "to": int(transition.to),
                        "outcome": transition.outcome.value,
                        "reason": transition.reason,
                    },
                ][-MAX_ITERATIONS:]
                if moved
                else state.get("transitions", []),
            }
            row.updated_at = utcnow()
            outcome = IterationOutcome(
                iteration=iteration,
                phase_from=int(phase),
                phase_to=int(transition.to) if moved else int(phase),
                outcome=transition.outcome.value,
                reason=transition.reason,
                stalled=drive.stalled,
                anchored_on=drive.anchored_on,
                status=status,
            )
        if decay:
            self._decay(principal, case_id, hypotheses_after, report)
        if drive.stalled:
            self._stall(principal, case_id, "; ".join(drive.reasons))
        elif unstalled:
            self._unstall(principal, case_id, "the investigation made progress again")
        return outcome

    def _decay(
        self,
        principal: Principal,
        case_id: str,
        hypotheses: list[HypothesisOut],
        report: IterationReport,
    ) -> None:
        """One more iteration without progress for each open hypothesis this iteration
        did not work on (neither its focus, nor given evidence, nor proposed in it); the
        case's confidence rules turn that into decay."""
        for h in hypotheses:
            if h.status.value not in ("captured", "active"):
                continue
            if h.hypothesis_id == report.focus_hypothesis_id:
                continue
            if h.hypothesis_id in report.worked_hypothesis_ids:  # it got evidence this turn
                continue
            if h.hypothesis_id in report.created_hypothesis_ids:  # proposed this very turn
                continue
            try:
                self._cases.update_hypothesis(
                    principal,
                    case_id,
                    h.hypothesis_id,
                    HypothesisUpdate(turns_without_progress=h.turns_without_progress + 1),
                )
            except ConflictError:
                return  # the case was archived meanwhile

    def _unstall(self, principal: Principal, case_id: str, reason: str) -> None:
        """The investigation goes on: a case stalled with it is investigating again."""
        case = self._cases.get(principal, case_id)
        if case.status is CaseStatus.STALLED:
            self._cases.change_status(
                principal, case_id, StatusChange(status=CaseStatus.INVESTIGATING, reason=reason)
            )

    def _stall(self, principal: Principal, case_id: str, reason: str) -> None:
        case = self._cases.get(principal, case_id)
        if case.status is CaseStatus.INVESTIGATING:
            self._cases.change_status(
                principal,
                case_id,
                StatusChange(status=CaseStatus.STALLED, reason=reason[:2000] or "stalled"),
            )

    # -- the autonomous run ----------------------------------------------------------------
    def start_run(self, principal: Principal, case_id: str) -> RunOut:
        """Start the investigation's autonomous run on Step Functions (202 and a job to
        poll). One execution per run, named `<investigation id>-r<n>`: while a run is
        going, starting again returns it; a new run starts only after the last ended."""
        if self._jobs is None or self._workflow is None:
            raise ServiceUnavailableError("Autonomous investigations are not configured")
        self._cases.require_access(principal, case_id, Access.WRITE, open_case=True)
        with self._db.session() as session:
            row = store.of_case(session, case_id, for_update=True)
            if row is None:
                raise ConflictError(
                    "The case has no investigation: consent to one first",
                    error_code="INVESTIGATION_NOT_CONSENTED",
                )
            if row.status == "done":
                raise ConflictError("The investigation is done", error_code="INVESTIGATION_DONE")
            state = dict(row.state or {})
            runs = list(state.get("runs") or [])
            if runs and runs[-1]["status"] == RunStatus.RUNNING.value:
                return RunOut.model_validate(runs[-1])
            number = len(runs) + 1
            job = self._jobs.create_for_case(
                kind=INVESTIGATION_JOB, case_id=case_id, stage="starting"
            )
            run = RunOut(
                run=number,
                execution_name=f"{row.investigation_id}-r{number}",
                job_id=job.job_id,
                status=RunStatus.RUNNING,
                phase_at_start=row.phase,
                phase=row.phase,
                started_by=principal.user_id,
                started_at=utcnow(),
            )
            row.state = {**state, "runs": [*runs, run.model_dump(mode="json")][-MAX_RUNS:]}
            resumed = row.status == "stalled"
            if resumed:
                row.status = "investigating"  # the user asked the agent to try again
            row.updated_at = utcnow()
            payload = RunPayload(
                investigation_id=row.investigation_id,
                case_id=case_id,
                run=number,
                job_id=job.job_id,
                user_id=principal.user_id,
                phase=row.phase,
            )
        if resumed:
            self._unstall(principal, case_id, f"investigation run {number} started")
        try:
            self._workflow().start(run.execution_name, {"run": payload.model_dump(mode="json")})
        except Exception as exc:
            self.finish_run(
                case_id, number, RunStatus.FAILED, "the run could not be started", steps=0
            )
            raise ServiceUnavailableError(
                "The investigation could not be started; retry shortly",
                details={"dependency": "workflow"},
                headers={"Retry-After": "5"},
            ) from exc
        return run

    def current_run(self, case_id: str, run: int) -> tuple[RunOut, Phase, str] | None:
        """The run as recorded, the investigation's phase and status; None when the
        run is not the case's latest (a stale execution must do nothing)."""
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            if row is None:
                return None
            runs = list((row.state or {}).get("runs") or [])
            if not runs or runs[-1]["run"] != run:
                return None
            return RunOut.model_validate(runs[-1]), Phase(row.phase), row.status

    def finish_run(
        self, case_id: str, run: int, status: RunStatus, reason: str, *, steps: int
    ) -> RunOut | None:
        """Record how a run ended, once: the first end recorded wins (a retried task)."""
        with self._db.session() as session:
            row = store.of_case(session, case_id, for_update=True)
            if row is None:
                return None
            state = dict(row.state or {})
            runs = list(state.get("runs") or [])
            if not runs or runs[-1]["run"] != run:
                return None
            current = RunOut.model_validate(runs[-1])
            if current.status is not RunStatus.RUNNING:
                return current
            ended = current.model_copy(
                update={
                    "status": status,
                    "reason": redact(reason).text[:500],
                    "phase": row.phase,
                    "steps": steps,
                    "finished_at": utcnow(),
                }
            )
            row.state = {**state, "runs": [*runs[:-1], ended.model_dump(mode="json")]}
            if status is RunStatus.STALLED and row.status == "investigating":
                row.status = "stalled"
            row.updated_at = utcnow()
            store.release_case(session, case_id)
        return ended

    def park(self, case_id: str, token: str) -> int:
        """The run waits for evidence: its task token goes with every open request of
        the case, so whichever is answered first resumes it. Returns how many."""
        with self._db.session() as session:
            return store.park(
                session, case_id, token, frozenset(s.value for s in OPEN_REQUEST_STATUSES)
            )

    def stall(self, principal: Principal, case_id: str, reason: str) -> None:
        """The run could not go on (evidence never came, iterations ran out): the
        investigation and the case are stalled, with the reason."""
        with self._db.session() as session:
            row = store.of_case(session, case_id, for_update=True)
            if row is not None and row.status == "investigating":
                row.status = "stalled"
                row.updated_at = utcnow()
        self._stall(principal, case_id, reason)

    def stall_reason(self, case_id: str) -> str | None:
        """Why the investigation stalled, as its last iterations and requests say."""
        with self._db.session() as session:
            row = store.of_case(session, case_id)
            if row is None or row.status != "stalled":
                return None
            blocked = store.blocked_count(session, case_id)
            iterations = list((row.state or {}).get("iterations") or [])
        if blocked >= BLOCKED_STALL:
            return f"{blocked} evidence requests are blocked"
        stalls = [i for i in iterations[-3:] if not i.get("made_progress")]
        if stalls:
            return f"{len(stalls)} iterations in a row made no progress"
        return None

    def resume_now(self, token: str, output: dict[str, Any]) -> None:
        """Resume a waiting run at once (nothing is left to wait for)."""
        self._resume(token, output)

    def _resume(self, token: str, output: dict[str, Any]) -> None:
        self._release(token)
        if self._workflow is None:
            return
        try:
            self._workflow().resume(token, output)
        except Exception as exc:  # the upload is stored; the run times out as stalled
            logger.warning("waiting investigation not resumed", extra={"error": type(exc).__name__})

    def _release(self, token: str) -> None:
        with self._db.session() as session:
            store.release(session, token)

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
                fulfilled_by=[],
                created_at_turn=turn,
                created_at=now,
                updated_at=now,
            )
            for r in requests
        ]
        with self._db.session() as session:
            store.add_requests(session, rows)
            return [EvidenceRequestRecord.model_validate(r) for r in rows]

    def open_requests(self, case_id: str) -> list[OpenRequest]:
        """The requests still waiting for evidence (the consultant asks for evidence too),
        for a caller that already authorized the case (classification)."""
        with self._db.session() as session:
            rows, _ = store.requests_of_case(
                session,
                case_id,
                limit=100,
                offset=0,
                statuses=frozenset(s.value for s in OPEN_REQUEST_STATUSES),
            )
            return [OpenRequest(r.request_id, r.label, r.description, r.category) for r in rows]

    def has_investigation(self, case_id: str) -> bool:
        with self._db.session() as session:
            return store.of_case(session, case_id) is not None

    def apply_classification(
        self,
        case_id: str,
        classification: EvidenceClassification,
        *,
        evidence_id: str | None,
        source: str,
    ) -> list[str]:
        """Arriving evidence classified: the open requests it answers become received
        (with the rationale), a run waiting for one of them resumes, and the
        classification is kept in the investigation's state. Returns the request ids."""
        chosen = set(classification.matched_request_ids)
        with self._db.session() as session:
            row = store.of_case(session, case_id, for_update=True)
            rows, _ = store.requests_of_case(
                session,
                case_id,
                limit=100,
                offset=0,
                statuses=frozenset(s.value for s in OPEN_REQUEST_STATUSES),
                for_update=True,
            )
            now = utcnow()
            matched = [r for r in rows if r.request_id in chosen]
            for r in matched:
                r.status = RequestStatus.RECEIVED.value
                if evidence_id:
                    r.fulfilled_by = [*r.fulfilled_by, evidence_id]
                r.status_reason = redact(
                    f"received {source}: {classification.completeness.value} "
                    f"({classification.completeness_score:.2f}), "
                    f"{classification.stance.value}, by {classification.classified_by}: "
                    f"{classification.rationale}"
                ).text[:2000]
                r.updated_at = now
            tokens = {r.task_token for r in matched if r.task_token}
            ids = sorted(r.request_id for r in matched)
            state = dict(row.state or {}) if row is not None else {}
            record = {
                "at": now.isoformat(),
                "evidence_id": evidence_id,
                "source": redact(source).text[:200],
                **classification.model_dump(mode="json"),
                "rationale": redact(classification.rationale).text,
                "follow_up": redact(classification.follow_up).text
                if classification.follow_up
                else None,
            }
            if row is not None:
                row.state = {
                    **state,
                    "classifications": [*state.get("classifications", []), record][
                        -MAX_ITERATIONS:
                    ],
                }
                row.updated_at = now
        for token in tokens:
            self._resume(token, {"evidence_id": evidence_id, "request_ids": ids})
        return ids

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
            token = row.task_token if record.status is RequestStatus.BLOCKED else None
        if token:
            # The run waiting for it learns now, not at its timeout: the state machine
            # takes the failure as "blocked" and the agent plans without that evidence.
            self._release(token)
            if self._workflow is not None:
                self._workflow().abandon(token, EVIDENCE_BLOCKED, record.status_reason[:500])
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
        state = dict(row.state) if row is not None else {}
        solutions = self._cases.solutions(
            principal, case.case_id, PageRequest(page=1, page_size=100)
        ).items
        facts = _facts(
            row.problem_statement if row is not None else None,
            dict(state.get("anomaly_frame") or {}),
            dict(state.get("timeline") or {}),
            list(hypotheses),
            [s.status.value for s in solutions],
            consented=row is not None,
            fix_verified=bool(state.get("fix_verified")),
        )
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
            anomaly_frame=dict(state.get("anomaly_frame") or {}),
            timeline=dict(state.get("timeline") or {}),
            working_conclusion=state.get("working_conclusion"),
            transitions=list(state.get("transitions") or []),
            runs=list(state.get("runs") or []),
            classifications=list(state.get("classifications") or [])[-10:],
            created_at=row.created_at if row is not None else None,
            updated_at=row.updated_at if row is not None else None,
        )


def _invalid(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError(
        f"Invalid {field}: {message}",
        details=[{"field": field, "message": message, "type": "value_error"}],
    )


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _facts(
    problem_statement: str | None,
    frame: dict[str, Any],
    timeline: dict[str, Any],
    hypotheses: list[HypothesisOut],
    solution_statuses: list[str],
    *,
    consented: bool = True,
    fix_verified: bool = False,
    documented: bool = False,
) -> PhaseFacts:
    return PhaseFacts(
        consented=consented,
        problem_statement=problem_statement,
        what_is_broken=frame.get("what_is_broken"),
        expected_behaviour=frame.get("expected_behaviour"),
        actual_behaviour=frame.get("actual_behaviour"),
        impact=frame.get("impact"),
        scope=frame.get("scope"),
        started_at=_when(timeline.get("started_at")),
        changes_considered=bool(timeline.get("changes_considered")),
        timeline_events=len(timeline.get("events") or []),
        hypotheses=tuple(
            HypothesisFacts(h.hypothesis_id, h.status.value, h.category.value, h.likelihood)
            for h in hypotheses
        ),
        solution_statuses=tuple(solution_statuses),
        fix_verified=fix_verified,
        documented=documented,
    )
