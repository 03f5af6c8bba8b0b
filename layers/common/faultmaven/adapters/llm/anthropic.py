"""Claude through the Anthropic API (or any Messages-API endpoint: a gateway, a stub).

`anthropic` is imported inside methods only: a function that never calls a model never
pays its ≈ 2 s import, and `warm()` pays it during a SnapStart init instead of a request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faultmaven.adapters.llm.messages_api import (
    MessagesApiModel,
    count_tokens_kwargs,
    open_telemetry_option,
)
from faultmaven.core.llm import LLMRequest, ProviderAuthError, ProviderError


class AnthropicLanguageModel(MessagesApiModel):
    """`api_key` is a callable because on AWS the key lives in Secrets Manager: it is
    called once, when the client is built (at warm-up or on the first call), so neither
    an import nor a settings load ever fetches a secret."""

    provider_name = "anthropic"

    def __init__(
        self, *, model: str, api_key: Callable[[], str], base_url: str | None = None
    ) -> None:
        super().__init__(model=model)
        self._api_key = api_key
        self._base_url = base_url

    def _build_client(self) -> Any:
        import anthropic

        try:
            # A secret pasted with its trailing newline is common, and a header cannot
            # carry one: the call would fail as a "connection error" forever.
            key = self._api_key().strip()
        except ProviderError:
            raise  # the source said what kind of failure it was (a retryable read, say)
        except Exception as exc:
            raise ProviderAuthError(
                f"anthropic: the API key could not be read ({type(exc).__name__})"
            ) from exc
        if not key:
            raise ProviderAuthError("anthropic: no API key is configured")
        return anthropic.Anthropic(
            api_key=key,
            base_url=self._base_url,
            max_retries=0,
            open_telemetry=open_telemetry_option(),
        )

    def count_tokens(self, request: LLMRequest, *, timeout: float) -> int | None:
        kwargs = count_tokens_kwargs(request, self.model)
        client = self._get_client()
        try:
            counted = client.messages.count_tokens(**kwargs, timeout=timeout)
            return int(counted.input_tokens)
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc
