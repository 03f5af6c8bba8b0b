"""Template mining with drain3, one general configuration for every kind of log.

Drain sees each distinct masked message once (the caller deduplicated them and counts
repeats itself), so its cost follows the number of message shapes, not of lines. Masking
is done before (log_lines), never by drain3's own regexes, which cost 4-8x throughput.
Templates are grouped by their final text: two Drain clusters that end up with the same
template are one event type.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from drain3 import TemplateMiner  # type: ignore[import-untyped]
from drain3.template_miner_config import TemplateMinerConfig  # type: ignore[import-untyped]

# Drain's defaults from the paper, which hold up across the Loghub systems without
# per-system tuning: a 4-level tree (length, then first token), 40% of tokens in common.
SIMILARITY = 0.4
DEPTH = 4
MAX_CHILDREN = 100
# Drain compares a message with every cluster under its tree leaf: adversarial input (100k
# unrelated messages) makes that quadratic. Past this budget the remaining messages are
# their own templates, which keeps the analysis bounded.
MINING_BUDGET_S = 0.3
MAX_CLUSTERS = 20_000
# Refinement: a wildcard whose values are a handful of words is vocabulary, not a variable.
MAX_VOCABULARY = 4
MIN_LINES_PER_WORD = 2
MAX_SPLITS = 32  # a safety cap: each position already has <= 4 words
WILDCARD = "<*>"
# A word, or a word glued to a mask (SOCKS<*>), but not an id prefix (blk_<*>, pool-<*>).
_WORD = re.compile(r"[A-Za-z](?:[A-Za-z_-]*[A-Za-z])?(?:<\*>)?")
_NOT_LETTERS = re.compile(r"[^A-Za-z]+")
_PUNCTUATION = "\"'()[]{},.;:"

logging.getLogger("drain3").setLevel(logging.WARNING)


def new_miner() -> Any:
    """A TemplateMiner built in code: no drain3.ini lookup, no persistence, no masking."""
    config = TemplateMinerConfig()
    config.drain_sim_th = SIMILARITY
    config.drain_depth = DEPTH
    config.drain_max_children = MAX_CHILDREN
    config.drain_max_clusters = None
    config.drain_extra_delimiters = []
    config.masking_instructions = []
    config.parametrize_numeric_tokens = True
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


def mine(messages: Sequence[str], *, budget_s: float = MINING_BUDGET_S) -> list[str]:
    """The template text of each message (messages should be distinct; order matters to
    Drain, so pass them in order of first appearance)."""
    drain = new_miner().drain
    deadline = time.perf_counter() + budget_s
    clusters: list[Any] = []
    fed = 0
    for message in messages:
        if len(drain.id_to_cluster) >= MAX_CLUSTERS or time.perf_counter() > deadline:
            break
        cluster, _ = drain.add_log_message(message)
        clusters.append(cluster)
        fed += 1
    templates = [cluster.get_template() for cluster in clusters]
    templates.extend(" ".join(message.split()) for message in messages[fed:])
    return templates


def refine(messages: Sequence[str], templates: Sequence[str], weights: Sequence[int]) -> list[str]:
    """Split templates where Drain generalised a fixed vocabulary into a wildcard.

    Drain merges messages that differ in one word ("VM Started" / "VM Paused",
    "... HTTPS" / "... SOCKS5", "KB" / "MB"): with 40% similarity a single different word
    is always absorbed. A wildcard position whose values are only 2-4 distinct words (no
    numbers, ids or paths), each seen on at least two lines, is treated as part of the
    template and the template is split on it. Real variables (ids, numbers, addresses,
    free text, or names with many values) are left alone.
    """
    members_of: dict[str, list[int]] = defaultdict(list)
    for index, template in enumerate(templates):
        members_of[template].append(index)
    refined = list(templates)
    for template, members in members_of.items():
        if len(members) < 2 or WILDCARD not in template.split():
            continue
        for text, group in _split(
            template, [messages[i].split() for i in members], [weights[i] for i in members]
        ):
            for position in group:
                refined[members[position]] = text
    return refined


def _split(template: str, rows: list[list[str]], weights: list[int]) -> list[tuple[str, list[int]]]:
    """The sub-templates of one template and the rows of each (nothing if no split)."""
    tokens = template.split()
    if any(len(row) != len(tokens) for row in rows):
        return []
    vocabulary = [
        p
        for p, token in enumerate(tokens)
        if token == WILDCARD and _is_vocabulary(rows, weights, p)
    ]
    if not vocabulary:
        return []
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for r, row in enumerate(rows):
        groups[tuple(_word_key(row[p]) or "" for p in vocabulary)].append(r)
    if len(groups) < 2 or len(groups) > MAX_SPLITS:
        return []
    return [(_generalise(tokens, [rows[r] for r in group]), group) for group in groups.values()]


def _is_vocabulary(rows: list[list[str]], weights: list[int], position: int) -> bool:
    lines_per_word: Counter[str] = Counter()
    for row, weight in zip(rows, weights, strict=True):
        key = _word_key(row[position])
        if key is None:
            return False
        lines_per_word[key] += weight
        if len(lines_per_word) > MAX_VOCABULARY:
            return False
    return len(lines_per_word) >= 2 and min(lines_per_word.values()) >= MIN_LINES_PER_WORD


def _word_key(token: str) -> str | None:
    """The letters of a word-like token (`"GET` -> GET, `SOCKS<*>` -> SOCKS), else None."""
    core = token.strip(_PUNCTUATION)
    if not _WORD.fullmatch(core):
        return None
    letters = _NOT_LETTERS.sub("", core)
    return letters if len(letters) >= 2 or letters.isupper() else None


def _generalise(tokens: list[str], rows: list[list[str]]) -> str:
    out = []
    for p, token in enumerate(tokens):
        if token == WILDCARD and all(row[p] == rows[0][p] for row in rows):
            token = rows[0][p]
        out.append(token)
    return " ".join(out)
