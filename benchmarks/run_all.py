"""Run every benchmark in sequence (`make bench`).

Each script runs in its own interpreter (the one running this file) so that one
benchmark's imports and servers cannot skew the next one's cold start. Benchmarks print
figures and never assert them; the exit status is non-zero only when a script crashed.
"""

from __future__ import annotations

import argparse
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
    "protection_checks.py",
    "llm_calls.py",
    "llm_adapters.py",
    "history_recorder.py",
    "agent_context.py",
    "agent_turn.py",
    "investigation_replay.py",
    "alert_webhook.py",
    # Last and longest: two scenarios of `--load-duration` seconds each.
    "load.py",
)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark (make bench).")
    parser.add_argument(
        "--load-duration", type=float, default=30.0, help="seconds per load.py scenario"
    )
    parser.add_argument("--only", nargs="*", help="run only these scripts (e.g. load.py)")
    args = parser.parse_args()
    crashed: list[str] = []
    for name in SCRIPTS:
        if args.only and name not in args.only:
            continue
        title = f"benchmarks/{name}"
        print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)
        started = time.monotonic()
        extra = ["--duration", str(args.load_duration)] if name == "load.py" else []
        completed = subprocess.run([sys.executable, str(HERE / name), *extra], check=False)
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
