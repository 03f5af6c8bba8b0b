"""The preprocessing hot path on one core: a ~10 MB / ~100k-line log through classify →
extract → redact, exactly as the pipeline's steps run them (without S3 and PostgreSQL
around them). Extract redacts the artifact's full text before the analysis (so nothing
an analyzer masks or clips can hide a secret), then Redact re-redacts the ≤ 8 KB result.

Figures are printed, never asserted. Target: classify + extract + redact ≤ 1.5 s.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable

from _support import header
from log_analysis import realistic_log

from faultmaven.preprocessing.artifacts import decode_text, head_sample
from faultmaven.preprocessing.classify import classify
from faultmaven.preprocessing.extract import extract, extract_logs
from faultmaven.preprocessing.models import DataType
from faultmaven.preprocessing.redact import redact

RUNS = 3


def _median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    with contextlib.suppress(AttributeError, OSError):  # one core, as a Lambda gets
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    data = realistic_log().encode()
    lines = data.count(b"\n")
    size = f"{len(data) / 1e6:.1f} MB, {lines} lines"
    header(f"Preprocessing hot path: {size}, one core, median of {RUNS}")

    def whole() -> None:
        result = classify("pod.log", "text/plain", head_sample(data, 64 * 1024))
        assert result.data_type is DataType.LOGS_AND_ERRORS
        extraction = extract(DataType.LOGS_AND_ERRORS, data)
        redact(extraction.summary)
        redact(extraction.extraction)
        for insight in extraction.insights:
            redact(insight)

    text = decode_text(data)
    redacted = redact(text).text
    stages = {
        "classify (64 KiB sample)": lambda: classify(
            "pod.log", "text/plain", head_sample(data, 64 * 1024)
        ),
        "decode (sniffed encoding, CRLF)": lambda: decode_text(data),
        "redact the full 10 MB text": lambda: redact(text),
        "log analysis of the redacted text": lambda: extract_logs(redacted),
        "extract (decode + redact + analysis)": lambda: extract(DataType.LOGS_AND_ERRORS, data),
        "classify + extract + redact": whole,
    }
    for name, run in stages.items():
        print(f"  {name:<45} {_median(run) * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
