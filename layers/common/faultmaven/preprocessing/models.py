"""The shared vocabulary of the preprocessing pipeline."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class DataType(StrEnum):
    """The eight kinds of evidence (storage seed)."""

    LOGS_AND_ERRORS = "logs_and_errors"
    TRACE_DATA = "trace_data"
    PROFILING_DATA = "profiling_data"
    METRICS_AND_PERFORMANCE = "metrics_and_performance"
    STRUCTURED_CONFIG = "structured_config"
    SOURCE_CODE = "source_code"
    UNSTRUCTURED_TEXT = "unstructured_text"
    VISUAL_EVIDENCE = "visual_evidence"


class Alternative(BaseModel):
    data_type: DataType
    confidence: float = Field(ge=0, le=1)


class Classification(BaseModel):
    data_type: DataType
    confidence: float = Field(ge=0, le=1)
    alternatives: list[Alternative] = Field(default_factory=list)
    signals: list[str] = Field(default_factory=list, description="why, in a few words each")
    overridden: bool = False
