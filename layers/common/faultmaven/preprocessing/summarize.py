"""The Summarize step's model call: a ≤ 500-character summary and 3-10 key insights of an
extraction, as a validated structured answer, or the analyzer's deterministic summary
when there is no model, when the model fails or when its answer does not fit.

The model sees only the redacted extraction (Redact ran before this step, and the
gateway redacts once more); its answer is redacted again before it is stored, because
stored text must never carry a secret whatever the model writes. Each run is a history
session (agent type `preprocessing`) with one stage and its interactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from faultmaven.core.errors import AppError
from faultmaven.core.llm import Message
from faultmaven.core.logging import logger
from faultmaven.preprocessing.extract import MAX_SUMMARY_CHARS, Extraction, cap_chars
from faultmaven.preprocessing.redact import redact

if TYPE_CHECKING:
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.llm.service import LanguageModels

AGENT_TYPE = "preprocessing"
CHAIN_ID = "preprocessing-v1"
STAGE_ID = "summarize"
MAX_INSIGHT_CHARS = 300
# The extraction is ≤ 8 KB; this bounds the prompt whatever a future analyzer returns.
MAX_PROMPT_EXTRACTION_CHARS = 12_000
DEADLINE_SECONDS = 120.0  # the step's Lambda has 5 minutes

CHAIN_DEFINITION: dict[str, Any] = {
    "chain_id": CHAIN_ID,
    "stages": [
        {"stage_id": "classify", "agent": "classifier"},
        {"stage_id": "extract", "agent": "analyzer"},
        {"stage_id": "redact", "agent": "redactor"},
        {"stage_id": STAGE_ID, "agent": "summarizer"},
        {"stage_id": "index", "agent": "indexer"},
    ],
}

SYSTEM_PROMPT = """You are FaultMaven's evidence summarizer, working for SRE and on-call \
engineers in the middle of an incident. You receive the deterministic analysis of one \
uploaded file (its type, an analyzer's draft summary and insights, and the extracted \
content). Secrets and personal data were already replaced by placeholders like \
[REDACTED:EMAIL]; keep placeholders as they are and never guess what they hid.

Answer by calling the tool record_summary with:
- summary: at most 500 characters; what the file shows that matters for troubleshooting \
(errors, their counts and time span, the components involved, the most likely lead).
- key_insights: 3 to 10 short, concrete, factual statements, most important first, each \
grounded in the content (quote error names, codes, counts, times). No speculation beyond \
what the content shows; no advice without evidence."""


Insight = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]


class SummaryAnswer(BaseModel):
    """What the model must return (also the tool's input schema)."""

    model_config = ConfigDict(extra="ignore")

    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=MAX_SUMMARY_CHARS)
    ]
    key_insights: list[Insight] = Field(min_length=3, max_length=10)


@dataclass(frozen=True)
class Summary:
    summary: str
    insights: list[str]
    # How it was made, stored with the evidence: source (model | offline | deterministic),
    # provider and model when one answered, the history session, and why a fallback.
    origin: dict[str, Any]


def _prompt(data_type: str, filename: str, extraction: Extraction) -> str:
    insights = "\n".join(f"- {insight}" for insight in extraction.insights)
    body = extraction.extraction[:MAX_PROMPT_EXTRACTION_CHARS]
    return (
        f"<data_type>{data_type}</data_type>\n"
        f"<filename>{filename}</filename>\n"
        f"<summary>\n{extraction.summary}\n</summary>\n"
        f"<key_insights>\n{insights}\n</key_insights>\n"
        f"<extraction>\n{body}\n</extraction>\n"
        "The summary and key_insights above are the analyzer's deterministic draft: "
        "improve them from the extraction."
    )


def _clean(text: str, limit: int) -> str:
    return cap_chars(redact(text).text, limit)


class Summarizer:
    def __init__(
        self,
        models: Callable[[], LanguageModels] | None,
        recorder: Callable[[], HistoryRecorder] | None,
    ) -> None:
        self._models = models
        self._recorder = recorder

    def summarize(
        self,
        *,
        evidence_id: str,
        case_id: str,
        data_type: str,
        filename: str,
        extraction: Extraction,
    ) -> Summary:
        deterministic = Summary(
            extraction.summary, list(extraction.insights), {"source": "deterministic"}
        )
        if self._models is None or self._recorder is None:
            return deterministic
        from faultmaven.llm.retry import Deadline
        from faultmaven.llm.service import CallScope
        from faultmaven.llm.structured import StructuredOutputError, ask_structured

        recorder = self._recorder()
        models = self._models()
        session_id = recorder.open_session(
            session_id=f"hist_{evidence_id.split('_', 1)[-1]}",
            agent_type=AGENT_TYPE,
            chain_id=CHAIN_ID,
            chain_definition=CHAIN_DEFINITION,
            case_id=case_id,
            metadata={"evidence_id": evidence_id, "data_type": data_type},
        )
        result = deterministic
        try:
            with recorder.stage(
                session_id, stage_id=STAGE_ID, stage_name="Summarize", agent="summarizer", index=3
            ) as stage:
                try:
                    answer = ask_structured(
                        models,
                        SummaryAnswer,
                        system=SYSTEM_PROMPT,
                        messages=[Message.user(_prompt(data_type, filename, extraction))],
                        tool_name="record_summary",
                        tool_description="Record the evidence summary and its key insights.",
                        scope=CallScope(
                            step="Summarize evidence",
                            case_id=case_id,
                            session_id=session_id,
                            stage_execution_id=stage.execution_id,
                        ),
                        max_tokens=1024,
                        deadline=Deadline.within(DEADLINE_SECONDS),
                    )
                except (AppError, StructuredOutputError) as exc:
                    reason = getattr(exc, "error_code", None) or "invalid_answer"
                    result = self._fallback(deterministic, session_id, str(reason))
                except Exception as exc:
                    logger.warning("model summary failed", extra={"error_type": type(exc).__name__})
                    result = self._fallback(deterministic, session_id, type(exc).__name__)
                else:
                    response = answer.completion.response
                    origin = {
                        "source": "offline" if answer.completion.offline else "model",
                        "provider": response.provider,
                        "model": response.model,
                        "history_session_id": session_id,
                    }
                    if answer.completion.offline:
                        # The offline analyst returns the draft it was given: the deterministic
                        # summary, which is kept verbatim.
                        result = Summary(deterministic.summary, deterministic.insights, origin)
                    else:
                        result = Summary(
                            _clean(answer.value.summary, MAX_SUMMARY_CHARS),
                            [_clean(i, MAX_INSIGHT_CHARS) for i in answer.value.key_insights],
                            origin,
                        )
                stage.output = dict(result.origin)
        finally:
            reason = result.origin.get("fallback_reason")
            recorder.close_session(
                session_id,
                status="completed",
                error=(
                    f"model summary not used ({reason}); the deterministic summary was kept"
                    if reason
                    else None
                ),
                final_analysis=result.summary,
                metadata={"evidence_id": evidence_id, "summary_source": result.origin["source"]},
            )
        return result

    @staticmethod
    def _fallback(deterministic: Summary, session_id: str, reason: str) -> Summary:
        return Summary(
            deterministic.summary,
            deterministic.insights,
            {
                "source": "deterministic",
                "fallback_reason": reason,
                "history_session_id": session_id,
            },
        )
