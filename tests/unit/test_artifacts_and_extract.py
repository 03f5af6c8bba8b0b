"""Reading uploads safely and cutting extractions without splitting a secret."""

from __future__ import annotations

import gzip
import os

import pytest

from faultmaven.preprocessing.artifacts import decode_text, gunzip, head_sample, looks_binary
from faultmaven.preprocessing.errors import InvalidArtifactError, StepFailedError
from faultmaven.preprocessing.extract import cap_bytes, cap_chars, chunk_text, extract_generic
from faultmaven.preprocessing.models import DataType
from faultmaven.preprocessing.pipeline import is_transient, step_errors
from faultmaven.preprocessing.redact import redact


def test_every_gzip_member_is_read() -> None:
    first, second = gzip.compress(os.urandom(300_000)), gzip.compress(b"tail line\n" * 1000)
    assert gunzip(first + second) == gzip.decompress(first + second)
    assert gunzip(second + b"\0\0\0") == gzip.decompress(second)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(b"x" * 1000)[:-10], "truncated"),
        (gzip.compress(b"x" * 1000) + b"junk", "trailing data"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "corrupt"),
        (gzip.compress(b"\0" * (26 * 1024 * 1024)), "expands beyond"),
    ],
)
def test_bad_gzip_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidArtifactError, match=reason):
        gunzip(data)


def test_head_sample_decompresses_only_what_it_needs() -> None:
    data = gzip.compress(b"2026-11-22 ERROR x\n" * 100_000)
    assert head_sample(data, 1024).startswith(b"2026-11-22 ERROR x")
    assert len(head_sample(data, 1024)) == 1024


def test_decode_never_fails_and_normalises_line_endings() -> None:
    assert decode_text(b"\xef\xbb\xbfa\r\nb\rc\xff") == "a\nb\nc\ufffd"
    assert looks_binary(b"\x00\x01\x02" * 100)
    assert not looks_binary(b"plain text\n" * 100)


def test_a_secret_is_never_cut_in_half_by_a_sample_clip() -> None:
    line = "x" * 290 + " key AKIAIOSFODNN7EXAMPLE and more"
    extraction = extract_generic(DataType.UNSTRUCTURED_TEXT, line + "\n", len(line))
    cleaned = redact(extraction.extraction).text
    assert "AKIA" not in cleaned


@pytest.mark.parametrize("limit", [50, 100, 8192])
def test_caps_hold_and_cut_at_word_or_line_boundaries(limit: int) -> None:
    text = "\n".join(f"line {i} ops@example.com token" for i in range(2000))
    capped = cap_bytes(text, limit)
    assert len(capped.encode()) <= limit
    assert "ops@exam" not in capped.replace("ops@example.com", "")
    short = cap_chars("word " * 200, limit)
    assert len(short) <= limit
    assert not short.rstrip("…").endswith("wor")


def test_generic_extraction_of_many_short_lines_counts_them_all() -> None:
    text = "ab\n" * 200_000
    extraction = extract_generic(DataType.UNSTRUCTURED_TEXT, text, len(text))
    assert extraction.stats["lines"] == 200_000
    assert "tail (last 15 lines)" in extraction.extraction


def test_chunks_overlap_and_cover_everything() -> None:
    text = "\n".join(f"event {i}: something happened" for i in range(500))
    chunks = chunk_text(text, size=400, overlap=80)
    assert all(len(chunk) <= 400 for chunk in chunks)
    assert "event 0:" in chunks[0] and "event 499:" in chunks[-1]
    assert chunks[0].split("\n")[-1] in chunks[1]  # the boundary line is in both
    assert chunk_text("   ") == []


class _Steps:
    """A stand-in step owner: the decorator is what is under test."""

    @step_errors
    def leaky(self, state: dict[str, object]) -> dict[str, object]:
        raise ValueError("could not parse password=hunter2 for ops@example.com")

    @step_errors
    def refused(self, state: dict[str, object]) -> dict[str, object]:
        raise InvalidArtifactError("The gzip file is truncated")


def test_step_failures_reach_step_functions_redacted() -> None:
    with pytest.raises(StepFailedError) as failure:
        _Steps().leaky({})
    assert str(failure.value).startswith("ValueError:")
    assert "hunter2" not in str(failure.value)
    assert "ops@example.com" not in str(failure.value)
    assert failure.value.__cause__ is None  # the raw message is not chained along
    with pytest.raises(InvalidArtifactError, match="truncated"):
        _Steps().refused({})


def test_connection_errors_are_transient() -> None:
    import redis

    assert is_transient(redis.exceptions.ConnectionError("down"))
    assert not is_transient(ValueError("bad"))
