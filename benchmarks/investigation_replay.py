"""The incident scenarios replayed as whole investigations (issue 14 §5 figures).

Each of the fourteen scenarios (tests/scenarios/agent/) is set up as a client would —
evidence uploaded through the whole preprocessing pipeline, runbooks in the knowledge
base — and its generated investigation (tests/scenarios/agent/investigation.py) is played
against the in-process app, the real `anthropic` SDK talking to the Messages stub: a
wrong hypothesis refuted, the scenario's own validated, a fix applied and verified, the
case documented; some scenarios block a request, stall, or refute everything first.

Per scenario: the phases reached, the lead turn that validated the scenario's hypothesis,
the turns in all, the model calls, the tokens the stub reported and their cost at the
shipped prices the gateway applies (the response's `metadata.cost_usd`). Over all turns:
the overhead per OODA iteration excluding the model — a turn's wall time minus the time
its model calls took (the turn's LLM interactions in the history) — p50/p95. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass

from _agent_stack import agent_stack
from _support import header, percentile
from sqlalchemy import select

from faultmaven.db.tables import HistoryLLMInteraction, HistoryStage
from tests.llm_stubs import API_KEY, MessagesStub
from tests.scenarios.agent.investigation import Replay, replay
from tests.scenarios.agent.runner import load_all


@dataclass
class Figures:
    slug: str
    variants: str
    path: str
    validated_at: int | None
    turns: int
    calls: int
    tokens: int
    cost_usd: float
    overheads_ms: list[float]
    setup_s: float


def figures(run: Replay, model_ms: dict[int, float]) -> Figures:
    phases = [1]
    validated_at = None
    for number, turn in enumerate(run.turns, 1):
        move = turn.transition
        if move.get("outcome") in ("advance", "loop_back"):
            phases.append(int(move["to"]))
            if (move["from"], move["to"]) == (4, 5) and validated_at is None:
                validated_at = number
    done = run.turns[-1].transition.get("outcome") == "done"
    overheads = [
        turn.seconds * 1000 - model_ms.get(int(turn.metadata["turn"]), 0.0) for turn in run.turns
    ]
    return Figures(
        slug=run.plan.scenario.slug,
        variants=",".join(run.plan.variants) or "-",
        path="→".join(str(p) for p in phases) + (" done" if done else ""),
        validated_at=validated_at,
        turns=len(run.turns),
        calls=sum(int(t.metadata.get("model_calls", 0)) for t in run.turns),
        tokens=sum(
            int(t.metadata.get("input_tokens", 0)) + int(t.metadata.get("output_tokens", 0))
            for t in run.turns
        ),
        cost_usd=sum(float(t.metadata.get("cost_usd", 0.0)) for t in run.turns),
        overheads_ms=overheads,
        setup_s=run.setup_seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="scenario slugs (default: all)")
    args = parser.parse_args()
    scenarios = list(enumerate(load_all()))
    if args.only:
        scenarios = [(i, s) for i, s in scenarios if s.slug in args.only]
    rows: list[Figures] = []
    with (
        MessagesStub() as stub,
        agent_stack() as stack,
        stack.api(
            llm_provider="anthropic",
            anthropic_api_key=API_KEY,
            anthropic_base_url=stub.base_url,
            llm_summaries=False,
        ) as (api, container),
    ):
        for index, scenario in scenarios:
            run = replay(api, stub, scenario, index)
            assert all(t.status == 200 for t in run.turns), [t.body for t in run.turns]
            assert stub.pending() == 0, f"{scenario.slug}: the script was not consumed"
            history_id = run.turns[0].metadata["history_session_id"]
            with container.database.session() as session:
                stages = {
                    s.execution_id: s.stage_id
                    for s in session.scalars(
                        select(HistoryStage).where(HistoryStage.session_id == history_id)
                    )
                }
                model_ms: dict[int, float] = {}
                for call in session.scalars(
                    select(HistoryLLMInteraction).where(
                        HistoryLLMInteraction.session_id == history_id
                    )
                ):
                    stage = stages.get(call.stage_execution_id or "", "")
                    if stage.startswith("turn-"):
                        number = int(stage.removeprefix("turn-"))
                        model_ms[number] = model_ms.get(number, 0.0) + float(call.duration_ms)
            rows.append(figures(run, model_ms))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header(
        f"Investigation replays: {len(rows)} scenarios, Messages stub "
        f"(prices: the gateway's shipped table)"
    )
    print(f"(load average {load} on {os.cpu_count()} cores; in-process app, TestClient)")
    print(
        f"{'scenario':24} {'variants':18} {'phases reached':22} {'valid@':>6} {'turns':>5} "
        f"{'calls':>5} {'tokens':>8} {'cost $':>9} {'setup s':>7}"
    )
    for r in rows:
        print(
            f"{r.slug:24} {r.variants:18} {r.path:22} {r.validated_at or '-':>6} {r.turns:>5} "
            f"{r.calls:>5} {r.tokens:>8,} {r.cost_usd:>9.4f} {r.setup_s:>7.1f}"
        )
    overheads = sorted(o for r in rows for o in r.overheads_ms)
    print(
        f"\nper investigation: {statistics.fmean(r.turns for r in rows):.1f} turns, "
        f"{statistics.fmean(r.tokens for r in rows):,.0f} tokens, "
        f"${statistics.fmean(r.cost_usd for r in rows):.4f} (mean of {len(rows)})"
    )
    print(
        f"overhead per iteration excluding the model ({len(overheads)} turns): "
        f"p50 {percentile(overheads, 0.5):.1f} ms, p95 {percentile(overheads, 0.95):.1f} ms, "
        f"max {overheads[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
