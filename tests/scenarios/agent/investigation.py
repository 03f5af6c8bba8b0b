"""Each agent scenario replayed as a whole lead-investigator investigation (issue 14 §5).

`plan(scenario, index)` turns a scenario's own data into the script of an investigation:
consent → phase 1 (the anomaly frame from the title and description) → phase 2 (the
timeline, starting at the earliest timestamp of the evidence) → phase 3 (two hypotheses of
two categories: FIRST a plausible wrong one of another category, then the scenario's own)
→ phase 4 (the wrong one refuted with two sources — the digest of an evidence file and a
section of it the model reads first — then the right one validated with two supporting
sources, so no loop-back) → phase 5 (a solution the user moves to applied, the fix
verified) → phase 6 (documented) → done.

Some scenarios take a variant, chosen by their index so the suite always covers each:
`blocked` (the agent asks for evidence, the user blocks the request with a reason, the
investigation goes on), `stall` (three turns without progress in phase 2 stall the case,
the next briefing suggests escalating, a timeline recovers it) and `all_refuted` (both
first hypotheses are wrong: loop back to phase 3 with the reason, then the right one with
a fresh alternative). A scenario may override any of this in an `[investigation]` table
of its scenario.toml: `variants`, `frame`, `started_at`, `changes`, `wrong` (a list of
{statement, category}) and `solution`.

The plan also carries what the confidence rules make of it (`expected`): every lead turn
is one OODA iteration, and each iteration adds one turn without progress to every open
hypothesis it neither created nor focused on (cases/confidence.py turns that into decay).
`replay(api, stub, scenario, index)` drives the plan over HTTP like a client (the case is
set up by runner.prepare) and returns every turn for a test or a benchmark.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from faultmaven.cases.confidence import assess
from tests.helpers import Api
from tests.llm_stubs import MessagesStub, ToolCall
from tests.scenarios.agent.runner import (
    Prepared,
    Scenario,
    model_requests,
    prepare,
    prompt_text,
    substitute,
)

BLOCKED = "blocked"
STALL = "stall"
ALL_REFUTED = "all_refuted"
VARIANTS = (BLOCKED, STALL, ALL_REFUTED)
STALL_TURNS = 3
READ_LIMIT = 200  # characters of the evidence file read before refuting
BLOCK_REASON = "no access to the production systems from here"
WRONG_INITIAL = 0.5
RIGHT_INITIAL = 0.6  # one decayed turn later, 0.6 + 2 × 0.15 → 0.765 ≥ 0.70: validated
OPEN = frozenset({"captured", "active"})

# Plausible alternatives, one per category, tried in this order for the wrong hypotheses.
ALTERNATIVES: dict[str, str] = {
    "network": "Packet loss or a partition between the services makes the calls fail.",
    "external": "An upstream provider outside our control degraded at the same time.",
    "environment": "The hosts ran out of CPU or memory under an unusual traffic peak.",
    "code": "A regression in the latest release breaks the failing code path.",
    "config": "A configuration change shortly before the incident set a wrong limit.",
    "data": "A malformed or unusually large batch of data overloads the component.",
}
_TIMESTAMP = re.compile(
    r"\b(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class Hypothesis:
    key: str  # W1, W2, W3 (wrong) or R (the scenario's)
    statement: str
    category: str
    initial: float


@dataclass(frozen=True)
class Step:
    """One lead turn: the user's query, the model's answer (with `{evidence:…}` and
    `{hypothesis:KEY}` placeholders), what the model reads first, and what the user does
    after the turn."""

    name: str
    phase: int  # the phase the turn runs in
    query: str
    answer: dict[str, Any]
    read: str | None = None  # an evidence file name
    creates: tuple[str, ...] = ()
    focus: str | None = None
    supports: dict[str, int] = field(default_factory=dict)
    refutes: dict[str, int] = field(default_factory=dict)
    then: tuple[str, ...] = ()  # "block_request", "apply_solution"
    expect_outcome: str = "advance"
    expect_to: int | None = None
    expect_stalled: bool = False


@dataclass(frozen=True)
class Expected:
    likelihood: float
    status: str


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    variants: tuple[str, ...]
    hypotheses: tuple[Hypothesis, ...]
    steps: tuple[Step, ...]
    expected: dict[str, Expected]  # by hypothesis key

    @property
    def transitions(self) -> list[tuple[int, int, str]]:
        """(from, to, outcome) of every phase move, in order."""
        return [
            (s.phase, s.expect_to, s.expect_outcome)
            for s in self.steps
            if s.expect_to is not None and s.expect_outcome in ("advance", "loop_back")
        ]

    @property
    def validated_at(self) -> int:
        """The lead turn (1-based) that validates the scenario's hypothesis."""
        return next(i for i, s in enumerate(self.steps, 1) if s.supports.get("R"))

    def by_key(self, key: str) -> Hypothesis:
        return next(h for h in self.hypotheses if h.key == key)


def variants_for(scenario: Scenario, index: int) -> tuple[str, ...]:
    """Deterministic by index (every 3rd from 1 blocked, 2 and 9 stall, 5 and 12 refute
    all first), unless the scenario names its own."""
    override = scenario.investigation.get("variants")
    if override is not None:
        unknown = set(override) - set(VARIANTS)
        if unknown:
            raise ValueError(f"{scenario.slug}: unknown variants {sorted(unknown)}")
        return tuple(override)
    chosen: list[str] = []
    if index % 3 == 1:
        chosen.append(BLOCKED)
    if index % 7 == 2:
        chosen.append(STALL)
    if index % 7 == 5:
        chosen.append(ALL_REFUTED)
    return tuple(chosen)


def earliest_timestamp(scenario: Scenario) -> str | None:
    """The earliest ISO-8601 timestamp in the scenario's evidence (UTC when unzoned)."""
    found: list[datetime] = []
    for path in scenario.evidence:
        text = path.read_text(encoding="utf-8", errors="replace")
        for year, month, day, clock, zone in _TIMESTAMP.findall(text):
            stamp = f"{year}-{month}-{day}T{clock}{'+00:00' if not zone or zone == 'Z' else zone}"
            try:
                found.append(datetime.fromisoformat(stamp).astimezone(UTC))
            except ValueError:
                continue
    return min(found).strftime("%Y-%m-%dT%H:%M:%SZ") if found else None


def _final(scenario: Scenario) -> dict[str, Any]:
    final: dict[str, Any] = scenario.script[-1].get("input", {})
    return final


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def plan(scenario: Scenario, index: int) -> Plan:
    """The scenario's whole investigation, generated from its data."""
    table = scenario.investigation
    variants = variants_for(scenario, index)
    final = _final(scenario)
    right_draft = final["hypotheses"][0]
    right = Hypothesis("R", right_draft["statement"], right_draft["category"], RIGHT_INITIAL)
    wrong_drafts: list[dict[str, str]] = list(table.get("wrong", [])) or [
        {"statement": statement, "category": category}
        for category, statement in ALTERNATIVES.items()
        if category != right.category
    ]
    wrong = [
        Hypothesis(f"W{n}", d["statement"], d["category"], WRONG_INITIAL)
        for n, d in enumerate(wrong_drafts[:3], 1)
    ]
    if len(wrong) < (3 if ALL_REFUTED in variants else 1):
        raise ValueError(f"{scenario.slug}: too few wrong hypotheses for {variants}")
    if any(w.category == right.category for w in wrong):
        raise ValueError(f"{scenario.slug}: a wrong hypothesis shares the right one's category")
    supporting = _unique(
        [*right_draft.get("supporting_source_ids", []), *final.get("cited_source_ids", [])]
    )[:2]
    if len(supporting) < 2:
        raise ValueError(f"{scenario.slug}: the script cites fewer than two sources")
    cited_files = sorted(scenario.cited_files)
    # Refute with files outside the supporting pair where the scenario has them.
    refuting_files = sorted(cited_files, key=lambda name: any(name in s for s in supporting))
    conclusion = {"statement": right.statement[:500], "confidence": 0.4}

    def turn(**fields: Any) -> dict[str, Any]:
        return {
            "response_type": "ANSWER",
            "content": "See the evidence.",
            "working_conclusion": conclusion,
            **fields,
        }

    def refute(w: Hypothesis, file: str, *, extra: dict[str, Any] | None = None) -> Step:
        return Step(
            name=f"refute {w.key}",
            phase=4,
            query=f"Test the hypothesis: {w.statement}",
            read=file,
            answer=turn(
                content=f"The evidence contradicts it: {w.statement}",
                focus_hypothesis_id=f"{{hypothesis:{w.key}}}",
                hypotheses=[
                    {
                        "statement": w.statement,
                        "refuting_source_ids": [
                            f"{{evidence:{file}}}#digest",
                            f"{{evidence:{file}}}#chars-0-{READ_LIMIT}",
                        ],
                    }
                ],
                **(extra or {}),
            ),
            focus=w.key,
            refutes={w.key: 2},
            expect_outcome="stay",
        )

    def propose(pair: list[Hypothesis], name: str) -> Step:
        return Step(
            name=name,
            phase=3,
            query="What could cause it?",
            answer=turn(
                response_type="HYPOTHESIS_PROPOSAL",
                content="Two candidate causes to test.",
                hypotheses=[
                    {"statement": h.statement, "category": h.category, "likelihood": h.initial}
                    for h in pair
                ],
            ),
            creates=tuple(h.key for h in pair),
            expect_to=4,
        )

    frame = {
        "what_is_broken": scenario.title,
        "expected_behaviour": "the service works as it did before the incident",
        "actual_behaviour": scenario.description or scenario.title,
        "impact": "the users of the affected path see failures",
        "scope": "production",
        **table.get("frame", {}),
    }
    started_at = table.get("started_at") or earliest_timestamp(scenario)
    if started_at is None:
        raise ValueError(f"{scenario.slug}: no timestamp in the evidence; set started_at")
    timeline = {
        "started_at": started_at,
        "changes": list(table.get("changes", ["the deploys and changes near the start"])),
        "changes_considered": True,
        "events": [f"{started_at} first symptoms"],
    }
    steps: list[Step] = [
        Step("frame", 1, scenario.question, turn(anomaly_frame=frame), expect_to=2),
    ]
    if STALL in variants:
        steps += [
            Step(
                f"no progress {n}",
                2,
                f"Anything new? ({n})",
                {"response_type": "ANSWER", "content": "Nothing new yet."},
                expect_outcome="stay",
                expect_stalled=n == STALL_TURNS,
            )
            for n in range(1, STALL_TURNS + 1)
        ]
    steps.append(Step("timeline", 2, "When did it start?", turn(timeline=timeline), expect_to=3))
    blocked_request = {
        "evidence_requests": [
            {
                "label": "Production access logs",
                "description": "The access logs of the affected service around the start.",
                "category": "symptoms",
                "priority": 2,
            }
        ]
    }
    if ALL_REFUTED in variants:
        steps.append(propose([wrong[0], wrong[1]], "propose W1 W2"))
        first = refute(
            wrong[0],
            refuting_files[0],
            extra=blocked_request if BLOCKED in variants else None,
        )
        steps.append(replace(first, then=("block_request",) if BLOCKED in variants else ()))
        second = refute(wrong[1], refuting_files[1 % len(refuting_files)])
        steps.append(replace(second, expect_outcome="loop_back", expect_to=3))
        steps.append(propose([right, wrong[2]], "propose R W3"))
    else:
        steps.append(propose([wrong[0], right], "propose W1 R"))
        first = refute(
            wrong[0], refuting_files[0], extra=blocked_request if BLOCKED in variants else None
        )
        steps.append(replace(first, then=("block_request",) if BLOCKED in variants else ()))
    steps.append(
        Step(
            "validate R",
            4,
            f"Test the hypothesis: {right.statement}",
            turn(
                response_type="ROOT_CAUSE_IDENTIFIED",
                content=str(final.get("content", right.statement)),
                focus_hypothesis_id="{hypothesis:R}",
                cited_source_ids=supporting,
                hypotheses=[{"statement": right.statement, "supporting_source_ids": supporting}],
            ),
            focus="R",
            supports={"R": 2},
            expect_to=5,
        )
    )
    solution = dict(
        table.get("solution")
        or (final.get("solutions") or [None])[0]
        or {"title": f"Fix: {right.statement}"[:200], "category": "fix"}
    )
    solution["hypothesis_id"] = "{hypothesis:R}"
    steps += [
        Step(
            "solution",
            5,
            "How do we fix it?",
            turn(response_type="SOLUTION_READY", content="Apply this.", solutions=[solution]),
            then=("apply_solution",),
            expect_outcome="stay",
        ),
        Step(
            "fix verified",
            5,
            "Applied it; the errors stopped.",
            turn(content="The fix worked.", fix_verified=True),
            expect_to=6,
        ),
        Step(
            "document",
            6,
            "Write it up.",
            turn(
                content=str(final.get("content", right.statement)),
                root_cause=right.statement[:1000],
                working_conclusion={"statement": right.statement[:500], "confidence": 0.9},
            ),
            expect_outcome="done",
        ),
    ]
    hypotheses = (*wrong[: 3 if ALL_REFUTED in variants else 1], right)
    return Plan(
        scenario=scenario,
        variants=variants,
        hypotheses=tuple(h for h in hypotheses if any(h.key in s.creates for s in steps)),
        steps=tuple(steps),
        expected=expected_confidences(hypotheses, steps),
    )


def expected_confidences(
    hypotheses: tuple[Hypothesis, ...] | list[Hypothesis], steps: list[Step]
) -> dict[str, Expected]:
    """What cases/confidence.py makes of the plan: evidence per step, then one turn
    without progress for each open hypothesis the step neither created nor focused on."""
    initial = {h.key: h.initial for h in hypotheses}
    counts: dict[str, list[int]] = {}  # key → [supporting, refuting, turns without progress]
    status: dict[str, str] = {}
    for step in steps:
        for key in step.creates:
            counts[key] = [0, 0, 0]
        for key, n in step.supports.items():
            counts[key][0] += n
        for key, n in step.refutes.items():
            counts[key][1] += n
        for key, (s, r, t) in counts.items():
            status[key] = assess(initial[key], s, r, t)[1].value
        for key in counts:
            if status[key] in OPEN and key not in step.creates and key != step.focus:
                counts[key][2] += 1
    expected: dict[str, Expected] = {}
    for key, (s, r, t) in counts.items():
        value, final = assess(initial[key], s, r, t)
        expected[key] = Expected(value, final.value)
    return expected


# --- driving it -------------------------------------------------------------------------


@dataclass
class TurnResult:
    step: Step
    status: int
    body: dict[str, Any]
    seconds: float
    prompt: str  # the first model request's text of this turn

    @property
    def transition(self) -> dict[str, Any]:
        value: dict[str, Any] = self.body.get("phase_transition") or {}
        return value

    @property
    def metadata(self) -> dict[str, Any]:
        value: dict[str, Any] = self.body.get("metadata") or {}
        return value


@dataclass
class Replay:
    plan: Plan
    prepared: Prepared
    consent: dict[str, Any]
    turns: list[TurnResult]
    hypothesis_ids: dict[str, str]  # key → id
    blocked: list[dict[str, Any]]
    case_status_after_stall: str | None
    setup_seconds: float


def _fill(value: Any, evidence_ids: dict[str, str], hypothesis_ids: dict[str, str]) -> Any:
    def hypothesis(text: str) -> str:
        return re.sub(r"\{hypothesis:(\w+)\}", lambda m: hypothesis_ids[m.group(1)], text)

    filled = substitute(value, evidence_ids)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return hypothesis(item)
        if isinstance(item, list):
            return [walk(i) for i in item]
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        return item

    return walk(filled)


def replay(
    api: Api,
    stub: MessagesStub,
    scenario: Scenario,
    index: int,
    *,
    on_turn: Callable[[TurnResult], None] | None = None,
) -> Replay:
    """Set the case up, consent, and play every step of the plan over HTTP."""
    investigation = plan(scenario, index)
    prepared = prepare(api, scenario)
    owner, case_id = prepared.owner, prepared.case_id
    consent = api.call(
        "POST", f"/cases/{case_id}/investigation/consent", owner, json={"strategy": "post_mortem"}
    )
    assert consent.status_code == 200, consent.text
    statements = {h.statement: h.key for h in investigation.hypotheses}
    ids: dict[str, str] = {}
    turns: list[TurnResult] = []
    blocked: list[dict[str, Any]] = []
    after_stall: str | None = None
    for step in investigation.steps:
        answers: list[ToolCall] = []
        if step.read is not None:
            answers.append(
                ToolCall(
                    name="read_evidence",
                    input={
                        "evidence_id": prepared.evidence_ids[step.read],
                        "limit": READ_LIMIT,
                    },
                )
            )
        answers.append(
            ToolCall(name="give_answer", input=_fill(step.answer, prepared.evidence_ids, ids))
        )
        seen = len(stub.requests)
        stub.queue(*answers)
        started = time.perf_counter()
        response = api.call(
            "POST",
            f"/cases/{case_id}/query",
            owner,
            json={"session_id": prepared.session_id, "query": step.query},
        )
        seconds = time.perf_counter() - started
        calls = model_requests(stub.requests[seen:])
        result = TurnResult(
            step=step,
            status=response.status_code,
            body=response.json() if response.content else {},
            seconds=seconds,
            prompt=prompt_text(calls[0].body) if calls else "",
        )
        turns.append(result)
        if on_turn is not None:
            on_turn(result)
        if response.status_code != 200:
            break
        if step.creates:
            listed = api.call("GET", f"/cases/{case_id}/hypotheses", owner).json()["items"]
            ids.update({statements[h["statement"]]: h["hypothesis_id"] for h in listed})
        if step.expect_stalled:
            after_stall = api.call("GET", f"/cases/{case_id}", owner).json()["status"]
        for action in step.then:
            if action == "block_request":
                open_ = api.call(
                    "GET", f"/cases/{case_id}/evidence-requests?open=true", owner
                ).json()["items"]
                for request in open_:
                    moved = api.call(
                        "POST",
                        f"/cases/{case_id}/evidence-requests/{request['request_id']}/status",
                        owner,
                        json={"status": "blocked", "reason": BLOCK_REASON},
                    )
                    assert moved.status_code == 200, moved.text
                    blocked.append(moved.json())
            elif action == "apply_solution":
                listed = api.call("GET", f"/cases/{case_id}/solutions", owner).json()["items"]
                for status in ("applying", "applied"):
                    moved = api.call(
                        "PATCH",
                        f"/cases/{case_id}/solutions/{listed[0]['solution_id']}",
                        owner,
                        json={"status": status},
                    )
                    assert moved.status_code == 200, moved.text
    return Replay(
        plan=investigation,
        prepared=prepared,
        consent=consent.json(),
        turns=turns,
        hypothesis_ids=ids,
        blocked=blocked,
        case_status_after_stall=after_stall,
        setup_seconds=prepared.setup_seconds,
    )
