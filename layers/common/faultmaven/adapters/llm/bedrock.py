"""Claude on Amazon Bedrock through the `anthropic` SDK's `AnthropicBedrock`.

The request and response are the Messages API's (shared with the Anthropic adapter in
`messages_api`); the SDK signs each call with SigV4 from the default boto3 credential
chain (the Lambda role) and routes it to `/model/{id}/invoke`. Prompt caching is kept:
Bedrock honours `cache_control` for Claude. Bedrock cannot count tokens, so
`count_tokens` answers None and callers estimate.
"""

from __future__ import annotations

from typing import Any

from faultmaven.adapters.llm.messages_api import (
    MessagesApiModel,
    open_telemetry_option,
    provider_error,
)
from faultmaven.core.llm import ProviderAuthError, ProviderError, ProviderServerError


class BedrockLanguageModel(MessagesApiModel):
    """`model` is a Bedrock model id or inference-profile id (e.g.
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0`); `endpoint_url` overrides the regional
    `bedrock-runtime` endpoint (a VPC endpoint, or a local stub in tests)."""

    provider_name = "bedrock"

    def __init__(self, *, model: str, region: str, endpoint_url: str | None = None) -> None:
        super().__init__(model=model)
        self._region = region
        self._endpoint_url = endpoint_url

    def _build_client(self) -> Any:
        import anthropic

        return anthropic.AnthropicBedrock(
            aws_region=self._region,
            base_url=self._endpoint_url,
            max_retries=0,
            open_telemetry=open_telemetry_option(),
        )

    def _error(self, exc: Exception) -> ProviderError:
        # The SDK's signer raises a bare RuntimeError when the AWS chain yields no
        # credentials (no role, no keys): an auth failure, which a fallback may survive.
        if isinstance(exc, RuntimeError) and "credentials" in str(exc).lower():
            return ProviderAuthError(f"bedrock: no usable AWS credentials ({exc})")
        error = provider_error(exc, provider=self.provider)
        if error.status == 424:
            # ModelErrorException: the model failed while processing a valid request,
            # which a later attempt may not; AWS lists it among the retryable errors.
            return ProviderServerError(str(error), status=424, retry_after=error.retry_after)
        return error
