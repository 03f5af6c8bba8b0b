"""Deployment choices, read once from CDK context so every stack sees the same ones and
a typo fails the synth with the key's name."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aws_cdk as cdk

REPO_ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS_DIR = REPO_ROOT / "functions"
STATEMACHINES_DIR = REPO_ROOT / "infra" / "statemachines"
OPENAPI_DOCUMENT = REPO_ROOT / "docs" / "openapi.json"

# Offline synthesis (tests, `make synth` without credentials) uses a fixed account so the
# CLI never asks AWS for availability zones; `cdk.context.json` holds them for it.
OFFLINE_ACCOUNT = "123456789012"
OFFLINE_REGION = "us-east-1"

VectorStore = Literal["opensearch", "pgvector"]
LLMProvider = Literal["anthropic", "bedrock", "offline"]
DEFAULT_LLM_MODEL = "claude-sonnet-4-5"
DEFAULT_BEDROCK_LLM_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class ContextError(ValueError):
    """A context value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class DeployConfig:
    account: str
    region: str
    stack_prefix: str
    vector_store: VectorStore
    snap_start: bool
    allowed_origins: tuple[str, ...]
    assets_dir: Path
    log_retention_days: int
    api_rate_limit: int
    api_burst_limit: int
    # The language model: the Anthropic API (key in Secrets Manager), Bedrock (the model
    # or inference profile below; the functions may invoke only it) or the offline analyst.
    llm_provider: LLMProvider = "anthropic"
    llm_model: str = DEFAULT_LLM_MODEL
    bedrock_llm_model: str = DEFAULT_BEDROCK_LLM_MODEL
    llm_fallback: LLMProvider | None = None

    @property
    def evidence_bucket_name(self) -> str:
        """Named, not generated: other stacks and IAM policies refer to it as a literal,
        and one deployment per prefix, account and region makes it globally unique."""
        return f"{self.stack_prefix.lower()}-evidence-{self.account}-{self.region}"

    @property
    def env(self) -> cdk.Environment:
        return cdk.Environment(account=self.account, region=self.region)

    @classmethod
    def from_context(cls, node_context: Any) -> DeployConfig:
        """`node_context(key)` is `app.node.try_get_context`."""
        vector_store = str(node_context("vectorStore") or "opensearch")
        if vector_store not in ("opensearch", "pgvector"):
            raise ContextError(f"vectorStore must be opensearch or pgvector, not {vector_store!r}")
        origins = node_context("allowedOrigins") or ()
        if isinstance(origins, str):
            origins = [o.strip() for o in origins.split(",") if o.strip()]
        for origin in origins:
            if not origin.startswith(("https://", "http://localhost", "chrome-extension://")):
                raise ContextError(
                    f"allowedOrigins: {origin!r} must be https://…, chrome-extension://… "
                    "or http://localhost…"
                )
        assets = Path(str(node_context("assetsDir") or "build/assets"))
        prefix = str(node_context("stackPrefix") or "FaultMaven")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,19}", prefix):
            raise ContextError(
                f"stackPrefix {prefix!r}: a letter, then up to 19 letters, digits or hyphens"
            )
        providers = ("anthropic", "bedrock", "offline")
        llm_provider = str(node_context("llmProvider") or "anthropic")
        if llm_provider not in providers:
            raise ContextError(f"llmProvider must be one of {providers}, not {llm_provider!r}")
        fallback = node_context("llmFallback")
        if fallback is not None and (fallback not in providers or fallback == llm_provider):
            raise ContextError(f"llmFallback must be another of {providers}, not {fallback!r}")
        bedrock_model = str(node_context("bedrockLlmModel") or DEFAULT_BEDROCK_LLM_MODEL)
        if not re.fullmatch(r"[A-Za-z0-9.:_-]{1,200}", bedrock_model):
            raise ContextError(
                f"bedrockLlmModel {bedrock_model!r}: a model or inference-profile id"
            )
        llm_model = str(node_context("llmModel") or DEFAULT_LLM_MODEL)
        if not re.fullmatch(r"[A-Za-z0-9.:_-]{1,200}", llm_model):
            raise ContextError(f"llmModel {llm_model!r}: a model id")
        return cls(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT") or OFFLINE_ACCOUNT,
            region=os.environ.get("CDK_DEFAULT_REGION") or OFFLINE_REGION,
            stack_prefix=prefix,
            vector_store=vector_store,  # type: ignore[arg-type]
            snap_start=_flag(node_context("snapStart"), default=True, key="snapStart"),
            allowed_origins=tuple(origins),
            assets_dir=assets if assets.is_absolute() else REPO_ROOT / assets,
            log_retention_days=_int(node_context("logRetentionDays"), 30, "logRetentionDays"),
            api_rate_limit=_int(node_context("apiRateLimit"), 50, "apiRateLimit"),
            api_burst_limit=_int(node_context("apiBurstLimit"), 100, "apiBurstLimit"),
            llm_provider=llm_provider,  # type: ignore[arg-type]
            llm_model=llm_model,
            bedrock_llm_model=bedrock_model,
            llm_fallback=fallback,
        )


def _flag(value: Any, *, default: bool, key: str) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ContextError(f"{key} must be true or false, not {value!r}")


def _int(value: Any, default: int, key: str) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ContextError(f"{key} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise ContextError(f"{key} must be positive, not {number}")
    return number
