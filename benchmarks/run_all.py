"""Run every benchmark in sequence (`make bench`).

Each script runs in its own interpreter (the one running this file) so that one
benchmark's imports and servers cannot skew the next one's cold start. Benchmarks print
figures and never assert them; the exit status is non-zero only when a script crashed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "cold_start.py",
    "loopback_latency.py",
    "classification_accuracy.py",
    "log_analysis.py",
    "redaction.py",
    "preprocessing_pipeline.py",
    "lambda_assets.py",
    "embedding_speed.py",
    "knowledge_retrieval.py",
    "vector_search.py",
)


def main() -> int:
    crashed: list[str] = []
    for name in SCRIPTS:
        title = f"benchmarks/{name}"
        print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)
        started = time.monotonic()
        completed = subprocess.run([sys.executable, str(HERE / name)], check=False)
        elapsed = time.monotonic() - started
        print(f"[{title}: exit {completed.returncode} after {elapsed:.0f}s]", flush=True)
        if completed.returncode != 0:
            crashed.append(name)
    if crashed:
        print(f"\ncrashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
