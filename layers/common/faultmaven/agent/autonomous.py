"""The tasks of the autonomous investigation's state machine
(`infra/statemachines/investigation.asl.json`).

    Begin → Route ─┬→ BlastRadius / Timeline / Hypothesis / Solution / Document → Route
                   ├→ Validation (Map over the active hypotheses) → Verdict → Route
                   ├→ AwaitEvidence (task token; an upload or answer resumes it)
                   │      → Resume → Route  · timeout → TimedOut → Finish
                   └→ Finish (done, stalled, budget exhausted) · any failure → Failed

Each phase state runs a few agent iterations — chat turns of the lead investigator,
asked by the investigation itself, recorded in the conversation as system events —
until the phase's criteria move it, the agent asks for evidence, or the investigation
stalls or ends. The state between tasks is a `RunPayload` (ids and counters only). Every
task is idempotent enough for Step Functions' retries: a stale run (not the case's latest)
does nothing, and a run's end is recorded once. One history session per investigation
(`hist_<investigation hex>`); every state is a stage of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultmaven.agent.models import QueryRequest
from faultmaven.agent.service import AGENT_TYPE, Autonomy
from faultmaven.core.errors import AppError, LLMBudgetExhaustedError
from faultmaven.core.logging import logger
from faultmaven.core.pagination import PageRequest
from faultmaven.investigation.models import (
    FINAL_STEPS,
    STEP_OF_PHASE,
    RunPayload,
    RunStatus,
    RunStep,
    phase_name,
)
from faultmaven.investigation.phases import PHASE_GOALS, Phase
from faultmaven.investigation.statemachine import AFTER_LAST_WAIT_SECONDS, EXECUTION_LIMIT_SECONDS

if TYPE_CHECKING:
    from faultmaven.agent.models import AgentResponse
    from faultmaven.agent.service import AgentService
    from faultmaven.auth.principal import Principal
    from faultmaven.auth.service import AuthService
    from faultmaven.cases.service import CaseService
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.investigation.service import InvestigationService
    from faultmaven.jobs.service import JobService

CHAIN_ID = "autonomous-investigation"
# The hypotheses one Validation state tests (the Map's items), most likely first.
MAX_VALIDATED = 5
MIN_WAIT_SECONDS = 60
_OPEN_HYPOTHESES = frozenset({"captured", "active"})
_STATUS_OF_STEP = {
    RunStep.DONE: RunStatus.DONE,
    RunStep.STALLED: RunStatus.STALLED,
    RunStep.BUDGET_EXHAUSTED: RunStatus.BUDGET_EXHAUSTED,
}


@dataclass(frozen=True)
class RunnerConfig:
    evidence_wait_seconds: int
    iterations_per_phase: int
    max_steps: int


class InvestigationRunner:
    def __init__(
        self,
        *,
        agent: AgentService,
        investigation: InvestigationService,
        cases: CaseService,
        jobs: JobService,
        auth: AuthService,
        recorder: Callable[[], HistoryRecorder],
        config: RunnerConfig,
    ) -> None:
        self._agent = agent
        self._investigation = investigation
        self._cases = cases
        self._jobs = jobs
        self._auth = auth
        self._recorder = recorder
        self._config = config

    # -- tasks (each takes and returns the state machine's state) ------------------------
    def begin(self, event: dict[str, Any]) -> dict[str, Any]:
        run = RunPayload.model_validate(event["run"])
        current = self._investigation.current_run(run.case_id, run.run)
        if current is None:
            return self._final(run, RunStep.DONE, "a newer run replaced this one")
        _, phase, status = current
        principal = self._principal(run)
        if principal is None:
            return self._final(run, RunStep.STALLED, "the user who started the run left")
        try:
            owner_id = self._cases.get(principal, run.case_id).owner_id
        except AppError as exc:
            return self._final(run, RunStep.STALLED, f"the case cannot be read: {exc.error_code}")
        history_id = self._recorder().open_session(
            session_id=f"hist_{run.investigation_id.split('_', 1)[-1]}",
            agent_type=AGENT_TYPE,
            chain_id=CHAIN_ID,
            case_id=run.case_id,
            owner_id=owner_id,
            metadata={"investigation_id": run.investigation_id, "mode": "autonomous"},
        )
        run = run.model_copy(
            update={
                "history_id": history_id,
                "phase": int(phase),
                "wait_seconds": self._config.evidence_wait_seconds,
                "started_epoch": run.started_epoch or time.time(),
            }
        )
        with self._recorder().stage(
            history_id, stage_id=f"run-{run.run}-begin", stage_name=f"Run {run.run}", agent="sfn"
        ) as stage:
            stage.output = {"phase": int(phase), "status": status}
        if status == "done":
            return self._final(run, RunStep.DONE, "the investigation was already done")
        self._jobs.progress(run.job_id, stage=phase_name(phase), progress=_progress(phase))
        return {"run": self._route(run, phase).model_dump(mode="json")}

    def phase(self, event: dict[str, Any]) -> dict[str, Any]:
        """Up to `iterations_per_phase` agent iterations in the current phase."""
        run = RunPayload.model_validate(event["run"])
        principal = self._principal(run)
        if principal is None:
            return self._final(run, RunStep.STALLED, "the user who started the run left")
        step = run.next
        for _ in range(self._config.iterations_per_phase):
            if run.steps >= self._config.max_steps:
                return self._stalled(
                    principal, run, f"the run took its {self._config.max_steps} iterations"
                )
            phase = Phase(run.phase)
            instruction = (
                f"Autonomous investigation, run {run.run}: continue phase {int(phase)} "
                f"({phase_name(phase)}). {PHASE_GOALS[phase]} Work on what the phase still "
                "needs, from the evidence and the knowledge base; ask for the evidence you "
                "lack."
            )
            outcome = self._iterate(principal, run, instruction, label=phase_name(phase))
            if isinstance(outcome, dict):
                return outcome
            run, response = outcome
            step = self._next_step(run, response)
            if step is not run.next or step is RunStep.AWAIT_EVIDENCE:
                break
        return self._continue(run, step)

    def validate(self, event: dict[str, Any]) -> dict[str, Any]:
        """One Map item: an iteration that tests one hypothesis."""
        run = RunPayload.model_validate(event["run"])
        hypothesis_id = str(event["hypothesis_id"])
        principal = self._principal(run)
        if principal is None or run.steps >= self._config.max_steps:
            return {"hypothesis_id": hypothesis_id, "status": "skipped", "steps": 0}
        current = self._investigation.current_run(run.case_id, run.run)
        if current is None or current[1] is not Phase.VALIDATION or current[2] != "investigating":
            # An earlier item validated a cause (or the run ended): the rest wait.
            return {"hypothesis_id": hypothesis_id, "status": "skipped", "steps": 0}
        hypothesis = next(
            (h for h in self._open_hypotheses(principal, run.case_id) if h[0] == hypothesis_id),
            None,
        )
        if hypothesis is None:
            return {"hypothesis_id": hypothesis_id, "status": "settled", "steps": 0}
        instruction = (
            f"Autonomous investigation, run {run.run}, phase 4 (validation): test hypothesis "
            f"{hypothesis_id} — {hypothesis[1]}. Set focus_hypothesis_id to it, weigh the "
            "evidence for and against it (supporting or refuting evidence, citing sources), "
            "and ask for the evidence that would decide it."
        )
        outcome = self._iterate(principal, run, instruction, label=f"validate-{hypothesis_id}")
        if isinstance(outcome, dict):
            return {
                "hypothesis_id": hypothesis_id,
                "status": "stopped",
                "steps": 1,
                "next": outcome["run"]["next"],
                "reason": outcome["run"]["reason"],
            }
        _, response = outcome
        return {
            "hypothesis_id": hypothesis_id,
            "status": "tested",
            "steps": 1,
            "requests": len(response.evidence_requests or []),
            "response_type": response.response_type.value,
        }

    def verdict(self, event: dict[str, Any]) -> dict[str, Any]:
        """After the Map: where the validated, refuted and retired hypotheses leave the
        investigation (its phase rules already moved it)."""
        run = RunPayload.model_validate(event["run"])
        results = list(event.get("validated") or [])
        steps = sum(int(r.get("steps", 0)) for r in results)
        run = run.model_copy(update={"steps": run.steps + steps})
        stopped = next((r for r in results if r.get("status") == "stopped"), None)
        if stopped is not None and RunStep(stopped["next"]) in FINAL_STEPS:
            return self._final(run, RunStep(stopped["next"]), str(stopped.get("reason", "")))
        current = self._investigation.current_run(run.case_id, run.run)
        if current is None:
            return self._final(run, RunStep.DONE, "a newer run replaced this one")
        _, phase, status = current
        with self._recorder().stage(
            run.history_id,
            stage_id=f"run-{run.run}-verdict-{run.steps}",
            stage_name=f"Run {run.run}: validation verdict",
            agent="sfn",
        ) as stage:
            stage.output = {"results": results, "phase": int(phase), "status": status}
        if any(r.get("requests") for r in results) and status == "investigating":
            return self._continue(
                run.model_copy(update={"phase": int(phase)}), RunStep.AWAIT_EVIDENCE
            )
        return self._continue(run, self._step_of(run, phase, status))

    def wait(self, event: dict[str, Any]) -> dict[str, Any]:
        """The callback task: the token goes with the open evidence requests; the upload
        or answer that satisfies one resumes the execution."""
        run = RunPayload.model_validate(event["run"])
        token = str(event["token"])
        parked = self._investigation.park(run.case_id, token)
        with self._recorder().stage(
            run.history_id,
            stage_id=f"run-{run.run}-await-{run.steps}",
            stage_name=f"Run {run.run}: awaiting evidence",
            agent="sfn",
        ) as stage:
            stage.output = {"requests": parked, "timeout_seconds": run.wait_seconds}
        self._jobs.progress(
            run.job_id, stage="awaiting evidence", progress=_progress(Phase(run.phase))
        )
        if parked == 0:  # answered meanwhile: nothing to wait for
            self._investigation.resume_now(token, {"reason": "no open evidence request"})
        return {"parked": parked}

    def resume(self, event: dict[str, Any]) -> dict[str, Any]:
        """Evidence arrived, or the user said it cannot be had: back to the phase."""
        run = RunPayload.model_validate(event["run"])
        arrived = event.get("evidence") or {}
        error = event.get("error") or {}
        with self._recorder().stage(
            run.history_id,
            stage_id=f"run-{run.run}-resume-{run.steps}",
            stage_name=f"Run {run.run}: " + ("evidence blocked" if error else "evidence received"),
            agent="sfn",
        ) as stage:
            stage.output = {
                "evidence_id": arrived.get("evidence_id"),
                "request_ids": arrived.get("request_ids", []),
                "blocked": bool(error),
            }
        current = self._investigation.current_run(run.case_id, run.run)
        if current is None:
            return self._final(run, RunStep.DONE, "a newer run replaced this one")
        _, phase, status = current
        return self._continue(run, self._step_of(run, phase, status))

    def timed_out(self, event: dict[str, Any]) -> dict[str, Any]:
        run = RunPayload.model_validate(event["run"])
        reason = f"the evidence asked for did not arrive within {run.wait_seconds} s"
        principal = self._principal(run)
        if principal is None:
            return self._final(run, RunStep.STALLED, reason)
        return self._stalled(principal, run, reason)

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """The run's end, recorded once: its status and reason, the job, the history."""
        run = RunPayload.model_validate(event["run"])
        status = _STATUS_OF_STEP.get(run.next, RunStatus.DONE)
        return self._end(run, status, run.reason or status.value)

    def failed(self, event: dict[str, Any]) -> dict[str, Any]:
        """A task failed past its retries: the run ends as failed, with the error's name
        (never its message, which may quote case content)."""
        run = RunPayload.model_validate(event["run"])
        error = event.get("error") or {}
        name = str(error.get("Error") or "error")[:100]
        return self._end(run, RunStatus.FAILED, f"a step failed: {name}")

    # -- helpers ---------------------------------------------------------------------------
    def _iterate(
        self, principal: Principal, run: RunPayload, instruction: str, *, label: str
    ) -> tuple[RunPayload, AgentResponse] | dict[str, Any]:
        """One agent iteration as a stage of the run; a spent budget ends the run."""
        number = run.steps + 1
        try:
            response = self._agent.turn(
                principal,
                run.case_id,
                QueryRequest(session_id=f"run-{run.run}", query=instruction),
                autonomy=Autonomy(
                    history_id=run.history_id,
                    stage_id=f"run-{run.run}-{label}-{number}",
                    stage_name=f"Run {run.run}: {label}, iteration {number}",
                    run_label=f"{run.investigation_id}-r{run.run}",
                ),
            )
        except LLMBudgetExhaustedError as exc:
            return self._final(run, RunStep.BUDGET_EXHAUSTED, exc.message)
        except AppError as exc:
            if exc.status_code in (403, 404, 409):  # access revoked, case gone or archived
                return self._final(
                    run, RunStep.STALLED, f"the case cannot be worked on: {exc.error_code}"
                )
            raise
        self._jobs.progress(
            run.job_id,
            stage=phase_name(Phase(run.phase)),
            progress=_progress(Phase(run.phase)),
        )
        return run.model_copy(update={"steps": number}), response

    def _next_step(self, run: RunPayload, response: AgentResponse) -> RunStep:
        current = self._investigation.current_run(run.case_id, run.run)
        if current is None:
            return RunStep.DONE
        _, phase, status = current
        run.phase = int(phase)
        if response.evidence_requests and status == "investigating":
            return RunStep.AWAIT_EVIDENCE
        return self._step_of(run, phase, status)

    def _step_of(self, run: RunPayload, phase: Phase, status: str) -> RunStep:
        run.phase = int(phase)
        if status == "done":
            return RunStep.DONE
        if status == "stalled":
            return RunStep.STALLED
        return STEP_OF_PHASE.get(phase, RunStep.BLAST_RADIUS)

    def _continue(self, run: RunPayload, step: RunStep) -> dict[str, Any]:
        if step is RunStep.AWAIT_EVIDENCE:
            # Never wait past the execution's own limit: a run cut off by Step Functions
            # would skip its Finish state and stay `running` in the investigation.
            left = (
                EXECUTION_LIMIT_SECONDS
                - AFTER_LAST_WAIT_SECONDS
                - (time.time() - (run.started_epoch or time.time()))
            )
            if left < MIN_WAIT_SECONDS:
                principal = self._principal(run)
                reason = "the run's time is up while it waits for evidence"
                if principal is None:
                    return self._final(run, RunStep.STALLED, reason)
                return self._stalled(principal, run, reason)
            run = run.model_copy(
                update={"wait_seconds": int(min(self._config.evidence_wait_seconds, left))}
            )
        if step in FINAL_STEPS:
            reason = {
                RunStep.DONE: "the investigation is documented",
                RunStep.STALLED: "the investigation stalled",
            }.get(step, step.value)
            return self._final(
                run, step, self._stall_reason(run) if step is RunStep.STALLED else reason
            )
        principal = self._principal(run)
        if step is RunStep.VALIDATION and principal is not None:
            run.hypotheses = [h[0] for h in self._open_hypotheses(principal, run.case_id)][
                :MAX_VALIDATED
            ]
            if not run.hypotheses:  # nothing left to test: the phase rules loop back
                step = RunStep.HYPOTHESIS
        return {"run": run.model_copy(update={"next": step}).model_dump(mode="json")}

    def _route(self, run: RunPayload, phase: Phase) -> RunPayload:
        step = STEP_OF_PHASE.get(phase, RunStep.BLAST_RADIUS)
        return run.model_copy(update={"next": step})

    def _final(self, run: RunPayload, step: RunStep, reason: str) -> dict[str, Any]:
        return {
            "run": run.model_copy(update={"next": step, "reason": reason}).model_dump(mode="json")
        }

    def _stalled(self, principal: Principal, run: RunPayload, reason: str) -> dict[str, Any]:
        self._investigation.stall(principal, run.case_id, reason)
        return self._final(run, RunStep.STALLED, reason)

    def _stall_reason(self, run: RunPayload) -> str:
        return self._investigation.stall_reason(run.case_id) or "the investigation stalled"

    def _end(self, run: RunPayload, status: RunStatus, reason: str) -> dict[str, Any]:
        ended = self._investigation.finish_run(
            run.case_id, run.run, status, reason, steps=run.steps
        )
        failed = status is RunStatus.FAILED
        self._jobs.progress(run.job_id, stage=status.value, progress=99)
        self._jobs.finish(
            run.job_id,
            error=reason if failed else None,
            result_path=f"/api/v1/cases/{run.case_id}/investigation",
        )
        if run.history_id:
            self._recorder().close_session(
                run.history_id,
                status="failed" if failed else "completed",
                final_analysis=f"run {run.run}: {status.value} — {reason}",
                metadata={"run": run.run, "outcome": status.value, "steps": run.steps},
            )
        logger.info(
            "investigation run ended",
            extra={
                "investigation_id": run.investigation_id,
                "run": run.run,
                "outcome": status.value,
                "steps": run.steps,
            },
        )
        return {
            "run": run.model_dump(mode="json"),
            "status": (ended.status if ended else status).value,
        }

    def _principal(self, run: RunPayload) -> Principal | None:
        """The user who started the run: the run acts with their authority, and a user
        deactivated meanwhile stops it."""
        return self._auth.principal_of(
            run.user_id, acting_as=f"run-{run.investigation_id}-{run.run}"
        )

    def _open_hypotheses(self, principal: Principal, case_id: str) -> list[tuple[str, str]]:
        hypotheses = self._cases.hypotheses(principal, case_id, PageRequest(page=1, page_size=100))
        open_ones = [h for h in hypotheses.items if h.status.value in _OPEN_HYPOTHESES]
        open_ones.sort(key=lambda h: -h.likelihood)
        return [(h.hypothesis_id, h.statement) for h in open_ones]


def _progress(phase: Phase) -> int:
    """The job's progress bar: how far through the six phases."""
    return min(95, 10 + 15 * (int(phase) - 1))
