"""`faultmaven dev` with a model: the real `anthropic` SDK in the runtime's pipeline talks
to the Messages API stub (`FAULTMAVEN_ANTHROPIC_BASE_URL`), as it would to Anthropic."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Runtime, free_port, runtime_env
from tests.e2e.test_local_runtime import HttpxClient
from tests.helpers import Api
from tests.llm_stubs import API_KEY, MessagesStub, ToolCall


@pytest.fixture(scope="module")
def stub() -> Iterator[MessagesStub]:
    with MessagesStub() as server:
        yield server


@pytest.fixture(scope="module")
def model_runtime(stub: MessagesStub) -> Iterator[Runtime]:
    state_dir = Path(tempfile.mkdtemp(prefix="fmm", dir="/tmp"))
    port = free_port()
    env = runtime_env(
        state_dir,
        port,
        FAULTMAVEN_ANTHROPIC_API_KEY=API_KEY,
        FAULTMAVEN_ANTHROPIC_BASE_URL=stub.base_url,
        FAULTMAVEN_SEED_GLOBAL_KB="false",
    )
    started = Runtime(state_dir=state_dir, env=env, port=port)
    started.start()
    yield started
    started.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def test_an_upload_is_summarized_by_the_model_and_recorded(
    model_runtime: Runtime, stub: MessagesStub
) -> None:
    from tests.integration.evidence_helpers import upload

    answer = {
        "summary": "edge-proxy timed out on its upstream 50 times at 10:00; the upstream "
        "never answered within 30 s.",
        "key_insights": [
            "upstream timed out after 30s (50 lines)",
            "All errors at 2026-11-22T10:00:00Z",
            "Only edge-proxy is affected",
        ],
    }
    stub.queue(ToolCall(name="record_summary", input=answer))
    api = Api(HttpxClient(model_runtime.base_url))
    owner = api.user("moira")
    case_id = api.case(owner)["case_id"]
    log = b"2026-11-22T10:00:00Z ERROR upstream timed out after 30s user=moira@example.com\n" * 50
    evidence = upload(api, owner, case_id, "edge.log", log)
    assert evidence["status"] == "completed", evidence
    assert evidence["summary"] == answer["summary"]
    assert evidence["summary_origin"]["source"] == "model"
    sent = [r.body for r in stub.requests if r.path.endswith("/v1/messages")]
    assert sent, "the pipeline never called the model"
    assert "moira@example.com" not in json.dumps(sent)
    session_id = evidence["summary_origin"]["history_session_id"]
    summary = api.call("GET", f"/history/sessions/{session_id}/summary", owner)
    assert summary.status_code == 200, summary.text
    stats = summary.json()
    assert stats["llm_interactions"] == 1
    assert stats["total_cost_usd"] > 0
