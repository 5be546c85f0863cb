"""Counts in messages: "1 myth", "2 myths", "1,204 articles"."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """WORD for one, otherwise MANY (default WORD + "s"); without the number."""
    return word if n == 1 else (many or word + "s")


def count(n: int, word: str, many: str | None = None) -> str:
    """The number (with thousands separators) and the word in the right form."""
    return f"{n:,} {plural(n, word, many)}"
