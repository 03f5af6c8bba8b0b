"""`LanguageModels`: the one way the product calls a model.

Every call goes through the same steps, whichever provider answers:

1. redaction of everything the request carries (llm.redaction), before anything else;
2. the budgets of its case and of its investigation session, checked against what the
   history says was spent plus this call's worst case (input + `max_tokens`, priced at
   the dearest configured model and the cache-write rate); the provider's own token
   count is asked for only when the local estimate comes near a limit;
3. the providers in order (primary, then the fallback), each tried up to
   `max_attempts` times with jittered exponential backoff on retryable failures,
   honouring `retry-after`, and never past the call's deadline, of which each provider
   still to come keeps its share: a primary that hangs cannot starve the fallback;
4. the answer redacted (what a model writes is untrusted text), usage (the provider's
   figures, a local estimate where it returns none) priced by the price table, and one
   history interaction per attempt, failed and abandoned attempts included.

When every provider fails the caller gets `LLMUnavailableError` (503 with Retry-After)
if any failure was one a retry may fix, else `LLMRequestRejectedError` (502, no
Retry-After: a bad key or a request no provider takes); a call that would pass a budget
gets `LLMBudgetExhaustedError` (402) naming the budget.

Budget checks and the records they read are not one transaction: calls of one case that
run at the same moment (a batch of uploads) can together pass a budget by at most one
call's worst case each.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from faultmaven.core.errors import (
    LLMBudgetExhaustedError,
    LLMRequestRejectedError,
    LLMUnavailableError,
)
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
from faultmaven.llm.redaction import redact_request, redact_response, redact_text
from faultmaven.llm.retry import Deadline, RetryPolicy

if TYPE_CHECKING:
    from faultmaven.core.ports import LanguageModel
    from faultmaven.history.recorder import LLMCallRecord, Spend

_ERROR_CHARS = 500
_DEFAULT_RETRY_AFTER = 5
_MAX_RETRY_AFTER = 60
# Near a limit (this share of it), the local estimate is replaced by the provider's count.
_COUNT_NEAR = 0.9
_COUNT_TIMEOUT = 5.0
# Far from every limit (under this share of it, with the call's worst case), totals read
# in the last few seconds plus what this process recorded since are used without a read.
_HEADROOM = 0.5
_FRESH_SECONDS = 10.0
_REMEMBERED_SCOPES = 10_000


class CallRecorder(Protocol):
    """The part of the history recorder the gateway needs."""

    def record_llm(self, record: LLMCallRecord) -> None: ...

    def spent_by(
        self, *, case_id: str | None, session_id: str | None
    ) -> tuple[Spend | None, Spend | None]: ...


@dataclass(frozen=True)
class CallScope:
    """What a call belongs to: the history session and stage it is recorded under, and
    the case whose budget it spends. `step` is the interaction's step description. A
    call that spends a case's budget must be recorded, so a case needs a session."""

    step: str
    case_id: str | None = None
    session_id: str | None = None
    stage_execution_id: str | None = None

    def __post_init__(self) -> None:
        if self.case_id is not None and self.session_id is None:
            raise ValueError("a call charged to a case needs a history session")


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
class _Known:
    read_at: float
    tokens: int
    cost_usd: float


class _SpendCache:
    """What this process last read of a scope's spend, plus what it recorded since.

    Every budget check would otherwise read the database before every call. Far from a
    limit the answer cannot change with a few seconds' staleness (another process would
    have to spend half a budget within them), so such checks use this; near a limit, or
    when the figure is older than `_FRESH_SECONDS`, the check reads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._known: dict[str, _Known] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def far_from(
        self, key: str, tokens_limit: int, usd_limit: float, worst: tuple[int, float]
    ) -> bool:
        with self._lock:
            known = self._known.get(key)
            if known is None or self._clock() - known.read_at > _FRESH_SECONDS:
                return False
            return (
                known.tokens + worst[0] <= _HEADROOM * tokens_limit
                and known.cost_usd + worst[1] <= _HEADROOM * usd_limit
            )

    def remember(self, key: str, tokens: int, cost_usd: float) -> None:
        with self._lock:
            if len(self._known) >= _REMEMBERED_SCOPES:
                self._known.clear()
            self._known[key] = _Known(self._clock(), tokens, cost_usd)

    def add(self, key: str, tokens: int, cost_usd: float) -> None:
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                known.tokens += tokens
                known.cost_usd += cost_usd


@dataclass
class _Failure:
    provider: str
    kind: str
    retryable: bool
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
        default_deadline_seconds: float = 240.0,
        api_deadline_seconds: float = 25.0,
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
        self._default_deadline = default_deadline_seconds
        self._api_deadline = api_deadline_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._spend = _SpendCache()

    @property
    def primary(self) -> LanguageModel:
        return self._providers[0]

    @property
    def providers(self) -> list[LanguageModel]:
        return list(self._providers)

    @property
    def offline(self) -> bool:
        """True when the offline analyst is the primary provider (no model configured)."""
        return self.primary.provider == "offline"

    def api_deadline(self) -> Deadline:
        """What an API request may spend on models (API Gateway gives 29 s in all)."""
        return Deadline.within(self._api_deadline)

    def warm(self) -> None:
        """Import SDKs and build clients now (SnapStart init), so a restored snapshot
        pays for neither."""
        for provider in self._providers:
            provider.warm()

    # -- calls --------------------------------------------------------------------------
    def complete(
        self, request: LLMRequest, *, scope: CallScope, deadline: Deadline | None = None
    ) -> Completion:
        deadline, clean, redactions = self._prepared(request, scope, deadline)
        failures: list[_Failure] = []
        attempts = 0
        for index, provider in enumerate(self._providers):
            after = len(self._providers) - index - 1
            for attempt in range(1, self._retry.max_attempts + 1):
                timeout = self._attempt_timeout(deadline, after)
                if timeout is None:
                    break
                attempts += 1
                started_us = _now_us()
                started = time.perf_counter()
                try:
                    response = provider.complete(clean, timeout=timeout)
                except Exception as exc:
                    failure = self._failed(provider, clean, scope, exc, started, started_us)
                    failures.append(failure)
                    if not self._retry_same(exc, attempt, failure, deadline, after):
                        break
                    continue
                return self._succeeded(
                    provider, clean, scope, response, started, started_us, attempts, redactions
                )
        raise self._exhausted(failures, deadline)

    def stream(
        self, request: LLMRequest, *, scope: CallScope, deadline: Deadline | None = None
    ) -> Iterator[TextDelta | Completion]:
        """Text deltas as the model writes them (redacted), then the `Completion`.
        Retries and the fallback apply until the first delta arrives; after that a
        failure is final (the caller has shown text it cannot take back). A stream the
        caller abandons is recorded as such, with the output it had received."""
        deadline, clean, redactions = self._prepared(request, scope, deadline)
        failures: list[_Failure] = []
        attempts = 0
        for index, provider in enumerate(self._providers):
            after = len(self._providers) - index - 1
            for attempt in range(1, self._retry.max_attempts + 1):
                timeout = self._attempt_timeout(deadline, after)
                if timeout is None:
                    break
                attempts += 1
                started_us = _now_us()
                started = time.perf_counter()
                written: list[str] = []
                final: LLMResponse | None = None
                try:
                    for event in provider.stream(clean, timeout=timeout):
                        if isinstance(event, TextDelta):
                            written.append(event.text)
                            yield TextDelta(text=redact_text(event.text))
                        else:
                            final = event
                            break
                    if final is None:
                        raise ProviderError("the stream ended without a final message")
                except GeneratorExit:
                    self._failed(
                        provider,
                        clean,
                        scope,
                        ProviderError("abandoned by the caller"),
                        started,
                        started_us,
                        written="".join(written),
                    )
                    raise
                except Exception as exc:
                    failure = self._failed(
                        provider, clean, scope, exc, started, started_us, written="".join(written)
                    )
                    failures.append(failure)
                    if written:
                        raise self._exhausted(failures, deadline) from None
                    if not self._retry_same(exc, attempt, failure, deadline, after):
                        break
                    continue
                yield self._succeeded(
                    provider, clean, scope, final, started, started_us, attempts, redactions
                )
                return
        raise self._exhausted(failures, deadline)

    def _prepared(
        self, request: LLMRequest, scope: CallScope, deadline: Deadline | None
    ) -> tuple[Deadline, LLMRequest, dict[str, int]]:
        """What every call does before a provider sees it: its deadline, the request
        redacted, and the budgets checked against the redacted request."""
        deadline = deadline or Deadline.within(self._default_deadline)
        clean, redactions = redact_request(request)
        self._check_budgets(clean, scope)
        return deadline, clean, redactions

    # -- budgets ------------------------------------------------------------------------
    def _check_budgets(self, request: LLMRequest, scope: CallScope) -> None:
        if self._recorder is None:
            return
        scopes: list[tuple[str, int, float, dict[str, str]]] = []
        if scope.case_id is not None:
            scopes.append(
                (
                    "case",
                    self._budgets.case_tokens,
                    self._budgets.case_usd,
                    {"case_id": scope.case_id},
                )
            )
        if scope.session_id is not None:
            scopes.append(
                (
                    "session",
                    self._budgets.session_tokens,
                    self._budgets.session_usd,
                    {"session_id": scope.session_id},
                )
            )
        if not scopes:
            return
        estimate = self._worst_case(request, estimate_input_tokens(request))
        if all(self._spend.far_from(_key(c[3]), c[1], c[2], estimate) for c in scopes):
            return
        by_case, by_session = self._recorder.spent_by(
            case_id=scope.case_id, session_id=scope.session_id
        )
        spent: list[tuple[tuple[str, int, float, dict[str, str]], Spend]] = []
        for check in scopes:
            used = by_case if check[0] == "case" else by_session
            if used is not None:
                self._spend.remember(_key(check[3]), used.tokens, used.cost_usd)
                spent.append((check, used))
        input_tokens = estimate_input_tokens(request)
        counted = False
        while True:
            worst_tokens, worst_cost = self._worst_case(request, input_tokens)
            refused = next(
                (
                    (check, used)
                    for check, used in spent
                    if used.tokens + worst_tokens > check[1]
                    or used.cost_usd + worst_cost > check[2]
                ),
                None,
            )
            near = any(used.tokens + worst_tokens > _COUNT_NEAR * check[1] for check, used in spent)
            if counted or not near:
                break
            # Near a limit the estimate decides: ask the provider for its count once.
            counted = True
            exact = self._provider_count(request)
            if exact is None:
                break
            input_tokens = exact
        if refused is None:
            return
        (name, token_limit, usd_limit, key), used = refused
        over_tokens = used.tokens + worst_tokens > token_limit
        raise LLMBudgetExhaustedError(
            f"This call would pass the {name} budget "
            f"({'tokens' if over_tokens else 'USD'}); raise it or start anew",
            details={
                "budget": name,
                **key,
                "limit_tokens": token_limit,
                "used_tokens": used.tokens,
                "limit_usd": usd_limit,
                "used_usd": round(used.cost_usd, 6),
                "call_estimate_tokens": worst_tokens,
                "call_estimate_usd": round(worst_cost, 6),
            },
        )

    def _worst_case(self, request: LLMRequest, input_tokens: int) -> tuple[int, float]:
        """Tokens and USD the call may cost at most: its input written to the prompt
        cache (the dearer input rate) and every output token, on the dearest provider
        it may end on."""
        worst = Usage(cache_creation_input_tokens=input_tokens, output_tokens=request.max_tokens)
        cost = max(self._prices.cost(p.model, worst) for p in self._providers)
        return worst.total_tokens, cost

    def _provider_count(self, request: LLMRequest) -> int | None:
        try:
            return self.primary.count_tokens(request, timeout=_COUNT_TIMEOUT)
        except Exception as exc:  # the estimate stands
            logger.info("token count unavailable", extra={"error_type": type(exc).__name__})
            return None

    # -- attempts -----------------------------------------------------------------------
    def _attempt_timeout(self, deadline: Deadline, providers_after: int) -> float | None:
        """This attempt's time: the call timeout, within what is left of the deadline
        minus the share kept for each provider still to come."""
        remaining = deadline.remaining()
        share = remaining / (providers_after + 1)
        if share < self._retry.min_attempt_seconds:
            return None
        return min(self._call_timeout, share)

    def _retry_same(
        self,
        exc: Exception,
        attempt: int,
        failure: _Failure,
        deadline: Deadline,
        providers_after: int,
    ) -> bool:
        """Wait and retry this provider, or False to move on to the next one."""
        if not failure.retryable or attempt >= self._retry.max_attempts:
            return False
        if failure.retry_after is not None and failure.retry_after > self._retry.max_seconds:
            return False  # asked to wait longer than the policy would: the next provider
        wait = self._retry.delay(attempt, failure.retry_after, self._rng)
        room = deadline.remaining() / (providers_after + 1)
        if wait + self._retry.min_attempt_seconds > room:
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
        response, _ = redact_response(response)
        if response.usage.total_tokens == 0:
            response = response.model_copy(
                update={
                    "usage": Usage(
                        input_tokens=estimate_input_tokens(request),
                        output_tokens=_output_estimate(response),
                    ),
                    "usage_estimated": True,
                }
            )
        updates: dict[str, object] = {}
        if not response.latency_ms:
            updates["latency_ms"] = duration_ms
        if not response.provider:
            updates["provider"] = provider.provider
        if not response.model:
            updates["model"] = provider.model
        if updates:
            response = response.model_copy(update=updates)
        cost = self._prices.cost(response.model, response.usage)
        self._record(
            scope,
            request,
            provider=provider,
            model=response.model,
            started_us=started_us,
            duration_ms=duration_ms,
            response=response,
            usage=response.usage,
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
        exc: BaseException,
        started: float,
        started_us: int,
        *,
        written: str = "",
    ) -> _Failure:
        duration_ms = (time.perf_counter() - started) * 1000
        if isinstance(exc, ProviderError):
            kind, retryable, retry_after = exc.kind, exc.retryable, exc.retry_after
            message = f"{kind}: {exc}"
        else:
            # An adapter bug: the message may quote the request, so only the class name.
            kind, retryable, retry_after = "adapter_error", False, None
            message = f"adapter_error: {type(exc).__name__}"
            logger.error(
                "language-model adapter raised an unexpected error",
                extra={"provider": provider.provider, "error_type": type(exc).__name__},
            )
        logger.warning(
            "language-model attempt failed",
            extra={"provider": provider.provider, "kind": kind, "step": scope.step},
        )
        # Output already streamed was generated, and is billed: charge what was seen.
        usage = (
            Usage(
                input_tokens=estimate_input_tokens(request),
                output_tokens=estimate_text_tokens(written),
            )
            if written
            else Usage()
        )
        self._record(
            scope,
            request,
            provider=provider,
            model=provider.model,
            started_us=started_us,
            duration_ms=duration_ms,
            response=None,
            usage=usage,
            cost=self._prices.cost(provider.model, usage) if written else 0.0,
            error=redact_text(message)[:_ERROR_CHARS],
        )
        return _Failure(provider.provider, kind, retryable, retry_after)

    def _exhausted(
        self, failures: list[_Failure], deadline: Deadline
    ) -> LLMUnavailableError | LLMRequestRejectedError:
        details = {
            "reason": "deadline" if not failures or deadline.expired else "providers_failed",
            "attempts": [{"provider": f.provider, "error": f.kind} for f in failures],
        }
        if failures and not any(f.retryable for f in failures):
            return LLMRequestRejectedError(
                "Every language-model provider refused the request; it needs an operator "
                "(check the provider's key and settings)",
                details={**details, "reason": "rejected"},
            )
        hints = [f.retry_after for f in failures if f.retry_after is not None]
        retry_after = (
            min(_MAX_RETRY_AFTER, max(1, math.ceil(min(max(hints), _MAX_RETRY_AFTER))))
            if hints
            else _DEFAULT_RETRY_AFTER
        )
        return LLMUnavailableError(
            "The language model is unavailable; retry shortly",
            details=details,
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
        usage: Usage,
        cost: float,
        error: str | None,
    ) -> None:
        if self._recorder is None or scope.session_id is None:
            return
        from faultmaven.history.recorder import LLMCallRecord

        record = LLMCallRecord(
            session_id=scope.session_id,
            stage_execution_id=scope.stage_execution_id,
            step_description=scope.step,
            started_at_us=started_us,
            duration_ms=round(duration_ms),
            provider=provider.provider,
            model=model or provider.model or "unknown",
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
            case_id=scope.case_id,
        )
        self._recorder.record_llm(record)
        for kind, value in (("case_id", scope.case_id), ("session_id", scope.session_id)):
            if value is not None:
                self._spend.add(f"{kind}:{value}", usage.total_tokens, cost)


def _key(scope: Mapping[str, str | None]) -> str:
    ((kind, value),) = scope.items()
    return f"{kind}:{value}"


def _output_estimate(response: LLMResponse) -> int:
    return estimate_text_tokens(response.text) + sum(
        estimate_text_tokens(str(block.input)) for block in response.tool_uses
    )


def _now_us() -> int:
    return time.time_ns() // 1000
