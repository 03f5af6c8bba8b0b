"""The agent turn's own overhead, excluding the model (issue 13 §4: p95 ≤ 150 ms).

One case holds six evidence files from the scenario suite (uploaded through the whole
pipeline) and the user's knowledge base 30 documents (the suite's runbooks and articles
of the starter global KB, created as the user's own). The offline provider answers:
its "model" is a deterministic analyst that costs about nothing, so a turn's time is
ours — authentication, the session and case checks, memory, retrieval (an embedded query
and the hybrid search over case, user and global knowledge), packing the context,
validation, hypotheses through the case service, the history records, the messages and
the memory update. After a warm-up, `--turns` turns (the suite's questions in rotation)
on the same case, so memory and hypotheses grow as in a long conversation.

The breakdown comes from the history the turn writes: the retrieval before the first
call (the `search_knowledge` tool interaction), the model call (its LLM interaction),
the rest of the turn's stage (context packing, validation, hypotheses and solutions
through the case service), and what follows the stage (messages, memory, the response).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _agent_stack import agent_stack
from _support import ROOT, header, percentile

sys.path.insert(0, str(ROOT))

from sqlalchemy import select

from faultmaven.db.tables import HistoryLLMInteraction, HistoryStage, HistoryToolInteraction
from tests.integration.evidence_helpers import upload
from tests.scenarios.agent.runner import HERE as SCENARIOS_DIR
from tests.scenarios.agent.runner import load_all

TARGET_P95_MS = 150.0
GLOBAL_KB = ROOT / "layers" / "common" / "faultmaven" / "knowledge" / "global_kb"
EVIDENCE = (
    "db-pool-exhaustion/orders-api.log",
    "db-pool-exhaustion/application-prod.yaml",
    "db-pool-exhaustion/hikari-metrics.json",
    "kafka-consumer-lag/enricher.log",
    "kafka-consumer-lag/consumer-groups.txt",
    "tls-cert-expiry/s_client.txt",
)
DOCUMENTS = 30


def documents() -> list[dict[str, Any]]:
    docs = [
        {"title": doc.title, "content": doc.content, "tags": list(doc.tags)}
        for scenario in load_all()
        for doc in scenario.knowledge
    ]
    for entry in json.loads((GLOBAL_KB / "index.json").read_text(encoding="utf-8")):
        if len(docs) >= DOCUMENTS:
            break
        path = GLOBAL_KB / f"{entry['slug']}.md"
        docs.append(
            {
                "title": entry["title"],
                "content": path.read_text(encoding="utf-8"),
                "tags": entry.get("tags", [])[:5],
            }
        )
    return docs[:DOCUMENTS]


def row(label: str, values_ms: list[float]) -> None:
    ordered = sorted(values_ms)
    p50, p95, p99 = (percentile(ordered, f) for f in (0.5, 0.95, 0.99))
    print(f"{label:46} {p50:8.1f} {p95:8.1f} {p99:8.1f} {statistics.fmean(ordered):8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=8)
    args = parser.parse_args()
    questions = [s.question for s in load_all()]
    with agent_stack() as stack, stack.api() as (api, container):
        owner = api.user()
        session_id = api.call("POST", "/sessions", owner, json={}).json()["session_id"]
        case_id = api.case(owner, title="Checkout degraded", priority="high")["case_id"]
        started = time.monotonic()
        for relative in EVIDENCE:
            path: Path = SCENARIOS_DIR / relative
            result = upload(api, owner, case_id, path.name, path.read_bytes())
            assert result["status"] == "completed", result
        uploaded = time.monotonic() - started
        for doc in documents():
            created = api.call(
                "POST",
                "/knowledge/documents",
                owner,
                json={**doc, "content_type": "text/markdown"},
            )
            assert created.status_code == 201, created.text
        print(
            f"setup: {len(EVIDENCE)} evidence files in {uploaded:.1f} s, {DOCUMENTS} KB "
            f"documents in {time.monotonic() - started - uploaded:.1f} s"
        )

        def turn(index: int) -> tuple[float, dict[str, Any]]:
            before = time.perf_counter()
            response = api.call(
                "POST",
                f"/cases/{case_id}/query",
                owner,
                json={"session_id": session_id, "query": questions[index % len(questions)]},
            )
            elapsed = (time.perf_counter() - before) * 1000
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return elapsed, body

        for index in range(args.warmup):
            turn(index)
        walls: list[float] = []
        bodies: list[dict[str, Any]] = []
        for index in range(args.turns):
            wall, body = turn(args.warmup + index)
            walls.append(wall)
            bodies.append(body)
        history_id = bodies[0]["metadata"]["history_session_id"]
        with container.database.session() as session:
            stages = {
                s.stage_id: s
                for s in session.scalars(
                    select(HistoryStage).where(HistoryStage.session_id == history_id)
                )
            }
            tools = session.scalars(
                select(HistoryToolInteraction).where(
                    HistoryToolInteraction.session_id == history_id
                )
            ).all()
            llm = session.scalars(
                select(HistoryLLMInteraction).where(HistoryLLMInteraction.session_id == history_id)
            ).all()
        retrieval: dict[str, float] = {}
        for call in tools:
            if call.stage_execution_id and call.tool_name == "search_knowledge":
                retrieval.setdefault(call.stage_execution_id, float(call.duration_ms))
        model: dict[str, float] = {}
        for call in llm:
            if call.stage_execution_id:
                model[call.stage_execution_id] = model.get(call.stage_execution_id, 0.0) + float(
                    call.duration_ms
                )
        processing, stage_ms, retrieval_ms, model_ms, rest_ms, after_ms, http_ms = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        context_tokens = []
        for wall, body in zip(walls, bodies, strict=True):
            meta = body["metadata"]
            stage = stages.get(f"turn-{meta['turn']}")
            total = float(meta["processing_time_ms"])
            processing.append(total)
            http_ms.append(wall - total)
            context_tokens.append(meta["context_tokens"])
            if stage is None or not stage.started_at_us or not stage.completed_at_us:
                continue
            length = (stage.completed_at_us - stage.started_at_us) / 1000
            found = retrieval.get(stage.execution_id, 0.0)
            spent = model.get(stage.execution_id, 0.0)
            stage_ms.append(length)
            retrieval_ms.append(found)
            model_ms.append(spent)
            rest_ms.append(max(0.0, length - found - spent))
            after_ms.append(max(0.0, total - length))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        header(
            f"Agent turn overhead, offline provider, {args.turns} turns after {args.warmup} "
            f"warm-up ({len(EVIDENCE)} evidence files, {DOCUMENTS} KB documents)"
        )
        print(f"(load average {load} on {os.cpu_count()} cores; in-process app, TestClient)")
        print(f"{'part':46} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean':>8}")
        row("whole POST /cases/{id}/query", walls)
        row("  the turn (metadata.processing_time_ms)", processing)
        row("    its history stage", stage_ms)
        row("      retrieval before the first call", retrieval_ms)
        row("      the offline analyst's call", model_ms)
        row("      packing, validation, case writes, history", rest_ms)
        row("    after the stage: messages, memory", after_ms)
        row("  outside the turn: HTTP, auth, session", http_ms)
        p95 = percentile(sorted(walls), 0.95)
        verdict = "ok" if p95 <= TARGET_P95_MS else "OVER"
        print(f"\nwhole-turn p95 {p95:.1f} ms against the {TARGET_P95_MS:g} ms target: {verdict}")
        print(
            f"first-prompt estimate: {min(context_tokens):,}–{max(context_tokens):,} tokens; "
            f"turn {bodies[-1]['metadata']['turn']} at the end"
        )


if __name__ == "__main__":
    main()
