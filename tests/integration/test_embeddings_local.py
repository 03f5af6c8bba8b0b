"""The numpy all-MiniLM-L6-v2 against what sentence-transformers publishes for the model.

torch is not installed, so sentence-transformers cannot be run side by side; instead the
similarities printed in its documentation for all-MiniLM-L6-v2 must come out to their
printed precision, which no near-miss of the forward pass (wrong GELU, LayerNorm eps,
pooling over padding, a missing normalization) does.
"""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pytest

from faultmaven.adapters.embeddings.local import DIMENSION, MODEL_NAME, LocalEmbedder, gelu
from faultmaven.core.vectors import IndexSpec


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Replaces the package's autouse fixture: the embedder needs no PostgreSQL, Redis or
    moto, so these tests should not start them."""


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def vectors(embedder: LocalEmbedder, texts: list[str]) -> npt.NDArray[np.float64]:
    return np.array(embedder.embed(texts), dtype=np.float64)


# https://www.sbert.net/docs/sentence_transformer/usage/semantic_textual_similarity.html
# (the values also appear in the sentence-transformers quickstart), all-MiniLM-L6-v2.
WEATHER = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
WEATHER_COSINE = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]
WEATHER_MANHATTAN = [[0.0, 12.6269, 20.2167], [12.6269, 0.0, 20.1288], [20.2167, 20.1288, 0.0]]
STS_LEFT = ["The new movie is awesome", "The cat sits outside", "A man is playing guitar"]
STS_RIGHT = ["The dog plays in the garden", "The new movie is so great", "A woman watches TV"]
STS_COSINE = [
    [0.0543, 0.8939, -0.0502],
    [0.2838, -0.0029, 0.1310],
    [0.2277, -0.0136, -0.0327],
]


def test_published_similarities_are_reproduced(embedder: LocalEmbedder) -> None:
    weather = vectors(embedder, WEATHER)
    np.testing.assert_allclose(weather @ weather.T, WEATHER_COSINE, atol=6e-4)
    # Manhattan distances weigh every coordinate, not just the direction.
    manhattan = np.abs(weather[:, None, :] - weather[None, :, :]).sum(axis=-1)
    np.testing.assert_allclose(manhattan, WEATHER_MANHATTAN, atol=2e-3)

    left, right = vectors(embedder, STS_LEFT), vectors(embedder, STS_RIGHT)
    np.testing.assert_allclose(left @ right.T, STS_COSINE, atol=6e-4)


def test_vectors_are_unit_length_and_384_dimensional(embedder: LocalEmbedder) -> None:
    assert embedder.spec == IndexSpec(MODEL_NAME, 384)
    result = vectors(embedder, ["connection refused", "", "   ", "日本語のログ", "🔥" * 10])
    assert result.shape == (5, DIMENSION)
    np.testing.assert_allclose(np.linalg.norm(result, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(result).all()


def test_nothing_in_nothing_out(embedder: LocalEmbedder) -> None:
    assert embedder.embed([]) == []


def test_a_batch_equals_each_text_alone(embedder: LocalEmbedder) -> None:
    """Padding to the longest text of a batch must not move any vector."""
    rng = random.Random(7)
    words = [
        "pod",
        "node",
        "disk",
        "latency",
        "error",
        "timeout",
        "retry",
        "upstream",
        "certificate",
        "queue",
    ]
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 60))) for _ in range(11)]
    texts.append("x " * 400)  # longer than the token limit

    batched = vectors(LocalEmbedder(batch_size=4), texts)
    alone = np.array([embedder.embed([text])[0] for text in texts])

    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_order_is_the_input_order(embedder: LocalEmbedder) -> None:
    # Lengths differ, so the embedder reorders internally to batch similar lengths.
    texts = ["short", "a much longer text about a failing deployment rollout", "mid length"]
    forward = vectors(embedder, texts)
    backward = vectors(embedder, texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    assert forward[0] @ vectors(embedder, ["short"])[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("anchor", "closer", "farther"),
    [
        (
            "The database ran out of connections",
            "too many clients connected to postgres",
            "the TLS certificate expired",
        ),
        (
            "The pod was OOMKilled",
            "container exceeded its memory limit and was killed",
            "DNS lookup for the service failed",
        ),
        (
            "x509: certificate has expired or is not yet valid",
            "the TLS certificate expired",
            "disk usage reached 100% on /var",
        ),
        (
            "no space left on device",
            "the disk is full",
            "upstream returned 502 Bad Gateway",
        ),
        (
            "Kafka consumer lag keeps growing",
            "the consumers cannot keep up with messages in the topic",
            "the user's password was rejected",
        ),
    ],
)
def test_related_incidents_are_closer_than_unrelated_ones(
    embedder: LocalEmbedder, anchor: str, closer: str, farther: str
) -> None:
    a, near, far = vectors(embedder, [anchor, closer, farther])
    assert a @ near > a @ far


def test_long_text_is_cut_to_the_token_limit(embedder: LocalEmbedder) -> None:
    rng = random.Random(3)
    words = [
        "service",
        "latency",
        "spike",
        "after",
        "deploy",
        "rollback",
        "error",
        "budget",
        "alert",
    ]
    long_text = " ".join(rng.choice(words) for _ in range(5000))

    long_vector, with_other_ending = vectors(
        embedder, [long_text, long_text + " an entirely different ending about databases"]
    )

    assert np.linalg.norm(long_vector) == pytest.approx(1.0, abs=1e-5)
    # Everything past the first 256 tokens is dropped, so the ending changes nothing.
    np.testing.assert_allclose(long_vector, with_other_ending, atol=1e-6)


def test_truncation_keeps_the_closing_separator() -> None:
    """With 8 tokens, [CLS] + 6 words + [SEP]: the same as embedding the 6 words."""
    short = LocalEmbedder(max_tokens=8)
    cut, six_words = short.embed(
        ["one two three four five six seven eight nine", "one two three four five six"]
    )
    np.testing.assert_allclose(cut, six_words, atol=1e-6)


def test_results_are_deterministic(embedder: LocalEmbedder) -> None:
    texts = ["kubelet failed to pull image", "redis eviction storm", ""]
    assert embedder.embed(texts) == embedder.embed(texts)


def test_threads_share_one_model(embedder: LocalEmbedder) -> None:
    texts = ["nginx upstream timed out", "replica lag on the read pool"]
    expected = embedder.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: LocalEmbedder().embed(texts), range(4)))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-12, 12, 20_001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    error = np.abs(gelu(x.copy()).astype(float) - exact)
    # The erf approximation is within 5e-7 of math.erf; GELU scales that error by x/2.
    assert (error <= 1e-6 * np.maximum(1.0, np.abs(x))).all()


@pytest.mark.parametrize("arguments", [{"batch_size": 0}, {"max_tokens": 1}, {"max_tokens": 513}])
def test_bad_arguments_are_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LocalEmbedder(**arguments)
