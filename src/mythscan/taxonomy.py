"""The label taxonomy (labels/taxonomy.yaml): categories, corrections and sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import LabelError
from .paths import default_taxonomy_path

LABELS = ("myth", "accurate", "other")


@dataclass(frozen=True)
class Source:
    publication: str
    author: str = ""
    year: int | None = None
    url: str = ""

    def as_dict(self) -> dict:
        return {"publication": self.publication, "author": self.author, "year": self.year, "url": self.url}


@dataclass(frozen=True)
class Category:
    id: str
    kind: str
    name: str
    description: str = ""
    correction: str = ""
    answered_by: str = ""
    sources: tuple[Source, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Taxonomy:
    categories: dict[str, Category]
    path: Path | None = None

    def ids(self, kind: str | None = None) -> list[str]:
        return [c.id for c in self.categories.values() if kind is None or c.kind == kind]

    def get(self, category_id: str | None) -> Category | None:
        return self.categories.get(category_id) if category_id else None

    def kind_of(self, category_id: str) -> str | None:
        cat = self.categories.get(category_id)
        return cat.kind if cat else None


def _source(entry, table: dict, where: str) -> Source:
    if isinstance(entry, str):
        if entry not in table:
            raise LabelError(f"{where}: unknown source key '{entry}'", hint="add it to the `sources` table")
        entry = table[entry]
    if not isinstance(entry, dict) or "publication" not in entry:
        raise LabelError(f"{where}: a source needs at least a `publication`")
    return Source(
        publication=str(entry["publication"]),
        author=str(entry.get("author", "") or ""),
        year=int(entry["year"]) if entry.get("year") else None,
        url=str(entry.get("url", "") or ""),
    )


def parse_taxonomy(raw: dict, path: Path | None = None) -> Taxonomy:
    where = str(path or "taxonomy")
    if not isinstance(raw, dict) or not isinstance(raw.get("categories"), dict):
        raise LabelError(f"{where}: expected a mapping with a `categories` table")
    table = raw.get("sources") or {}
    cats: dict[str, Category] = {}
    for cid, entry in raw["categories"].items():
        if not isinstance(entry, dict):
            raise LabelError(f"{where}: category {cid} must be a mapping")
        kind = entry.get("kind")
        if kind not in ("myth", "accurate"):
            raise LabelError(f"{where}: category {cid} has kind {kind!r}", hint="kind must be myth or accurate")
        if kind == "myth" and not str(entry.get("correction", "")).strip():
            raise LabelError(f"{where}: myth category {cid} has no `correction`", hint="users see it next to a flag")
        cats[cid] = Category(
            id=cid,
            kind=kind,
            name=str(entry.get("name", cid)),
            description=str(entry.get("description", "")).strip(),
            correction=str(entry.get("correction", "")).strip(),
            answered_by=str(entry.get("answered_by", "") or ""),
            sources=tuple(_source(s, table, f"{where}: {cid}") for s in entry.get("sources", []) or []),
        )
    for c in cats.values():
        if c.answered_by and c.answered_by not in cats:
            raise LabelError(f"{where}: {c.id} is answered_by unknown category {c.answered_by}")
    return Taxonomy(categories=cats, path=path)


@lru_cache(maxsize=8)
def _load(path_str: str) -> Taxonomy:
    import yaml

    path = Path(path_str)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelError(f"taxonomy not found at {path}", hint="pass --taxonomy or restore labels/taxonomy.yaml") from None
    except yaml.YAMLError as exc:
        raise LabelError(f"{path}: not valid YAML: {exc}") from None
    return parse_taxonomy(raw, path)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    return _load(str(Path(path) if path else default_taxonomy_path()))
