"""Runs one agent scenario against the real app, the way a client does, and measures what
the model was shown.

A scenario (one directory beside this file) is an incident: evidence files in their real
formats, optional runbooks for the user's knowledge base, a question, the facts a good
answer needs, and the model's scripted replies for the Messages stub. The runner registers
a user, opens a session and a case, uploads the evidence through the presigned form (the
whole preprocessing pipeline runs), creates the runbooks, queues the script, asks, and
returns everything a test or a benchmark wants to look at — the AgentResponse, the
requests the stub received, the case's hypotheses right after the turn (the suite's
tables are emptied between tests), and facts-in-context: the share of the facts found in
the FIRST prompt the model received. That prompt is what retrieval put in front of the
model before any tool call, so it measures the context builder, not the script.

Evidence ids exist only at run time: the script says `{evidence:<filename>}` and the
runner substitutes the uploaded file's id (`{evidence:<filename>}#digest` cites its
digest).
"""

from __future__ import annotations

import json
import re
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import Api, User
from tests.integration.evidence_helpers import upload
from tests.llm_stubs import Answer, MessagesStub, Received, Text, ToolCall

HERE = Path(__file__).resolve().parent
SCENARIO_FILE = "scenario.toml"
KNOWLEDGE_DIR = "kb"
_PLACEHOLDER = re.compile(r"\{evidence:([^}]+)\}")
_CONTENT_TYPES = {
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".sql": "application/sql",
}


@dataclass(frozen=True)
class KnowledgeDoc:
    title: str
    content: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    slug: str
    path: Path
    title: str
    description: str
    question: str
    facts: tuple[str, ...]
    evidence: tuple[Path, ...]
    knowledge: tuple[KnowledgeDoc, ...]
    script: tuple[dict[str, Any], ...]
    # Overrides of the generated whole-investigation replay (investigation.py).
    investigation: dict[str, Any] = field(default_factory=dict)

    def answers(self, evidence_ids: dict[str, str]) -> list[Answer]:
        """The script as stub answers, with the run's evidence ids put in."""
        answers: list[Answer] = []
        for step in self.script:
            if "tool" in step:
                arguments = substitute(step.get("input", {}), evidence_ids)
                answers.append(ToolCall(name=step["tool"], input=arguments))
            else:
                answers.append(Text(text=substitute(step["text"], evidence_ids)))
        return answers

    @property
    def cited_files(self) -> set[str]:
        """Files the final answer cites (placeholders in its `cited_source_ids`)."""
        final = self.script[-1].get("input", {})
        return {
            match.group(1)
            for source in final.get("cited_source_ids", [])
            for match in _PLACEHOLDER.finditer(source)
        }

    @property
    def hypothesis_statements(self) -> list[str]:
        final = self.script[-1].get("input", {})
        return [h["statement"] for h in final.get("hypotheses", [])]


def load(path: Path) -> Scenario:
    data = tomllib.loads((path / SCENARIO_FILE).read_text(encoding="utf-8"))
    knowledge = tuple(
        KnowledgeDoc(
            title=doc["title"],
            content=(path / doc["file"]).read_text(encoding="utf-8"),
            tags=tuple(doc.get("tags", ())),
        )
        for doc in data.get("knowledge", [])
    )
    evidence = tuple(sorted(p for p in path.iterdir() if p.is_file() and p.name != SCENARIO_FILE))
    return Scenario(
        slug=path.name,
        path=path,
        title=data["title"],
        description=data.get("description", ""),
        question=data["question"],
        facts=tuple(data["facts"]),
        evidence=evidence,
        knowledge=knowledge,
        script=tuple(data["script"]),
        investigation=dict(data.get("investigation", {})),
    )


def load_all(root: Path = HERE) -> list[Scenario]:
    return [load(p) for p in sorted(root.iterdir()) if (p / SCENARIO_FILE).is_file()]


def substitute(value: Any, evidence_ids: dict[str, str]) -> Any:
    """Replace `{evidence:<filename>}` everywhere in a JSON-like value."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in evidence_ids:
                raise KeyError(f"the script cites {name!r}, which the scenario does not upload")
            return evidence_ids[name]

        return _PLACEHOLDER.sub(replace, value)
    if isinstance(value, list):
        return [substitute(item, evidence_ids) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, evidence_ids) for key, item in value.items()}
    return value


# --- what the model was shown -------------------------------------------------------


def _block_texts(content: Any) -> Iterable[str]:
    if isinstance(content, str):
        yield content
        return
    for block in content or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            yield str(block.get("text", ""))
        elif kind == "tool_result":
            yield from _block_texts(block.get("content"))
        elif kind == "tool_use":
            yield json.dumps(block.get("input", {}))


def prompt_text(body: dict[str, Any]) -> str:
    """System prompt plus the text of every message of one Messages request."""
    parts = list(_block_texts(body.get("system")))
    for message in body.get("messages") or []:
        parts.extend(_block_texts(message.get("content")))
    return "\n".join(parts)


def facts_found(facts: Iterable[str], text: str) -> dict[str, bool]:
    lowered = text.lower()
    return {fact: fact.lower() in lowered for fact in facts}


def model_requests(requests: Iterable[Received]) -> list[Received]:
    """The Messages calls (not token counting) among what the stub received."""
    return [r for r in requests if r.path.split("?")[0].endswith("/v1/messages")]


# --- a run ------------------------------------------------------------------------------


@dataclass
class Prepared:
    scenario: Scenario
    owner: User
    session_id: str
    case_id: str
    evidence_ids: dict[str, str]
    evidence: dict[str, dict[str, Any]]
    document_ids: list[str]
    setup_seconds: float


@dataclass
class Turn:
    prepared: Prepared
    status: int
    body: dict[str, Any]
    requests: list[Received]
    hypotheses: list[dict[str, Any]]
    seconds: float
    facts: dict[str, bool] = field(default_factory=dict)

    @property
    def facts_share(self) -> float:
        return sum(self.facts.values()) / len(self.facts) if self.facts else 0.0

    @property
    def missing_facts(self) -> list[str]:
        return [fact for fact, found in self.facts.items() if not found]

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.body.get("metadata") or {}
        return meta

    @property
    def tokens(self) -> int:
        """Input + output tokens of the turn (every model call), as the response says."""
        return int(self.metadata.get("input_tokens", 0)) + int(
            self.metadata.get("output_tokens", 0)
        )

    @property
    def context_tokens(self) -> int:
        return int(self.metadata.get("context_tokens", 0))

    @property
    def first_prompt(self) -> str:
        calls = model_requests(self.requests)
        return prompt_text(calls[0].body) if calls else ""


def prepare(api: Api, scenario: Scenario) -> Prepared:
    """A fresh user, session and case holding the scenario's evidence (processed) and
    runbooks (indexed)."""
    started = time.perf_counter()
    owner = api.user()
    session = api.call("POST", "/sessions", owner, json={})
    assert session.status_code == 201, session.text
    case = api.case(owner, title=scenario.title, description=scenario.description)
    evidence: dict[str, dict[str, Any]] = {}
    for path in scenario.evidence:
        content_type = _CONTENT_TYPES.get(path.suffix, "text/plain")
        result = upload(
            api, owner, case["case_id"], path.name, path.read_bytes(), content_type=content_type
        )
        assert result["status"] == "completed", (path.name, result.get("failure_reason"))
        evidence[path.name] = result
    documents = []
    for doc in scenario.knowledge:
        created = api.call(
            "POST",
            "/knowledge/documents",
            owner,
            json={
                "title": doc.title,
                "content": doc.content,
                "content_type": "text/markdown",
                "tags": list(doc.tags),
            },
        )
        assert created.status_code == 201, created.text
        documents.append(created.json()["document_id"])
    return Prepared(
        scenario=scenario,
        owner=owner,
        session_id=session.json()["session_id"],
        case_id=case["case_id"],
        evidence_ids={name: body["evidence_id"] for name, body in evidence.items()},
        evidence=evidence,
        document_ids=documents,
        setup_seconds=time.perf_counter() - started,
    )


def ask(
    api: Api,
    prepared: Prepared,
    stub: MessagesStub | None = None,
    *,
    question: str | None = None,
) -> Turn:
    """One turn. With `stub`, the scenario's script is queued first and facts-in-context
    is measured on the first model request of this turn; without, the app's own provider
    answers (the offline analyst in the suite)."""
    scenario = prepared.scenario
    seen = len(stub.requests) if stub is not None else 0
    if stub is not None:
        stub.queue(*scenario.answers(prepared.evidence_ids))
    started = time.perf_counter()
    response = api.call(
        "POST",
        f"/cases/{prepared.case_id}/query",
        prepared.owner,
        json={"session_id": prepared.session_id, "query": question or scenario.question},
    )
    seconds = time.perf_counter() - started
    hypotheses = api.call("GET", f"/cases/{prepared.case_id}/hypotheses", prepared.owner)
    assert hypotheses.status_code == 200, hypotheses.text
    items = hypotheses.json()["items"]
    requests = list(stub.requests[seen:]) if stub is not None else []
    turn = Turn(
        prepared=prepared,
        status=response.status_code,
        body=response.json() if response.content else {},
        requests=requests,
        hypotheses=items,
        seconds=seconds,
    )
    if stub is not None:
        turn.facts = facts_found(scenario.facts, turn.first_prompt)
    return turn


def run(api: Api, scenario: Scenario, stub: MessagesStub | None = None) -> Turn:
    return ask(api, prepare(api, scenario), stub)
