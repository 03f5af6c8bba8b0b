"""The offline analyst's answer: deterministic, from the same context a model would get.

When no model is configured (or the offline provider answered as the fallback), the
turn still answers: the evidence insights and knowledge chunks most relevant to the
question, ranked and cited; hypotheses drawn from the error clusters of the evidence and
from the titles of matching runbooks; and a request for a kind of evidence the case
lacks. It says plainly that no model wrote it. The same draft answers a turn that ran out
of time before the model did.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from faultmaven.agent.context import ContextSource, SourceRegistry
from faultmaven.agent.memory import cap
from faultmaven.agent.models import (
    AcquisitionGuidance,
    AgentAnswer,
    AnomalyFrameDraft,
    EvidenceCategory,
    EvidenceRequestDraft,
    HypothesisDraft,
    ResponseType,
    WorkingConclusion,
)
from faultmaven.cases.models import HypothesisCategory, HypothesisOut
from faultmaven.core.terms import overlap, terms
from faultmaven.evidence.models import EvidenceOut
from faultmaven.investigation.models import CATEGORY_OF_DATA_TYPE
from faultmaven.knowledge.models import SearchHit

NOTICE = (
    "[offline analyst] No language model is configured for this deployment, so this "
    "answer was assembled deterministically from the case's evidence and knowledge bases."
)
MAX_FACTS = 6
MAX_HYPOTHESES = 3
# A fact scoring below this share of the best one is not relevant enough to list.
RELEVANT_SHARE = 0.45
# A runbook becomes a hypothesis only when it is nearly as relevant as the best fact.
RUNBOOK_SHARE = 0.7

# What to ask for first when it is missing, and how to get it.
_WANTED: tuple[tuple[EvidenceCategory, str, str, AcquisitionGuidance], ...] = (
    (
        EvidenceCategory.SYMPTOMS,
        "Error logs",
        "Logs of the failing service around the time the problem started.",
        AcquisitionGuidance(
            steps=[
                "Find the failing pod or host",
                "Export its logs for the incident window",
                "Upload the file to this case",
            ],
            commands=[
                "kubectl logs <pod> --since=1h --timestamps",
                "journalctl -u <service> --since '-1h'",
            ],
            expected_output="timestamped log lines with the errors",
        ),
    ),
    (
        EvidenceCategory.METRICS,
        "Metrics around the incident",
        "Error rate, latency and saturation (CPU, memory, connections) of the affected service.",
        AcquisitionGuidance(
            steps=["Open the service dashboard", "Export the incident window as CSV or JSON"],
            commands=[
                "curl -s '<prometheus>/api/v1/query_range?query=<expr>&start=<t0>&end=<t1>&step=60'"
            ],
            ui_locations=["Grafana > service dashboard > panel > Inspect > Data"],
        ),
    ),
    (
        EvidenceCategory.CHANGES,
        "Recent changes",
        "Deploys, configuration changes and feature-flag flips shortly before the problem.",
        AcquisitionGuidance(
            steps=["List the deploys of the last 24 hours", "Note config or flag changes"],
            commands=[
                "kubectl rollout history deployment/<name>",
                "git log --since='24 hours ago' --oneline",
            ],
        ),
    ),
    (
        EvidenceCategory.CONFIGURATION,
        "Configuration of the service",
        "The deployed configuration (manifests, Helm values, connection settings).",
        AcquisitionGuidance(
            steps=["Export the live manifest", "Redact nothing: secrets are redacted on upload"],
            commands=["kubectl get deployment <name> -o yaml"],
        ),
    ),
)
_CATEGORY_WORDS: tuple[tuple[HypothesisCategory, tuple[str, ...]], ...] = (
    (
        HypothesisCategory.NETWORK,
        (
            "dns",
            "resolve",
            "nxdomain",
            "tls",
            "certificate",
            "x509",
            "handshake",
            "connection refused",
            "unreachable",
            "network",
        ),
    ),
    (
        HypothesisCategory.HARDWARE,
        ("disk", "no space", "oom", "memory", "cpu", "enospc", "inode", "throttl"),
    ),
    (
        HypothesisCategory.DATA,
        ("sql", "database", "deadlock", "query", "index", "replica", "pool", "postgres", "mysql"),
    ),
    (
        HypothesisCategory.EXTERNAL,
        ("upstream", "429", "rate limit", "third-party", "503", "provider", "kafka", "lag"),
    ),
    (HypothesisCategory.CONFIG, ("config", "setting", "env", "flag", "timeout=", "limit")),
    (
        HypothesisCategory.CODE,
        (
            "exception",
            "nullpointer",
            "stack",
            "panic",
            "traceback",
            "regression",
            "deploy",
            "release",
            "bug",
        ),
    ),
)
_ERROR_WORDS = re.compile(
    r"\b(?:errors?|exceptions?|fail(?:ed|ure|s|ing)?|timeouts?|timed out|refused|denied|"
    r"exhaust(?:ed|ion)?|oom(?:killed)?|killed|expired|no space|lag|panic|fatal|critical|"
    r"unavailable|rejected|(?:status|code|http)[=: ]?5\d\d|5\d\d (?:from|error|response))\b",
    re.IGNORECASE,
)
# "no ERROR or WARN lines", "0 errors", "without failures": a healthy file says so.
_NEGATED = re.compile(
    r"\b(?:no|zero|0|without|none of the)\s+(?:\w+\s+){0,2}?"
    r"(?:errors?|error|warn\w*|failures?|exceptions?|timeouts?)\b",
    re.IGNORECASE,
)


def _errorish(text: str) -> bool:
    """Whether `text` reports a failure: an error word that is not negated."""
    stripped = _NEGATED.sub(" ", text)
    return bool(_ERROR_WORDS.search(stripped))


_QUOTED = re.compile(r"['\"“]([^'\"”]{12,})['\"”]")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Fact:
    text: str
    source: ContextSource
    score: float


def categories_present(evidence: Sequence[EvidenceOut]) -> set[EvidenceCategory]:
    return {
        CATEGORY_OF_DATA_TYPE[e.data_type.value]
        for e in evidence
        if e.data_type is not None and e.data_type.value in CATEGORY_OF_DATA_TYPE
    }


def missing_request(evidence: Sequence[EvidenceOut]) -> EvidenceRequestDraft | None:
    present = categories_present(evidence)
    for category, label, description, guidance in _WANTED:
        if category not in present:
            return EvidenceRequestDraft(
                label=label,
                description=description,
                category=category,
                priority=2,
                guidance=guidance,
            )
    return None


def guess_category(text: str) -> HypothesisCategory:
    lowered = text.lower()
    for category, words in _CATEGORY_WORDS:
        if any(word in lowered for word in words):
            return category
    return HypothesisCategory.OTHER


def ranked_facts(
    query: str,
    registry: SourceRegistry,
    evidence: Sequence[EvidenceOut],
    hits: Sequence[SearchHit],
) -> list[Fact]:
    """Evidence insights and knowledge chunks shown in the context, most relevant first:
    word overlap with the question; for evidence, error-like wording; for knowledge,
    overlap with the evidence's own words (a runbook that names the errors the logs show)
    and the retrieval rank. Facts far below the best one are left out."""
    wanted = terms(query)
    facts: list[Fact] = []
    seen_words: set[str] = set()
    for item in evidence:
        source = registry.resolve(f"{item.evidence_id}#digest")
        if source is None:
            continue
        for rank, insight in enumerate(item.insights or ([item.summary] if item.summary else [])):
            errorish = _errorish(insight)
            if errorish:
                seen_words |= terms(insight)
            score = (
                0.15
                + overlap(wanted, f"{item.filename} {insight}")
                + (0.25 if errorish else 0.0)
                - rank * 0.01
            )
            facts.append(Fact(insight, source, score))
    for rank, hit in enumerate(hits):
        source = registry.resolve(f"{hit.document_id}#{hit.chunk_id}")
        if source is None:
            continue
        first = " ".join(hit.text.split())
        text = f"{hit.title} {hit.text}"
        score = (
            overlap(wanted, text)
            + 0.5 * _share(seen_words, text)
            + 0.1 * (1 - rank / max(1, len(hits)))
        )
        if hit.scope.value == "case" and registry.resolve(f"{hit.document_id}#digest"):
            continue  # the file's own insights, listed above, say it better than a raw chunk
        facts.append(Fact(f"{hit.title}: {cap(first, 220)}", source, score))
    facts.sort(key=lambda f: -f.score)
    if facts:
        floor = facts[0].score * RELEVANT_SHARE
        facts = [f for f in facts if f.score >= floor]
    return facts


def _share(words: set[str], text: str) -> float:
    """The share of `words` (the evidence's error vocabulary) that `text` contains."""
    if not words:
        return 0.0
    return len(words & terms(text)) / len(words)


def draft(
    *,
    query: str,
    registry: SourceRegistry,
    evidence: Sequence[EvidenceOut],
    hits: Sequence[SearchHit],
    hypotheses: Sequence[HypothesisOut],
    reason: str = NOTICE,
    lead: bool = False,
    case_title: str = "",
) -> AgentAnswer:
    facts = ranked_facts(query, registry, evidence, hits)[:MAX_FACTS]
    known = {_norm(h.statement) for h in hypotheses}
    drafts: list[HypothesisDraft] = []
    origins: set[str] = set()  # one hypothesis per evidence file or document
    for fact in facts:
        if len(drafts) >= MAX_HYPOTHESES:
            break
        origin = str(
            fact.source.metadata.get("evidence_id")
            or fact.source.metadata.get("document_id")
            or fact.source.source_id
        )
        if origin in origins:
            continue
        if fact.source.metadata.get("scope") in ("user", "global"):
            if fact.score < facts[0].score * RUNBOOK_SHARE:
                continue
            statement = f'The incident matches the runbook "{cap(fact.source.title, 200)}"'
            likelihood = 0.4
        elif _errorish(fact.text):
            quoted = _QUOTED.search(fact.text)
            symptom = quoted.group(1) if quoted else fact.text
            statement = (
                f'The failure "{cap(symptom.replace("<*>", "…"), 200)}" seen in '
                f"{cap(fact.source.title, 120)} causes the reported problem"
            )
            likelihood = 0.5
        else:
            continue
        if _norm(statement) in known:
            continue
        known.add(_norm(statement))
        origins.add(origin)
        drafts.append(
            HypothesisDraft(
                statement=cap(statement, 480),
                category=guess_category(fact.text + " " + fact.source.title),
                likelihood=likelihood,
                rationale=f"Offline analyst: drawn from {fact.source.source_id}.",
                supporting_source_ids=[fact.source.source_id],
            )
        )
    request = missing_request(evidence)
    lines = [reason, ""]
    if facts:
        lines.append("Most relevant to your question:")
        lines += [f"- {cap(f.text, 300)} [{f.source.handle}]" for f in facts]
    else:
        lines.append(
            "Nothing in the case's evidence or the knowledge bases matches the question yet."
        )
    if drafts:
        lines += ["", "Hypotheses to check:"]
        lines += [f"- {d.statement}" for d in drafts]
    if request is not None:
        lines += ["", f"To go further, please provide: {request.label} — {request.description}"]
    if not facts:
        response_type = ResponseType.NEEDS_MORE_DATA
    elif drafts:
        response_type = ResponseType.HYPOTHESIS_PROPOSAL
    elif any(f.source.metadata.get("evidence_id") for f in facts):
        response_type = ResponseType.EVIDENCE_ANALYSIS
    else:
        response_type = ResponseType.KNOWLEDGE_REFERENCE
    top = facts[0].score if facts else 0.0
    confidence = round(min(0.5, 0.15 + top * 0.3), 2)
    lead_fields: dict[str, object] = {}
    if lead:
        # As lead investigator it also frames what it can and states where things stand;
        # what only the user knows (impact, scope) stays for the user to say.
        symptom = next((f.text for f in facts if _errorish(f.text)), None)
        lead_fields = {
            "anomaly_frame": AnomalyFrameDraft(
                what_is_broken=cap(case_title, 480) or None,
                actual_behaviour=cap(symptom, 480) if symptom else None,
            ),
            "working_conclusion": WorkingConclusion(
                statement=cap(
                    drafts[0].statement
                    if drafts
                    else (facts[0].text if facts else "Not enough evidence yet"),
                    480,
                ),
                confidence=confidence,
                would_change_it=[request.description] if request is not None else [],
                next_steps=[f"Provide {request.label.lower()}"] if request is not None else [],
            ),
        }
    return AgentAnswer(
        response_type=response_type,
        content=cap("\n".join(lines), 7900) if len("\n".join(lines)) > 7900 else "\n".join(lines),
        confidence=confidence,
        cited_source_ids=list(dict.fromkeys(f.source.source_id for f in facts)),
        hypotheses=drafts,
        evidence_requests=[request] if request is not None else [],
        **lead_fields,
    )
