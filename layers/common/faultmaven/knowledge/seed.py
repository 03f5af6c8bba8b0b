"""The starter global knowledge base shipped with FaultMaven (`global_kb/`): practical
troubleshooting articles every user can search from day one. `index.json` lists each
article's slug, title and tags; `<slug>.md` holds its text."""

from __future__ import annotations

import json
from pathlib import Path

from faultmaven.knowledge.models import ContentType, GlobalDocumentCreate

GLOBAL_KB = Path(__file__).with_name("global_kb")


class SeedError(ValueError):
    """The article directory is inconsistent (a listed file is missing, a title differs)."""


def load_articles(directory: Path = GLOBAL_KB) -> list[tuple[str, GlobalDocumentCreate]]:
    manifest = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    articles = []
    for entry in manifest:
        slug = entry["slug"]
        path = directory / f"{slug}.md"
        if not path.is_file():
            raise SeedError(f"{path} is listed in index.json but missing")
        content = path.read_text(encoding="utf-8")
        first = content.lstrip().splitlines()[0] if content.strip() else ""
        if first != f"# {entry['title']}":
            raise SeedError(f"{path} must start with '# {entry['title']}'")
        articles.append(
            (
                slug,
                GlobalDocumentCreate(
                    title=entry["title"],
                    content=content,
                    content_type=ContentType.MARKDOWN,
                    tags=list(entry.get("tags", [])),
                    slug=slug,
                ),
            )
        )
    listed = {slug for slug, _ in articles}
    unlisted = sorted(p.stem for p in directory.glob("*.md") if p.stem not in listed)
    if unlisted:
        raise SeedError(f"articles missing from index.json: {', '.join(unlisted)}")
    return articles
