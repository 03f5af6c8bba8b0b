"""Evidence classification: accuracy over the labelled corpus, and behaviour on hostile input.

The corpus (tests/data/classification/<data_type>/) is judged as a whole: one file may
legitimately sit on a boundary, so the test holds an accuracy floor and names every miss,
while the invariants of a Classification are checked file by file.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultmaven.preprocessing import classify as classify_module
from faultmaven.preprocessing.artifacts import decode_text, looks_binary
from faultmaven.preprocessing.classify import MAX_LINE_CHARS, MAX_LINES, SAMPLE_BYTES, classify
from faultmaven.preprocessing.extract import extract
from faultmaven.preprocessing.models import Classification, DataType
from tests.regex_work import observe

CORPUS = Path(__file__).resolve().parents[1] / "data" / "classification"
ACCURACY_FLOOR = 0.95
CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())

LOG_LINES = b"".join(
    b"2026-11-22T10:01:%02d.118Z ERROR payments request failed: upstream timeout after 30s\n" % i
    for i in range(40)
)
PROMETHEUS_SCRAPE = (
    b"# HELP http_requests_total Requests handled.\n"
    b"# TYPE http_requests_total counter\n"
    b'http_requests_total{route="/api",status="200"} 1027\n'
    b'http_requests_total{route="/api",status="502"} 41\n'
    b"# HELP process_open_fds Open file descriptors.\n"
    b"# TYPE process_open_fds gauge\n"
    b"process_open_fds 1011\n"
)


def pipeline_sample(raw: bytes) -> bytes:
    """What the upload pipeline hands the classifier: gunzipped, first 64 KiB."""
    if raw.startswith(b"\x1f\x8b"):
        return zlib.decompressobj(wbits=31).decompress(raw, SAMPLE_BYTES)
    return raw[:SAMPLE_BYTES]


def classify_file(path: Path) -> Classification:
    content_type, _ = mimetypes.guess_type(path.name)
    return classify(path.name, content_type, pipeline_sample(path.read_bytes()))


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def assert_well_formed(result: Classification) -> None:
    assert 0.0 <= result.confidence <= 1.0
    assert len(result.alternatives) <= 3
    confidences = [a.confidence for a in result.alternatives]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= result.confidence for c in confidences)
    if not result.overridden:
        assert result.data_type not in {a.data_type for a in result.alternatives}
    assert len({a.data_type for a in result.alternatives}) == len(result.alternatives)
    assert result.signals
    assert all(isinstance(s, str) and s for s in result.signals)


# -- the corpus ----------------------------------------------------------------------------


def test_corpus_is_large_varied_and_small() -> None:
    by_type = {t: [p for p in CORPUS_FILES if p.parent.name == t.value] for t in DataType}
    assert len(CORPUS_FILES) >= 80
    assert all(len(files) >= 10 for files in by_type.values()), {
        t.value: len(f) for t, f in by_type.items()
    }
    assert sum(p.stat().st_size for p in CORPUS_FILES) < 1024 * 1024
    assert all(p.stat().st_size <= 24 * 1024 for p in CORPUS_FILES)


def test_corpus_accuracy_is_at_least_95_percent() -> None:
    results = {path: classify_file(path) for path in CORPUS_FILES}
    wrong = {
        path: result for path, result in results.items() if result.data_type != path.parent.name
    }
    accuracy = 1 - len(wrong) / len(results)
    misses = "\n".join(
        f"  {p.relative_to(CORPUS)}: got {r.data_type.value} ({r.confidence:.2f}): "
        f"{'; '.join(r.signals)}"
        for p, r in wrong.items()
    )
    assert accuracy >= ACCURACY_FLOOR, f"accuracy {accuracy:.1%}; misclassified:\n{misses}"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_file_gets_a_well_formed_answer(path: Path) -> None:
    assert_well_formed(classify_file(path))


# -- override ------------------------------------------------------------------------------


def test_override_wins_and_keeps_the_automatic_answer_first() -> None:
    automatic = classify("app.log", "text/plain", LOG_LINES)
    result = classify("app.log", "text/plain", LOG_LINES, override=DataType.SOURCE_CODE)

    assert result.data_type is DataType.SOURCE_CODE
    assert result.confidence == 1.0
    assert result.overridden is True
    assert result.alternatives[0].data_type is automatic.data_type is DataType.LOGS_AND_ERRORS
    assert result.alternatives[0].confidence == automatic.confidence
    assert_well_formed(result)


def test_override_applies_even_to_input_the_classifier_cannot_read() -> None:
    result = classify("blob", None, b"\x00\x01\x02" * 100, override=DataType.PROFILING_DATA)
    assert result.data_type is DataType.PROFILING_DATA
    assert result.overridden is True
    assert result.alternatives[0].data_type is DataType.UNSTRUCTURED_TEXT


# -- hostile and degenerate input ------------------------------------------------------------


@pytest.mark.parametrize("sample", [b"", b"   \n\t\r\n  "])
def test_empty_input_is_low_confidence_text(sample: bytes) -> None:
    result = classify("app.log", None, sample)
    assert result.data_type is DataType.UNSTRUCTURED_TEXT
    assert result.confidence <= 0.2
    assert "empty sample" in result.signals
    # The name still counts for something: it is offered as an alternative.
    assert [a.data_type for a in result.alternatives] == [DataType.LOGS_AND_ERRORS]


def test_binary_garbage_is_low_confidence_text_flagged_binary() -> None:
    garbage = random.Random(7).randbytes(SAMPLE_BYTES)
    result = classify("upload.bin", "application/octet-stream", garbage)
    assert result.data_type is DataType.UNSTRUCTURED_TEXT
    assert result.confidence < 0.3
    assert any("binary" in s for s in result.signals)
    assert_well_formed(result)


def test_an_image_name_does_not_make_garbage_an_image() -> None:
    garbage = random.Random(8).randbytes(4096)
    assert classify("dashboard.png", "image/png", garbage).data_type is DataType.UNSTRUCTURED_TEXT


def test_invalid_utf8_does_not_stop_content_sniffing() -> None:
    mangled = LOG_LINES.replace(b"upstream", b"up\xff\xfe\xc3stream")
    result = classify("app.log", None, mangled)
    assert result.data_type is DataType.LOGS_AND_ERRORS
    assert_well_formed(result)


def test_latin1_and_utf16_logs_are_read_as_text() -> None:
    latin1 = "2026-11-22 10:01:02 ERROR Fehler beim Öffnen von café.csv\n".encode("latin-1") * 20
    utf16 = LOG_LINES.decode().encode("utf-16")
    assert classify("a.log", None, latin1).data_type is DataType.LOGS_AND_ERRORS
    assert classify("b", None, utf16).data_type is DataType.LOGS_AND_ERRORS


def test_deeply_nested_json_does_not_raise() -> None:
    assert_well_formed(classify("deep.json", "application/json", b"[" * SAMPLE_BYTES))


def test_samples_longer_than_64_kib_are_cut_not_rejected() -> None:
    result = classify("big.log", None, LOG_LINES * 200)
    assert result.data_type is DataType.LOGS_AND_ERRORS


def test_gzip_bytes_that_do_not_inflate_are_binary() -> None:
    result = classify("logs.gz", "application/gzip", b"\x1f\x8b\x08\x00" + b"\xfa\x13" * 500)
    assert result.data_type is DataType.UNSTRUCTURED_TEXT
    assert result.confidence < 0.3
    assert any("gzip" in s for s in result.signals)
    assert any("binary" in s for s in result.signals)


def test_a_sample_still_gzipped_is_inflated_and_sniffed() -> None:
    result = classify("app.log.gz", "application/gzip", gzip.compress(LOG_LINES))
    assert result.data_type is DataType.LOGS_AND_ERRORS
    assert "gzip-compressed sample (inflated)" in result.signals


@given(
    filename=st.text(max_size=60),
    content_type=st.one_of(st.none(), st.text(max_size=40)),
    sample=st.binary(max_size=4096),
)
@settings(max_examples=300, deadline=None)
def test_never_raises_and_always_well_formed(
    filename: str, content_type: str | None, sample: bytes
) -> None:
    assert_well_formed(classify(filename, content_type, sample))


@given(st.text(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_never_raises_on_arbitrary_text(text: str) -> None:
    assert_well_formed(classify("paste.txt", "text/plain", text.encode("utf-8", "surrogatepass")))


# -- content beats the name ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "sample", "expected"),
    [
        ("notes.txt", tiny_png(), DataType.VISUAL_EVIDENCE),
        ("config.yaml", PROMETHEUS_SCRAPE, DataType.METRICS_AND_PERFORMANCE),
        ("output.txt", LOG_LINES, DataType.LOGS_AND_ERRORS),
        (
            "data.csv",
            json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}).encode(),
            DataType.TRACE_DATA,
        ),
        (
            "main.py",
            b"main;handle;json.dumps 812\nmain;handle;db.query 2207\n" * 10,
            DataType.PROFILING_DATA,
        ),
    ],
)
def test_strong_content_outweighs_a_misleading_name(
    filename: str, sample: bytes, expected: DataType
) -> None:
    result = classify(filename, mimetypes.guess_type(filename)[0], sample)
    assert result.data_type is expected
    assert result.confidence >= 0.8


def test_a_bare_name_gives_only_modest_confidence() -> None:
    result = classify("service.log", None, b"ok\n")
    assert result.confidence < 0.7


def test_json_logs_and_json_config_are_told_apart() -> None:
    records = [
        {"time": f"2026-11-22T10:01:0{i}Z", "level": "error", "msg": "timeout", "trace_id": "ab"}
        for i in range(5)
    ]
    logs = "\n".join(json.dumps(r) for r in records).encode()
    config = json.dumps({"database": {"pool": 20, "timeout": "30s"}, "features": {"x": True}})
    assert classify("a.json", None, logs).data_type is DataType.LOGS_AND_ERRORS
    assert classify("a.json", None, config.encode()).data_type is DataType.STRUCTURED_CONFIG


def test_signals_explain_the_decision() -> None:
    result = classify("scrape", None, PROMETHEUS_SCRAPE)
    assert result.data_type is DataType.METRICS_AND_PERFORMANCE
    assert any("Prometheus" in s for s in result.signals)


# -- bounded work (timings: benchmarks/classification_accuracy.py) -----------------------

HOSTILE_SAMPLES = {
    "one 64 KiB line": b"x" * SAMPLE_BYTES,
    "long log lines": (LOG_LINES.rstrip(b"\n") + b" " + b"y" * 2000 + b"\n") * 40,
    "64 KiB of words": b"word " * (SAMPLE_BYTES // 5),
    "quotes and frames": (b'  File "' + b'"' * 3000 + b'", line 1\n') * 20,
    "deep JSON": b"[" * 30000 + b"]" * 30000,
    "64 KiB of JSON": b'{"k": [' + b"1, " * 21000 + b"1]}",
}


@pytest.mark.parametrize("label", HOSTILE_SAMPLES)
def test_no_regex_ever_sees_more_than_one_clipped_line(
    monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    """What keeps classification within its budget whatever the sample: every pattern
    runs on at most MAX_LINE_CHARS characters of at most MAX_LINES lines, so backtracking
    (superlinear only in the subject's length) is bounded by a constant per line."""
    work = observe(monkeypatch, classify_module)
    result = classify("upload", None, HOSTILE_SAMPLES[label][:SAMPLE_BYTES])
    assert_well_formed(result)
    assert work.largest() <= MAX_LINE_CHARS
    assert work.total() <= MAX_LINES * MAX_LINE_CHARS * work.patterns


# -- one text/binary/encoding rule ------------------------------------------------------

WIDE_ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


@pytest.mark.parametrize("encoding", WIDE_ENCODINGS)
def test_utf16_and_utf32_logs_are_logs_for_classifier_and_pipeline_alike(encoding: str) -> None:
    """With or without a BOM, either byte order. The classifier said logs and the pipeline
    then saw NULs and called the file binary: both now read bytes by one rule."""
    data = LOG_LINES.decode().encode(encoding)
    assert classify("upload", None, pipeline_sample(data)).data_type is DataType.LOGS_AND_ERRORS
    assert not looks_binary(data)
    assert decode_text(data) == LOG_LINES.decode()
    extraction = extract(DataType.LOGS_AND_ERRORS, data)
    assert extraction.kind == "logs"
    assert extraction.stats["lines"] == 40
    assert "upstream timeout" in extraction.summary


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02\x03" * 500,  # no NUL layout of wide text
        struct.pack("<2000I", *range(2000)),  # integers: NULs, but not a text's
        bytes(range(256)) * 8,
    ],
)
def test_binary_is_binary_for_classifier_and_pipeline_alike(data: bytes) -> None:
    assert looks_binary(data)
    assert "binary content" in classify("blob", None, data).signals
    assert extract(DataType.UNSTRUCTURED_TEXT, data).kind == "binary"


# -- well-known file names --------------------------------------------------------------

DOCKERFILE = b"""FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
ARG VERSION=1.2.3
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
EXPOSE 8080
ENTRYPOINT ["python", "-m", "app"]
"""
MAKEFILE = b"CC=gcc\nCFLAGS=-O2 -Wall\n\nall: app\n\napp: main.o\n\t$(CC) -o $@ $^\n"


@pytest.mark.parametrize(
    ("filename", "sample"),
    [
        ("Dockerfile", DOCKERFILE),
        ("dockerfile", DOCKERFILE),
        ("Containerfile", DOCKERFILE),
        ("Dockerfile.prod", DOCKERFILE),
        ("Dockerfile-dev", DOCKERFILE),
        ("api.Dockerfile", DOCKERFILE),
        ("deploy/docker/Dockerfile", DOCKERFILE),
        ("Makefile", MAKEFILE),
        ("GNUmakefile", MAKEFILE),
        ("Makefile.linux", MAKEFILE),
        ("Jenkinsfile", b"pipeline {\n  agent any\n  stages {\n  }\n}\n"),
        ("CMakeLists.txt", b"cmake_minimum_required(VERSION 3.20)\nproject(app C)\n"),
    ],
)
def test_build_and_container_recipes_are_source_code(filename: str, sample: bytes) -> None:
    assert classify(filename, None, sample).data_type is DataType.SOURCE_CODE


def test_dockerfile_instructions_under_any_name_are_source_code() -> None:
    assert classify("upload", None, DOCKERFILE).data_type is DataType.SOURCE_CODE


def test_a_recipe_name_does_not_outweigh_a_telling_extension() -> None:
    assert classify("Dockerfile.log", None, LOG_LINES).data_type is DataType.LOGS_AND_ERRORS
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"
    assert classify("Makefile.yaml", None, manifest).data_type is DataType.STRUCTURED_CONFIG
    assert classify(".gitignore", None, b"*.pyc\n.venv/\n").data_type is (
        DataType.STRUCTURED_CONFIG
    )


def test_an_unindented_python_frame_is_a_stack_line() -> None:
    """The classifier and the log analyzer share PY_FRAME: indentation is optional."""
    trace = (
        b"Traceback (most recent call last):\n"
        b'File "/app/db.py", line 42, in acquire\n'
        b"raise PoolTimeout(self.size)\n"
        b"PoolTimeout: pool of 50 exhausted\n"
    )
    result = classify("crash", None, LOG_LINES + trace)
    assert result.data_type is DataType.LOGS_AND_ERRORS
