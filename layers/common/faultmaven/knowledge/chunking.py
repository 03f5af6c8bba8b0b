"""Markdown chunking along headings.

A runbook answers questions section by section, so a chunk is one section (or a piece of
a long one) and carries the path of headings above it: the path is stored as metadata and
prefixed to the text that is embedded, because "Mitigation" means nothing without
"Kafka consumer lag > Mitigation". Long sections are cut at paragraph or line boundaries
with an overlap, so a fact straddling a cut is whole in at least one piece.

markdown-it-py finds the headings: a `#` inside a fenced code block (a shell comment) is
not a heading, and setext headings (`Title\\n=====`) are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markdown_it import MarkdownIt

TARGET_CHARS = 1200
OVERLAP_CHARS = 200


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    heading_path: tuple[str, ...]
    text: str

    @property
    def embedding_text(self) -> str:
        """What the model sees: the heading path gives a short section its subject."""
        if not self.heading_path:
            return self.text
        return " > ".join(self.heading_path) + "\n\n" + self.text


@dataclass(frozen=True, slots=True)
class _Section:
    path: tuple[str, ...]
    body: str


def chunk_markdown(
    content: str, *, title: str = "", target: int = TARGET_CHARS, overlap: int = OVERLAP_CHARS
) -> list[Chunk]:
    """Chunks of a markdown document. `title` heads the path when the document does not
    start with a level-1 heading of its own."""
    sections = _sections(content, title)
    return _number(piece for section in sections for piece in _pieces(section, target, overlap))


def chunk_plain(
    content: str, *, title: str = "", target: int = TARGET_CHARS, overlap: int = OVERLAP_CHARS
) -> list[Chunk]:
    """Plain text has no headings: the title is the whole path."""
    path = (title,) if title else ()
    return _number(_pieces(_Section(path, content.strip()), target, overlap))


def _number(pieces: Iterable[tuple[tuple[str, ...], str]]) -> list[Chunk]:
    return [Chunk(ordinal, path, text) for ordinal, (path, text) in enumerate(pieces)]


def _sections(content: str, title: str) -> list[_Section]:
    lines = content.splitlines()
    tokens = MarkdownIt("commonmark").parse(content)
    headings: list[tuple[int, int, int, str]] = []  # (start line, end line, level, text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            inline = tokens[index + 1]
            headings.append((token.map[0], token.map[1], int(token.tag[1]), inline.content.strip()))
    stack: list[tuple[int, str]] = []
    if title and not (headings and headings[0][2] == 1 and headings[0][0] == _first_text(lines)):
        stack.append((0, title))
    sections: list[_Section] = []
    cursor = 0
    for start, end, level, text in headings:
        _add(sections, stack, lines[cursor:start])
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        cursor = end
    _add(sections, stack, lines[cursor:])
    return sections


def _first_text(lines: list[str]) -> int:
    return next((number for number, line in enumerate(lines) if line.strip()), 0)


def _add(sections: list[_Section], stack: list[tuple[int, str]], lines: list[str]) -> None:
    body = "\n".join(lines).strip()
    if body:
        sections.append(_Section(tuple(text for _, text in stack if text), body))


def _pieces(section: _Section, target: int, overlap: int) -> list[tuple[tuple[str, ...], str]]:
    body = section.body
    if len(body) <= target:
        return [(section.path, body)] if body else []
    units = _units(body, target)
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for unit in units:
        if current and size + len(unit) > target:
            pieces.append("\n".join(current))
            current = _tail(current, overlap)
            size = sum(len(u) + 1 for u in current)
        current.append(unit)
        size += len(unit) + 1
    if current:
        pieces.append("\n".join(current))
    return [(section.path, piece) for piece in pieces]


def _units(body: str, target: int) -> list[str]:
    """Lines, with any line longer than the target cut into target-sized slices (a
    minified JSON blob or a base64 line has no better boundary)."""
    units: list[str] = []
    for line in body.split("\n"):
        while len(line) > target:
            units.append(line[:target])
            line = line[target:]
        units.append(line)
    return units


def _tail(units: list[str], overlap: int) -> list[str]:
    """The last whole units of a piece that fit in the overlap."""
    tail: list[str] = []
    size = 0
    for unit in reversed(units):
        if size + len(unit) > overlap:
            break
        tail.insert(0, unit)
        size += len(unit) + 1
    return tail
