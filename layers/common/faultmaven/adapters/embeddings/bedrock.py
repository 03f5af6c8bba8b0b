"""Amazon Titan Text Embeddings V2 on Bedrock, the embedder of the AWS deployment.

Titan embeds one text per `InvokeModel` call, so `embed` fans a batch out over a few
threads (the boto3 client is thread-safe) and puts the vectors back in input order.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from faultmaven.adapters import aws
from faultmaven.core.settings import Settings
from faultmaven.core.vectors import IndexSpec

# Titan Text Embeddings V2 rejects longer inputs (it also caps them at 8,192 tokens,
# which chunked text never approaches).
MAX_INPUT_CHARS = 50_000
# Enough calls in flight to hide the ~100 ms round trip without tripping the account's
# default requests-per-minute quota on one batch.
WORKERS = 8
BATCH_SIZE = 4 * WORKERS
# Bedrock's "try again later" answers. botocore's own retries have already run when one
# of them reaches us (the shared client keeps botocore's default retry configuration),
# so this second, slower tier waits for seconds rather than milliseconds.
RETRYABLE_ERRORS = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"}
)


class EmbeddingResponseError(RuntimeError):
    """Bedrock answered, but not with a vector of the configured dimension."""


class BedrockTitanEmbedder:
    """The `Embedder` on AWS: Titan Text Embeddings V2, unit vectors of 256, 512 or 1024
    dimensions as configured."""

    def __init__(
        self,
        settings: Settings,
        client: Any = None,
        *,
        max_attempts: int = 3,
        backoff_seconds: float = 1.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._settings = settings
        self._model_id = settings.bedrock_embedding_model
        self._dimension: int = settings.bedrock_embedding_dimension
        self._client = client
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds

    @property
    def spec(self) -> IndexSpec:
        return IndexSpec(self._model_id, self._dimension)

    @property
    def batch_size(self) -> int:
        return BATCH_SIZE

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) <= 1:
            return [self._embed_one(text) for text in texts]
        pool = ThreadPoolExecutor(
            max_workers=min(WORKERS, len(texts)), thread_name_prefix="titan-embed"
        )
        try:
            # map() yields in input order whatever order the calls finish in, and
            # re-raises the first failure.
            return list(pool.map(self._embed_one, texts))
        finally:
            # After a failure, calls not yet started are dropped rather than sent.
            pool.shutdown(wait=True, cancel_futures=True)

    def _bedrock(self) -> Any:
        if self._client is None:
            self._client = aws.client("bedrock-runtime", self._settings)
        return self._client

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps(
            {
                "inputText": text[:MAX_INPUT_CHARS],
                "dimensions": self._dimension,
                "normalize": True,
            }
        ).encode("utf-8")
        response = self._invoke(body)
        payload = json.loads(response["body"].read())
        embedding = payload.get("embedding") if isinstance(payload, dict) else None
        if not isinstance(embedding, list) or len(embedding) != self._dimension:
            raise EmbeddingResponseError(
                f"{self._model_id} returned no {self._dimension}-dimension embedding"
            )
        return [float(value) for value in embedding]

    def _invoke(self, body: bytes) -> Any:
        from botocore.exceptions import ClientError  # botocore is loaded with the client

        client = self._bedrock()
        for attempt in range(1, self._max_attempts + 1):
            try:
                return client.invoke_model(
                    modelId=self._model_id,
                    body=body,
                    contentType="application/json",
                    accept="application/json",
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in RETRYABLE_ERRORS or attempt == self._max_attempts:
                    raise
                # Jitter spreads the retries of the pool's threads, throttled together.
                delay = self._backoff_seconds * 2 ** (attempt - 1)
                time.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not a secret
        raise AssertionError("unreachable: the last attempt returns or raises")
