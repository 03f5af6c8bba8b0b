"""The offline analyst ranks what the context holds and proposes only relevant causes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faultmaven.agent.context import SourceRegistry, evidence_units, knowledge_units
from faultmaven.agent.models import ResponseType
from faultmaven.agent.offline import draft
from faultmaven.core.terms import terms
from faultmaven.evidence.models import EvidenceOut
from faultmaven.knowledge.models import SearchHit

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def evidence(evidence_id: str, filename: str, data_type: str, insights: list[str]) -> EvidenceOut:
    fields: dict[str, Any] = {
        "evidence_id": evidence_id,
        "case_id": "case_1",
        "uploaded_by": "usr_1",
        "filename": filename,
        "content_type": "text/plain",
        "size_bytes": 100,
        "source": "upload",
        "status": "completed",
        "failure_reason": None,
        "job_id": "job_1",
        "data_type": data_type,
        "classification": None,
        "summary": insights[0],
        "insights": insights,
        "pii_detected": False,
        "secrets_detected": False,
        "redaction_counts": {},
        "created_at": NOW,
        "updated_at": NOW,
        "completed_at": NOW,
    }
    return EvidenceOut.model_validate(fields)


def hit(document_id: str, title: str, text: str, scope: str = "global") -> SearchHit:
    return SearchHit.model_validate(
        {
            "document_id": document_id,
            "chunk_id": f"{document_id}-0",
            "scope": scope,
            "title": title,
            "text": text,
            "score": 0.5,
            "similarity": None,
            "source": "kb",
            "heading_path": [],
        }
    )


def answer_for(query: str, files: list[EvidenceOut], hits: list[SearchHit]) -> Any:
    registry = SourceRegistry()
    evidence_units(registry, files, terms(query))
    knowledge_units(registry, hits)
    return draft(query=query, registry=registry, evidence=files, hits=hits, hypotheses=[]), registry


def test_terms_split_compounds_and_stem() -> None:
    assert terms("checkout-api requests timed out") >= terms("checkout request time")
    assert {"checkout", "request"} <= terms("checkout-api requests")
    assert "the" not in terms("the pool")


def test_the_evidence_and_the_runbook_that_names_its_errors_lead() -> None:
    log = evidence(
        "evd_1",
        "checkout.log",
        "logs_and_errors",
        [
            "212 ERROR lines: HikariPool-1 - Connection is not available, request timed out",
            "errors began at 10:02:05",
        ],
    )
    hits = [
        hit("kbd_tls", "TLS Certificate Expiry", "x509: certificate has expired"),
        hit(
            "kbd_pool",
            "Connection Pool Exhaustion",
            "HikariPool-1 - Connection is not available, request timed out after 30000ms",
        ),
        hit("kbd_dns", "DNS Resolution Failures", "NXDOMAIN from CoreDNS"),
    ]
    answer, registry = answer_for("Why do checkout requests time out?", [log], hits)
    statements = [h.statement for h in answer.hypotheses]
    assert any("Connection Pool Exhaustion" in s for s in statements)
    assert not any("TLS" in s or "DNS" in s for s in statements)
    assert answer.cited_source_ids[0] == "evd_1#digest"
    assert "kbd_tls#kbd_tls-0" not in answer.cited_source_ids
    assert answer.response_type is ResponseType.HYPOTHESIS_PROPOSAL
    assert answer.content.startswith("[offline analyst]")
    # Metrics are missing: it asks for them.
    assert answer.evidence_requests[0].category.value == "metrics"
    for source_id in answer.cited_source_ids:
        assert registry.resolve(source_id) is not None


def test_one_hypothesis_per_file_and_none_twice() -> None:
    log = evidence(
        "evd_1",
        "app.log",
        "logs_and_errors",
        [
            "ERROR disk /var/lib/postgresql: No space left on device (ENOSPC) 41 times",
            "ERROR checkpoint failed: could not write to file",
        ],
    )
    answer, _ = answer_for("why is postgres down?", [log], [])
    assert len(answer.hypotheses) == 1
    assert answer.hypotheses[0].category.value == "hardware"
    assert answer.hypotheses[0].supporting_source_ids == ["evd_1#digest"]


def test_nothing_relevant_asks_for_logs() -> None:
    answer, _ = answer_for("where do I start?", [], [])
    assert answer.response_type is ResponseType.NEEDS_MORE_DATA
    assert answer.evidence_requests[0].category.value == "symptoms"
    assert answer.evidence_requests[0].guidance.commands
