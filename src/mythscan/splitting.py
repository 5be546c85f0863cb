"""Sentence splitting with character offsets into the extracted text (blingfire underneath).

Lines are split first, so headlines without full stops and bullet items become sentences of their
own; bullet markers are left out of the sentence span; blingfire splits prose inside each line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25aa\u25cf\u2013\u2014>]+|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)](?=\s))\s+")
_LINE = re.compile(r"[^\n]+")
# blingfire splits after abbreviations it does not know; re-join those splits.
_NO_SPLIT_AFTER = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Col|Lt|Sen|Rep|Gov|Pres|Inc|Ltd|Co|Corp|No|vs|etc|e\.g|i\.e|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|\b(?:[A-Z]\.){1,3})$"
)


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int


def _blingfire_spans(line: str) -> list[tuple[int, int]]:
    import blingfire

    _, offsets = blingfire.text_to_sentences_and_offsets(line)
    return [(int(s), int(e)) for s, e in offsets if e > s]


def _merge_abbreviations(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for s, e in spans:
        if merged:
            prev = line[merged[-1][0] : merged[-1][1]]
            nxt = line[s:e].lstrip()
            if _NO_SPLIT_AFTER.search(prev) and nxt[:1] and (nxt[:1].islower() or nxt[:1].isdigit() or prev.endswith(("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sen.", "Gov.", "St."))):
                merged[-1][1] = e
                continue
        merged.append([s, e])
    return [(s, e) for s, e in merged]


def split_sentences(text: str, *, min_chars: int = 2) -> list[Span]:
    """Split ``text`` into sentences; ``text[span.start:span.end] == span.text`` always holds."""
    spans: list[Span] = []
    for m in _LINE.finditer(text):
        line, base = m.group(0), m.start()
        bullet = _BULLET.match(line)
        skip = bullet.end() if bullet and bullet.end() < len(line) else 0
        body = line[skip:]
        if not body.strip():
            continue
        for s, e in _merge_abbreviations(body, _blingfire_spans(body)):
            # trim whitespace so the span is exactly the sentence
            while s < e and body[s].isspace():
                s += 1
            while e > s and body[e - 1].isspace():
                e -= 1
            if e - s >= min_chars:
                spans.append(Span(body[s:e], base + skip + s, base + skip + e))
    return spans
