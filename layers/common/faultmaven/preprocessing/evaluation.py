"""How good template mining is, measured the way the Loghub benchmark measures it; shared
by the tests and `benchmarks/log_analysis.py`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence


def grouping_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """The share of lines whose predicted group holds exactly the lines of their true
    group (a line in an over- or under-merged group counts as wrong)."""
    true_groups: dict[str, set[int]] = defaultdict(set)
    predicted_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        true_groups[t].add(i)
        predicted_groups[p].add(i)
    correct = sum(
        len(members)
        for members in predicted_groups.values()
        if true_groups[truth[min(members)]] == members
    )
    return correct / len(truth) if truth else 1.0
