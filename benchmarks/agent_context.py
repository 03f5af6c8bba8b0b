"""Facts-in-context and tokens per turn over the agent scenario suite
(tests/scenarios/agent/, issue 13 §4: target ≥ 0.9 facts at the default budget).

Each scenario is uploaded through the whole pipeline into a fresh case, its runbooks go
into the user's knowledge base, and its question is asked once through the in-process
app with the Anthropic provider pointed at the local Messages stub (the real SDK), the
scenario's scripted replies queued. Facts-in-context is the share of the scenario's
facts found in the FIRST prompt the stub received (system + every message): what
retrieval put in front of the model before any tool call. Tokens per turn are the
response's input + output tokens over all the turn's model calls (the stub counts ≈ 4
characters of JSON a token), beside the context builder's own estimate of the first
prompt (`metadata.context_tokens`).

Run at the default budget (8,000 tokens) and at 4,000. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _agent_stack import agent_stack
from _support import ROOT, header

sys.path.insert(0, str(ROOT))

from tests.llm_stubs import API_KEY, MessagesStub, estimate
from tests.scenarios.agent.runner import Turn, load_all, model_requests, run

BUDGETS = (8_000, 4_000)


def measure(budget: int, only: list[str] | None) -> list[Turn]:
    scenarios = [s for s in load_all() if not only or s.slug in only]
    turns: list[Turn] = []
    with (
        MessagesStub() as stub,
        agent_stack() as stack,
        stack.api(
            llm_provider="anthropic",
            anthropic_api_key=API_KEY,
            anthropic_base_url=stub.base_url,
            agent_context_budget_tokens=budget,
        ) as (api, _),
    ):
        for scenario in scenarios:
            turn = run(api, scenario, stub)
            if turn.status != 200:
                print(f"{scenario.slug}: HTTP {turn.status} {turn.body}")
            turns.append(turn)
    return turns


def report(budget: int, turns: list[Turn]) -> None:
    header(f"Facts in the first prompt at a {budget:,}-token budget ({len(turns)} scenarios)")
    print(
        f"{'scenario':26} {'facts':>7} {'share':>6} {'context':>8} {'turn tok':>9} "
        f"{'calls':>5}  missing (dropped sections)"
    )
    for turn in turns:
        found = sum(turn.facts.values())
        dropped = turn.metadata.get("dropped_context") or []
        missing = ", ".join(repr(f) for f in turn.missing_facts) or "-"
        if dropped:
            missing += f"  (dropped: {len(dropped)})"
        print(
            f"{turn.prepared.scenario.slug:26} {found:>3}/{len(turn.facts):<3} "
            f"{turn.facts_share:6.2f} {turn.context_tokens:8,} {turn.tokens:9,} "
            f"{turn.metadata.get('model_calls', 0):5}  {missing}"
        )
    shares = [t.facts_share for t in turns]
    tokens = [t.tokens for t in turns]
    context = [t.context_tokens for t in turns]
    print(
        f"\nmean facts-in-context {statistics.fmean(shares):.3f} "
        f"(target ≥ 0.9 at 8,000; lowest {min(shares):.2f})"
    )
    print(
        f"tokens per turn (input + output, all calls): mean {statistics.fmean(tokens):,.0f}, "
        f"max {max(tokens):,}"
    )
    print(
        f"first-prompt estimate (context_tokens): mean {statistics.fmean(context):,.0f}, "
        f"max {max(context):,}"
    )
    fixed = [fixed_tokens(t) for t in turns if model_requests(t.requests)]
    if fixed:
        system, tools = (statistics.fmean(part) for part in zip(*fixed, strict=True))
        print(
            f"of the first request (≈ 4 characters a token): system prompt {system:,.0f}, "
            f"tool definitions {tools:,.0f}"
        )


def fixed_tokens(turn: Turn) -> tuple[int, int]:
    """The system prompt's and the tool definitions' share of the first request: what
    the budget holds before any case content."""
    body = model_requests(turn.requests)[0].body
    return estimate(body.get("system") or ""), estimate(body.get("tools") or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="scenario slugs to run")
    parser.add_argument("--budgets", nargs="*", type=int, default=list(BUDGETS))
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(load average {load} on {os.cpu_count()} cores)")
    for budget in args.budgets:
        started = time.monotonic()
        turns = measure(budget, args.only)
        report(budget, turns)
        print(f"({time.monotonic() - started:.0f} s, uploads included)")


if __name__ == "__main__":
    main()
