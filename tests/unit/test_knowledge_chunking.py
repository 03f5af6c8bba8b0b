"""Markdown chunking along headings, and reciprocal rank fusion."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from faultmaven.core.vectors import Scope, VectorHit
from faultmaven.knowledge.chunking import chunk_markdown, chunk_plain
from faultmaven.knowledge.ranking import RRF_K, fuse

DOC = """# Kafka consumer lag

Lag is the distance between the log end offset and the committed offset.

## Symptoms

Consumer group `orders` falls behind after a deploy.

```bash
# not a heading: a shell comment in a code fence
kafka-consumer-groups --describe --group orders
```

## Mitigation

### Scale consumers

Add consumers up to the number of partitions.

Setext heading
--------------

Text under a setext heading.
"""


def test_sections_follow_headings_with_their_path() -> None:
    chunks = chunk_markdown(DOC, title="ignored: the document has its own h1")
    assert [c.heading_path for c in chunks] == [
        ("Kafka consumer lag",),
        ("Kafka consumer lag", "Symptoms"),
        ("Kafka consumer lag", "Mitigation", "Scale consumers"),
        ("Kafka consumer lag", "Setext heading"),  # `---` underlines a level-2 heading
    ]
    assert "# not a heading" in chunks[1].text
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]
    assert chunks[2].embedding_text.startswith(
        "Kafka consumer lag > Mitigation > Scale consumers\n\n"
    )


def test_a_document_without_an_h1_gets_its_title_as_the_root() -> None:
    chunks = chunk_markdown("Intro.\n\n## Steps\nRestart it.", title="Runbook")
    assert [c.heading_path for c in chunks] == [("Runbook",), ("Runbook", "Steps")]


def test_long_sections_are_cut_with_overlap() -> None:
    lines = [f"line {i:04d} " + "word " * 12 for i in range(300)]
    chunks = chunk_markdown("# T\n\n" + "\n".join(lines), target=1200, overlap=200)
    assert len(chunks) > 10
    assert all(len(c.text) <= 1200 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # The last line of a piece is repeated near the start of the next one.
        assert before.text.splitlines()[-1] in after.text.splitlines()[:3]
    seen = "\n".join(c.text for c in chunks)
    assert all(line.strip() in seen for line in lines)


def test_plain_text_and_one_huge_line() -> None:
    chunks = chunk_plain("x" * 5000, title="blob", target=1200, overlap=200)
    assert [len(c.text) for c in chunks] == [1200, 1200, 1200, 1200, 200]
    assert all(c.heading_path == ("blob",) for c in chunks)
    assert chunk_plain("   ", title="empty") == []


@given(st.text(min_size=1, max_size=3000))
def test_no_text_is_lost(text: str) -> None:
    chunks = chunk_markdown(text, title="T", target=300, overlap=50)
    joined = "\n".join(c.text for c in chunks)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and set(stripped) - set("=-"):
            assert stripped in joined or stripped[:300] in joined


def hit(chunk_id: str, score: float = 0.5) -> VectorHit:
    return VectorHit(
        chunk_id=chunk_id,
        document_id="d",
        scope=Scope.USER,
        ordinal=0,
        text="",
        score=score,
        readers=frozenset({"*"}),
    )


def test_rank_fusion_rewards_agreement() -> None:
    fused = fuse([hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)], [hit("c", 12.0), hit("d", 3.0)])
    assert [r.hit.chunk_id for r in fused] == ["c", "a", "b", "d"]
    assert fused[0].score == 1 / (RRF_K + 3) + 1 / (RRF_K + 1)
    assert fused[0].similarity == 0.7  # the vector score, not the text rank's
    assert fused[3].similarity is None
