"""Accuracy and speed of evidence classification over the labelled corpus.

Every file under tests/data/classification/<data_type>/ is classified the way the upload
pipeline will do it: the first 64 KiB of the gunzipped content, the file name, and the
MIME type a browser would guess from that name. The folder is the expected answer.

Prints overall accuracy, per-type precision and recall, every misclassified file with the
classifier's signals, and the median and p95 time per file. Figures are printed, never
asserted (tests/unit/test_classify.py holds the accuracy floor). Target: <= 5 ms per file.
"""

from __future__ import annotations

import gzip
import mimetypes
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from _support import ROOT, header, median, percentile

from faultmaven.preprocessing.classify import SAMPLE_BYTES, classify
from faultmaven.preprocessing.models import Classification, DataType

CORPUS = ROOT / "tests" / "data" / "classification"
REPETITIONS = 20
TARGET_MS = 5.0


@dataclass(frozen=True)
class Case:
    path: Path
    expected: DataType
    sample: bytes
    content_type: str | None


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: Classification
    seconds: float


def pipeline_sample(raw: bytes) -> bytes:
    """What the pipeline hands the classifier: gunzipped content, cut to SAMPLE_BYTES."""
    if raw.startswith(b"\x1f\x8b"):
        try:
            return zlib.decompressobj(wbits=31).decompress(raw, SAMPLE_BYTES)
        except zlib.error:
            pass
    return raw[:SAMPLE_BYTES]


def load_corpus() -> list[Case]:
    cases = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        expected = DataType(folder.name)
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            content_type, _ = mimetypes.guess_type(path.name)
            cases.append(Case(path, expected, pipeline_sample(path.read_bytes()), content_type))
    return cases


def run(cases: list[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        classify(case.path.name, case.content_type, case.sample)  # warm regex caches
        timings = []
        for _ in range(REPETITIONS):
            started = time.perf_counter()
            result = classify(case.path.name, case.content_type, case.sample)
            timings.append(time.perf_counter() - started)
        outcomes.append(Outcome(case, result, median(timings)))
    return outcomes


def report_accuracy(outcomes: list[Outcome]) -> None:
    correct = sum(o.result.data_type == o.case.expected for o in outcomes)
    header(f"Accuracy over {len(outcomes)} files in {CORPUS.relative_to(ROOT)}")
    print(f"accuracy: {correct}/{len(outcomes)} = {correct / len(outcomes):.1%}")
    print(f"\n{'type':26} {'files':>5} {'precision':>9} {'recall':>7} {'mean conf':>9}")
    for data_type in DataType:
        expected = [o for o in outcomes if o.case.expected == data_type]
        predicted = [o for o in outcomes if o.result.data_type == data_type]
        hits = sum(o.result.data_type == data_type for o in expected)
        precision = hits / len(predicted) if predicted else float("nan")
        recall = hits / len(expected) if expected else float("nan")
        mean_conf = sum(o.result.confidence for o in expected) / max(1, len(expected))
        print(
            f"{data_type.value:26} {len(expected):5d} {precision:9.2f} {recall:7.2f} "
            f"{mean_conf:9.2f}"
        )


def report_confusions(outcomes: list[Outcome]) -> None:
    wrong = [o for o in outcomes if o.result.data_type != o.case.expected]
    header(f"Misclassified files ({len(wrong)})")
    for outcome in wrong:
        result = outcome.result
        print(
            f"{outcome.case.path.relative_to(CORPUS)}: expected {outcome.case.expected.value}, "
            f"got {result.data_type.value} ({result.confidence:.2f}); "
            f"signals: {'; '.join(result.signals)}"
        )
    if not wrong:
        print("none")
    unsure = sorted(
        (o for o in outcomes if o.result.data_type == o.case.expected),
        key=lambda o: o.result.confidence,
    )[:5]
    header("Least confident correct answers")
    for outcome in unsure:
        print(
            f"{outcome.case.path.relative_to(CORPUS)}: {outcome.result.confidence:.2f} "
            f"({'; '.join(outcome.result.signals)})"
        )


def report_timing(outcomes: list[Outcome]) -> None:
    header(f"Time per classification (median of {REPETITIONS} runs per file)")
    per_file = sorted(o.seconds for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(
        f"median {median(per_file) * 1000:.2f} ms, p95 {percentile(per_file, 0.95) * 1000:.2f} ms"
    )
    print(
        f"slowest: {slowest.case.path.relative_to(CORPUS)} {slowest.seconds * 1000:.2f} ms "
        f"({len(slowest.case.sample)} bytes); target <= {TARGET_MS:.0f} ms"
    )
    full = b"2026-11-22T10:01:02.118Z INFO request completed path=/api status=200\n" * 1000
    worst_cases = {
        "64 KiB of log lines": full[:SAMPLE_BYTES],
        "64 KiB single line": b"x" * SAMPLE_BYTES,
        "64 KiB of JSON": gzip.decompress(gzip.compress(b'{"k": [' + b"1, " * 21000 + b"1]}")),
    }
    for label, sample in worst_cases.items():
        timings = []
        for _ in range(REPETITIONS):
            started = time.perf_counter()
            classify("upload", None, sample)
            timings.append(time.perf_counter() - started)
        print(f"{label:22} median {median(timings) * 1000:.2f} ms")


def main() -> None:
    cases = load_corpus()
    outcomes = run(cases)
    report_accuracy(outcomes)
    report_confusions(outcomes)
    report_timing(outcomes)


if __name__ == "__main__":
    main()
