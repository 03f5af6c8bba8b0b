"""The Titan embedder against a real botocore client whose HTTP layer is stubbed.

Bedrock cannot run here and moto does not implement `bedrock-runtime` InvokeModel, so
requests go through a real `bedrock-runtime` client (serialization, parameter
validation, error parsing) and stop at botocore's `Stubber`, or, where calls from the
thread pool arrive in any order, at a `before-call` hook answering from the request.
Set FAULTMAVEN_TEST_BEDROCK=1 (with AWS credentials) to also call the real service.
"""

from __future__ import annotations

import io
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from faultmaven.adapters.embeddings.bedrock import (
    MAX_INPUT_CHARS,
    BedrockTitanEmbedder,
    EmbeddingResponseError,
)
from faultmaven.core.settings import Settings, load_settings
from faultmaven.core.vectors import IndexSpec

MODEL = "amazon.titan-embed-text-v2:0"
# Read at collection time: the unit conftest removes FAULTMAVEN_* variables per test.
LIVE = os.environ.get("FAULTMAVEN_TEST_BEDROCK") == "1"


def titan_response(embedding: list[float]) -> dict[str, Any]:
    raw = json.dumps({"embedding": embedding, "inputTextTokenCount": 3}).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


def expected_call() -> dict[str, Any]:
    return {"modelId": MODEL, "body": ANY, "contentType": "application/json", "accept": ANY}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("bedrock-runtime", region_name="us-east-1")


@pytest.fixture
def sent_bodies(client: Any) -> list[dict[str, Any]]:
    """The JSON bodies of the InvokeModel calls the client was asked to make."""
    bodies: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        bodies.append(json.loads(params["body"]))

    client.meta.events.register("before-parameter-build.bedrock-runtime.InvokeModel", record)
    return bodies


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def settings(dimension: int = 1024) -> Settings:
    return load_settings(bedrock_embedding_dimension=dimension)


def test_spec_names_the_model_and_dimension() -> None:
    embedder = BedrockTitanEmbedder(settings(512), client=object())
    assert embedder.spec == IndexSpec(MODEL, 512)
    assert embedder.batch_size >= 1
    assert embedder.embed([]) == []


def test_request_asks_for_the_configured_dimension_normalized(
    client: Any, stubber: Stubber, sent_bodies: list[dict[str, Any]]
) -> None:
    vector = [0.6, 0.8] + [0.0] * 254
    stubber.add_response("invoke_model", titan_response(vector), expected_call())

    result = BedrockTitanEmbedder(settings(256), client=client).embed(["disk full on node-7"])

    assert result == [vector]
    assert sent_bodies == [
        {"inputText": "disk full on node-7", "dimensions": 256, "normalize": True}
    ]


def test_long_input_is_cut_to_titans_limit(
    client: Any, stubber: Stubber, sent_bodies: list[dict[str, Any]]
) -> None:
    stubber.add_response("invoke_model", titan_response([0.0] * 1024), expected_call())
    text = "x" * MAX_INPUT_CHARS + "tail that Titan would reject"

    BedrockTitanEmbedder(settings(), client=client).embed([text])

    assert sent_bodies[0]["inputText"] == "x" * MAX_INPUT_CHARS


def test_a_throttled_call_is_retried(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
    stubber.add_client_error("invoke_model", "ModelNotReadyException", http_status_code=429)
    stubber.add_response("invoke_model", titan_response([1.0] + [0.0] * 1023), expected_call())

    embedder = BedrockTitanEmbedder(settings(), client=client, backoff_seconds=0)

    assert embedder.embed(["pod OOMKilled"])[0][0] == 1.0


def test_throttling_gives_up_after_the_last_attempt(client: Any, stubber: Stubber) -> None:
    for _ in range(2):
        stubber.add_client_error("invoke_model", "ThrottlingException", http_status_code=429)
    embedder = BedrockTitanEmbedder(settings(), client=client, max_attempts=2, backoff_seconds=0)

    with pytest.raises(ClientError) as raised:
        embedder.embed(["pod OOMKilled"])
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_a_validation_error_propagates_without_retry(client: Any, stubber: Stubber) -> None:
    # One error queued: a retry would hit the empty stub queue instead of raising this.
    stubber.add_client_error("invoke_model", "ValidationException", http_status_code=400)
    embedder = BedrockTitanEmbedder(settings(), client=client, backoff_seconds=0)

    with pytest.raises(ClientError) as raised:
        embedder.embed(["a"])
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_vector_of_the_wrong_dimension_is_refused(client: Any, stubber: Stubber) -> None:
    stubber.add_response("invoke_model", titan_response([0.1] * 256), expected_call())

    with pytest.raises(EmbeddingResponseError):
        BedrockTitanEmbedder(settings(1024), client=client).embed(["x"])


def answer_from_the_request(client: Any, dimension: int) -> list[str]:
    """Answers every InvokeModel with [index of the text, 0, …], where the text is
    "text <index>"; earlier texts answer later, so completion order is reversed. Returns
    the names of the threads that made calls."""
    threads: list[str] = []

    def respond(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        index = int(json.loads(params["body"])["inputText"].split()[1])
        threads.append(threading.current_thread().name)
        time.sleep(0.002 * (20 - index))
        return AWSResponse("", 200, {}, None), titan_response(
            [float(index)] + [0.0] * (dimension - 1)
        )

    client.meta.events.register("before-call.bedrock-runtime.InvokeModel", respond)
    return threads


def test_vectors_come_back_in_input_order_across_the_pool(client: Any) -> None:
    threads = answer_from_the_request(client, 256)
    texts = [f"text {i}" for i in range(20)]

    vectors = BedrockTitanEmbedder(settings(256), client=client).embed(texts)

    assert [v[0] for v in vectors] == [float(i) for i in range(20)]
    assert len(threads) == 20
    assert len(set(threads)) > 1, "the calls should be spread over the pool"


def test_a_failure_in_the_pool_propagates(client: Any) -> None:
    answer_from_the_request(client, 256)

    def reject_text_3(params: dict[str, Any], **_: Any) -> None:
        if json.loads(params["body"])["inputText"] == "text 3":
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "bad"}}, "InvokeModel"
            )

    # Registered first, so it runs before the hook that answers.
    client.meta.events.register_first("before-call.bedrock-runtime.InvokeModel", reject_text_3)

    with pytest.raises(ClientError, match="ValidationException"):
        BedrockTitanEmbedder(settings(256), client=client).embed([f"text {i}" for i in range(8)])


@pytest.mark.skipif(not LIVE, reason="set FAULTMAVEN_TEST_BEDROCK=1 to call real Bedrock")
@pytest.mark.parametrize("dimension", [256, 1024])
def test_real_bedrock_returns_unit_vectors(dimension: int) -> None:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    embedder = BedrockTitanEmbedder(
        load_settings(aws_region=region, bedrock_embedding_dimension=dimension)
    )

    vectors = embedder.embed(["The database ran out of connections", "TLS certificate expired"])

    assert [len(v) for v in vectors] == [dimension, dimension]
    for vector in vectors:
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-3)
