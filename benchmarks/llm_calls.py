"""The model layer's own costs, excluding the model.

1. Cold import of the function that holds the LLM client (the preprocessing steps'
   handler, whose Summarize step calls the model): in a fresh interpreter, import the
   handler by path as Lambda does, build its container's gateway with the `anthropic`
   provider configured, and check that `anthropic` is still not imported; then time the
   first `warm()` (what a SnapStart init pays once, or the first call without it).
2. Overhead per call of the port + gateway + recorder (redaction, budget checks, history
   writes in PostgreSQL, pricing) against the local Messages API stub, with the real
   `anthropic` SDK: the call's wall time minus the adapter's own HTTP round trip
   (`latency_ms`), with the default budgets, charged to a case and a session. Target:
   p95 <= 5 ms. The offline provider's whole call is shown too. Near a budget every
   check reads the totals again: that costs one more unit of work (≈ 1.5 ms here).

Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _support import (
    ROOT,
    STRONG_PASSWORD,
    clean_env,
    embedded_stores,
    header,
    median,
    percentile,
)

sys.path.insert(0, str(ROOT))

from faultmaven.core.settings import load_settings

CALLS = 400
WARMUP = 40
REPETITIONS = 3
TARGET_P95_MS = 5.0

DRIVER = """\
import time
started = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter()
from faultmaven.lambda_entry import container_from_env
models = container_from_env().language_models
built = time.perf_counter()
before = "anthropic" in sys.modules
models.warm()
warmed = time.perf_counter()
print(json.dumps({
    "import_s": imported - started,
    "gateway_s": built - imported,
    "anthropic_before_first_use": before,
    "warm_s": warmed - built,
    "anthropic_after_warm": "anthropic" in sys.modules,
}))
"""


def cold_import() -> None:
    header("Cold import of functions/preprocess/handler.py (fresh interpreter, median of 3)")
    handler = ROOT / "functions" / "preprocess" / "handler.py"
    runs = []
    with embedded_stores() as stores:
        env = clean_env(
            {
                "DATABASE_URL": stores.database_url,
                "REDIS_URL": stores.redis_url,
                "FAULTMAVEN_ENVIRONMENT": "test",
                "FAULTMAVEN_JWT_SECRET": "benchmark-" + "k" * 40,
                "FAULTMAVEN_LLM_PROVIDER": "anthropic",
                "FAULTMAVEN_ANTHROPIC_API_KEY": "bench-key",
                "FAULTMAVEN_ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        for _ in range(REPETITIONS):
            out = subprocess.run(
                [sys.executable, "-c", DRIVER, str(handler)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
                cwd=str(ROOT),
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"  handler import + init        {median([r['import_s'] for r in runs]) * 1000:8.0f} ms")
    print(f"  gateway built (no SDK)       {median([r['gateway_s'] for r in runs]) * 1000:8.0f} ms")
    print(
        "  anthropic imported before first use:",
        any(r["anthropic_before_first_use"] for r in runs),
    )
    print(f"  warm(): anthropic + client   {median([r['warm_s'] for r in runs]) * 1000:8.0f} ms")
    print(f"  anthropic imported after warm(): {all(r['anthropic_after_warm'] for r in runs)}")


def overhead() -> None:
    from faultmaven.adapters.llm.anthropic import AnthropicLanguageModel
    from faultmaven.adapters.llm.offline import OfflineLanguageModel
    from faultmaven.adapters.postgres import Database
    from faultmaven.core.llm import LLMRequest, Message
    from faultmaven.history.recorder import HistoryRecorder
    from faultmaven.llm.pricing import PriceTable
    from faultmaven.llm.retry import RetryPolicy
    from faultmaven.llm.service import Budgets, CallScope, LanguageModels
    from tests.llm_stubs import API_KEY, MessagesStub

    request = LLMRequest(
        system="You are FaultMaven, an SRE copilot. " * 20,
        messages=[
            Message.user(
                "payments-api logged 812 'connection pool exhausted' errors between 10:00 and "
                "10:05; user alice@example.com reported checkout failures. What next? " * 4
            )
        ],
        max_tokens=256,
    )
    # The default budgets: far from them a check uses the totals read seconds ago (no
    # read); past half of one, every call reads them again.
    defaults = load_settings()
    budgets = Budgets(
        case_tokens=defaults.llm_case_budget_tokens,
        case_usd=defaults.llm_case_budget_usd,
        session_tokens=defaults.llm_session_budget_tokens,
        session_usd=defaults.llm_session_budget_usd,
    )
    with embedded_stores() as stores, MessagesStub() as stub:
        database = Database.from_settings(load_settings(database_url=stores.database_url))
        recorder = HistoryRecorder(database)
        case_id = _a_case(stores)
        for label, provider in (
            (
                "anthropic SDK -> stub",
                AnthropicLanguageModel(
                    model="claude-sonnet-4-5", api_key=lambda: API_KEY, base_url=stub.base_url
                ),
            ),
            ("offline analyst", OfflineLanguageModel()),
        ):
            models = LanguageModels(
                [provider],
                recorder=recorder,
                prices=PriceTable.shipped(),
                budgets=budgets,
                retry=RetryPolicy(),
                call_timeout=10.0,
            )
            session_id = recorder.open_session(
                agent_type="bench", chain_id="bench", case_id=case_id
            )
            # Charged to a case and a session, as every real call is: two budget reads.
            scope = CallScope(step="bench", case_id=case_id, session_id=session_id)
            overheads: list[float] = []
            totals: list[float] = []
            for i in range(WARMUP + CALLS):
                # A new question each call, as in a conversation; the system prompt and
                # earlier context repeat.
                asked = request.model_copy(
                    update={
                        "messages": [
                            *request.messages,
                            Message.assistant("Check the pool size first."),
                            Message.user(f"Question {i}: the pool is at 50; what now?"),
                        ]
                    }
                )
                started = time.perf_counter()
                completion = models.complete(asked, scope=scope)
                total_ms = (time.perf_counter() - started) * 1000
                if i >= WARMUP:
                    totals.append(total_ms)
                    model_ms = completion.response.latency_ms if label != "offline analyst" else 0.0
                    overheads.append(total_ms - model_ms)
            overheads.sort()
            totals.sort()
            header(f"Per call, {label} ({CALLS} calls, recorder on embedded PostgreSQL)")
            print(
                f"  overhead excluding the model  p50 {percentile(overheads, 0.5):6.2f} ms   "
                f"p95 {percentile(overheads, 0.95):6.2f} ms   (target p95 <= {TARGET_P95_MS} ms)"
            )
            print(
                f"  whole call                    p50 {percentile(totals, 0.5):6.2f} ms   "
                f"p95 {percentile(totals, 0.95):6.2f} ms"
            )
        database.dispose()


def _a_case(stores: object) -> str:
    """A user and a case, made through the services (the recorder's rows reference it)."""
    from faultmaven.auth.models import RegisterRequest
    from faultmaven.auth.principal import Principal, Role
    from faultmaven.cases.models import CaseCreate
    from faultmaven.container import build_container

    settings = load_settings(
        environment="test",
        database_url=stores.database_url,  # type: ignore[attr-defined]
        redis_url=stores.redis_url,  # type: ignore[attr-defined]
        jwt_secret="benchmark-" + "k" * 40,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
    )
    container = build_container(settings)
    try:
        user = container.auth.register(
            RegisterRequest(email="bench@example.com", username="bench", password=STRONG_PASSWORD)
        )
        owner = Principal(
            user_id=user.user_id,
            roles=frozenset({Role.USER}),
            token_id="bench",  # noqa: S106 - an id, not a secret
            token_expires_at=0,
        )
        return container.cases.create(owner, CaseCreate(title="Checkout latency")).case_id
    finally:
        container.close()


def main() -> None:
    cold_import()
    overhead()


if __name__ == "__main__":
    main()
