"""`LanguageModels`: the one way the product calls a model.

Every call goes through the same steps, whichever provider answers:

1. redaction of everything the request carries (llm.redaction), before anything else;
2. the budgets of its case and of its investigation session, checked against what the
   history says was spent plus this call's worst case (estimated input + `max_tokens`);
3. the providers in order (primary, then the fallback), each tried up to
   `max_attempts` times with jittered exponential backoff on retryable failures,
   honouring `retry-after`, and never past the caller's deadline;
4. usage (the provider's figures, a local estimate where it returns none) priced by the
   price table, and one history interaction per attempt, failed attempts included.

When every provider fails the caller gets `LLMUnavailableError` (503 with Retry-After);
a call that would pass a budget gets `LLMBudgetExhaustedError` (402) naming the budget.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from faultmaven.core.errors import LLMBudgetExhaustedError, LLMUnavailableError
from faultmaven.core.llm import (
    LLMRequest,
    LLMResponse,
    ProviderError,
    TextDelta,
    Usage,
)
from faultmaven.core.logging import logger
from faultmaven.core.tokens import estimate_input_tokens, estimate_text_tokens
from faultmaven.llm.pricing import PriceTable
from faultmaven.llm.redaction import redact_request, redact_text
from faultmaven.llm.retry import Deadline, RetryPolicy

if TYPE_CHECKING:
    from faultmaven.core.ports import LanguageModel
    from faultmaven.history.recorder import LLMCallRecord, Spend

_ERROR_CHARS = 500
_DEFAULT_RETRY_AFTER = 5
_MAX_RETRY_AFTER = 60


class CallRecorder(Protocol):
    """The part of the history recorder the gateway needs."""

    def record_llm(self, record: LLMCallRecord) -> None: ...

    def spent(self, *, case_id: str | None = None, session_id: str | None = None) -> Spend: ...


@dataclass(frozen=True)
class CallScope:
    """What a call belongs to: the history session and stage it is recorded under, and
    the case whose budget it spends. `step` is the interaction's step description."""

    step: str
    case_id: str | None = None
    session_id: str | None = None
    stage_execution_id: str | None = None


@dataclass(frozen=True)
class Budgets:
    case_tokens: int
    case_usd: float
    session_tokens: int
    session_usd: float


@dataclass(frozen=True)
class Completion:
    response: LLMResponse
    cost_usd: float
    attempts: int
    # What the redactor took out of the request before it left (kind → count).
    redactions: dict[str, int] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        return bool(self.response.metadata.get("offline"))


@dataclass
class _Failure:
    provider: str
    kind: str
    retry_after: float | None


class LanguageModels:
    def __init__(
        self,
        providers: Sequence[LanguageModel],
        *,
        recorder: CallRecorder | None,
        prices: PriceTable,
        budgets: Budgets,
        retry: RetryPolicy,
        call_timeout: float,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not providers:
            raise ValueError("at least one language-model provider is required")
        self._providers = list(providers)
        self._recorder = recorder
        self._prices = prices
        self._budgets = budgets
        self._retry = retry
        self._call_timeout = call_timeout
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    @property
    def primary(self) -> LanguageModel:
        return self._providers[0]

    @property
    def offline(self) -> bool:
        """True when the offline analyst is the primary provider (no model configured)."""
        return self.primary.provider == "offline"

    def warm(self) -> None:
        """Import SDKs and build clients now (SnapStart init), so a restored snapshot
        pays for neither."""
        for provider in self._providers:
            provider.warm()

    # -- calls --------------------------------------------------------------------------
    def complete(
        self, request: LLMRequest, *, scope: CallScope, deadline: Deadline | None = None
    ) -> Completion:
        clean, redactions = redact_request(request)
        self._check_budgets(clean, scope)
        failures: list[_Failure] = []
        attempts = 0
        for provider in self._providers:
            for attempt in range(1, self._retry.max_attempts + 1):
                timeout = self._attempt_timeout(deadline)
                if timeout is None:
                    raise self._unavailable(failures, deadline_passed=True)
                attempts += 1
                started_us = _now_us()
                started = time.perf_counter()
                try:
                    response = provider.complete(clean, timeout=timeout)
                except Exception as exc:
                    failure = self._failed(provider, clean, scope, exc, started, started_us)
                    failures.append(failure)
                    if not self._retry_same(exc, attempt, failure, deadline):
                        break
                    continue
                return self._succeeded(
                    provider, clean, scope, response, started, started_us, attempts, redactions
                )
        raise self._unavailable(failures, deadline_passed=False)

    def stream(
        self, request: LLMRequest, *, scope: CallScope, deadline: Deadline | None = None
    ) -> Iterator[TextDelta | Completion]:
        """Text deltas as the model writes them, then the `Completion`. Retries and the
        fallback apply until the first delta arrives; after that a failure is final (the
        caller has shown text it cannot take back)."""
        clean, redactions = redact_request(request)
        self._check_budgets(clean, scope)
        failures: list[_Failure] = []
        attempts = 0
        for provider in self._providers:
            for attempt in range(1, self._retry.max_attempts + 1):
                timeout = self._attempt_timeout(deadline)
                if timeout is None:
                    raise self._unavailable(failures, deadline_passed=True)
                attempts += 1
                started_us = _now_us()
                started = time.perf_counter()
                emitted = False
                try:
                    for event in provider.stream(clean, timeout=timeout):
                        if isinstance(event, TextDelta):
                            emitted = True
                            yield event
                        else:
                            yield self._succeeded(
                                provider,
                                clean,
                                scope,
                                event,
                                started,
                                started_us,
                                attempts,
                                redactions,
                            )
                            return
                    raise ProviderError("the stream ended without a final message")
                except Exception as exc:
                    failure = self._failed(provider, clean, scope, exc, started, started_us)
                    failures.append(failure)
                    if emitted:
                        raise self._unavailable(failures, deadline_passed=False) from None
                    if not self._retry_same(exc, attempt, failure, deadline):
                        break
        raise self._unavailable(failures, deadline_passed=False)

    # -- budgets ------------------------------------------------------------------------
    def _check_budgets(self, request: LLMRequest, scope: CallScope) -> None:
        if self._recorder is None:
            return
        input_tokens = estimate_input_tokens(request)
        worst = Usage(input_tokens=input_tokens, output_tokens=request.max_tokens)
        worst_cost = self._prices.cost(self.primary.model, worst)
        checks: list[tuple[str, str, int, float, dict[str, str]]] = []
        if scope.case_id is not None:
            checks.append(
                (
                    "case",
                    scope.case_id,
                    self._budgets.case_tokens,
                    self._budgets.case_usd,
                    {"case_id": scope.case_id},
                )
            )
        if scope.session_id is not None:
            checks.append(
                (
                    "session",
                    scope.session_id,
                    self._budgets.session_tokens,
                    self._budgets.session_usd,
                    {"session_id": scope.session_id},
                )
            )
        for name, _, token_limit, usd_limit, key in checks:
            spent = self._recorder.spent(**key)
            over_tokens = spent.tokens + worst.total_tokens > token_limit
            over_usd = spent.cost_usd + worst_cost > usd_limit
            if over_tokens or over_usd:
                raise LLMBudgetExhaustedError(
                    f"This call would pass the {name} budget "
                    f"({'tokens' if over_tokens else 'USD'}); raise it or start anew",
                    details={
                        "budget": name,
                        **key,
                        "limit_tokens": token_limit,
                        "used_tokens": spent.tokens,
                        "limit_usd": usd_limit,
                        "used_usd": round(spent.cost_usd, 6),
                        "call_estimate_tokens": worst.total_tokens,
                        "call_estimate_usd": round(worst_cost, 6),
                    },
                )

    # -- attempts -----------------------------------------------------------------------
    def _attempt_timeout(self, deadline: Deadline | None) -> float | None:
        if deadline is None:
            return self._call_timeout
        remaining = deadline.remaining()
        if remaining < self._retry.min_attempt_seconds:
            return None
        return min(self._call_timeout, remaining)

    def _retry_same(
        self, exc: Exception, attempt: int, failure: _Failure, deadline: Deadline | None
    ) -> bool:
        """Wait and retry this provider, or False to move on to the next one."""
        if not (isinstance(exc, ProviderError) and exc.retryable):
            return False
        if attempt >= self._retry.max_attempts:
            return False
        wait = self._retry.delay(attempt, failure.retry_after, self._rng)
        if deadline is not None and wait + self._retry.min_attempt_seconds > deadline.remaining():
            return False
        self._sleep(wait)
        return True

    def _succeeded(
        self,
        provider: LanguageModel,
        request: LLMRequest,
        scope: CallScope,
        response: LLMResponse,
        started: float,
        started_us: int,
        attempts: int,
        redactions: dict[str, int],
    ) -> Completion:
        duration_ms = (time.perf_counter() - started) * 1000
        if response.usage.total_tokens == 0:
            response = response.model_copy(
                update={
                    "usage": Usage(
                        input_tokens=estimate_input_tokens(request),
                        output_tokens=estimate_text_tokens(response.text)
                        + sum(
                            estimate_text_tokens(str(block.input)) for block in response.tool_uses
                        ),
                    ),
                    "usage_estimated": True,
                }
            )
        if not response.latency_ms:
            response = response.model_copy(update={"latency_ms": duration_ms})
        if not response.provider:
            response = response.model_copy(update={"provider": provider.provider})
        cost = self._prices.cost(response.model or provider.model, response.usage)
        self._record(
            scope,
            request,
            provider=provider,
            model=response.model or provider.model,
            started_us=started_us,
            duration_ms=duration_ms,
            response=response,
            cost=cost,
            error=None,
        )
        return Completion(
            response=response, cost_usd=cost, attempts=attempts, redactions=redactions
        )

    def _failed(
        self,
        provider: LanguageModel,
        request: LLMRequest,
        scope: CallScope,
        exc: Exception,
        started: float,
        started_us: int,
    ) -> _Failure:
        duration_ms = (time.perf_counter() - started) * 1000
        if isinstance(exc, ProviderError):
            kind, retry_after = exc.kind, exc.retry_after
            message = f"{kind}: {exc}"
        else:
            # An adapter bug: the message may quote the request, so only the class name.
            kind, retry_after = "adapter_error", None
            message = f"adapter_error: {type(exc).__name__}"
            logger.error(
                "language-model adapter raised an unexpected error",
                extra={"provider": provider.provider, "error_type": type(exc).__name__},
            )
        logger.warning(
            "language-model attempt failed",
            extra={"provider": provider.provider, "kind": kind, "step": scope.step},
        )
        self._record(
            scope,
            request,
            provider=provider,
            model=provider.model,
            started_us=started_us,
            duration_ms=duration_ms,
            response=None,
            cost=0.0,
            error=redact_text(message)[:_ERROR_CHARS],
        )
        return _Failure(provider.provider, kind, retry_after)

    def _unavailable(
        self, failures: list[_Failure], *, deadline_passed: bool
    ) -> LLMUnavailableError:
        hints = [f.retry_after for f in failures if f.retry_after is not None]
        retry_after = (
            min(_MAX_RETRY_AFTER, max(1, math.ceil(max(hints)))) if hints else _DEFAULT_RETRY_AFTER
        )
        return LLMUnavailableError(
            "The language model is unavailable; retry shortly",
            details={
                "reason": "deadline" if deadline_passed else "providers_failed",
                "attempts": [{"provider": f.provider, "error": f.kind} for f in failures],
            },
            headers={"Retry-After": str(retry_after)},
        )

    def _record(
        self,
        scope: CallScope,
        request: LLMRequest,
        *,
        provider: LanguageModel,
        model: str,
        started_us: int,
        duration_ms: float,
        response: LLMResponse | None,
        cost: float,
        error: str | None,
    ) -> None:
        if self._recorder is None or scope.session_id is None:
            return
        from faultmaven.history.recorder import LLMCallRecord

        usage = response.usage if response is not None else Usage()
        record = LLMCallRecord(
            session_id=scope.session_id,
            stage_execution_id=scope.stage_execution_id,
            step_description=scope.step,
            started_at_us=started_us,
            duration_ms=round(duration_ms),
            provider=provider.provider,
            model=model,
            temperature=request.temperature,
            request=request.model_dump(mode="json"),
            response=(
                {
                    "content": [block.model_dump(mode="json") for block in response.content],
                    "stop_reason": response.stop_reason,
                    "model": response.model,
                    "usage_estimated": response.usage_estimated,
                    "metadata": response.metadata,
                }
                if response is not None
                else None
            ),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            cost_usd=cost,
            success=response is not None,
            error_message=error,
            tool_calls=(
                [block.model_dump(mode="json") for block in response.tool_uses]
                if response is not None and response.tool_uses
                else None
            ),
        )
        self._recorder.record_llm(record)


def _now_us() -> int:
    return time.time_ns() // 1000
