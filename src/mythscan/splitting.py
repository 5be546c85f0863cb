"""Sentence splitting with character offsets into the extracted text (blingfire underneath).

Lines are split first, so headlines without full stops and bullet items become sentences of their
own; bullet markers are left out of the sentence span; blingfire splits prose inside each line.

Caps, so that a careless or hostile text costs bounded work (a 9.5 MB text once took `score`
109 s and 4 GB; a 20 MB row gave one article 776,723 "sentences"): a span longer than
MAX_SENTENCE_CHARS is cut into pieces at spaces (nothing is dropped; the encoder reads 128 tokens,
~600 characters, of each piece anyway), a line longer than _WINDOW is split window by window, and
`split_article` stops after MAX_SENTENCES with a warning. Real sentences are under 400 characters
(the labels' longest is 391) and a long-form article has ~500 sentences, so neither cap is reached
by real news.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25aa\u25cf\u2013\u2014>]+|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)](?=\s))\s+")
_LINE = re.compile(r"[^\n]+")
# blingfire splits after abbreviations it does not know; re-join those splits.
_NO_SPLIT_AFTER = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Col|Lt|Sen|Rep|Gov|Pres|Inc|Ltd|Co|Corp|No|vs|etc|e\.g|i\.e|approx|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|\b(?:[A-Z]\.){1,3})$"
)


MAX_SENTENCE_CHARS = 2_000  # ~330 words; longer spans (tables, lists without stops, junk) are cut into pieces
MAX_SENTENCES = 5_000  # per article (~100,000 words); the rest of a longer text is not scored, with a warning
_WINDOW = 65_536  # a longer line is given to blingfire a window at a time, so splitting can stop early


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
            # only the end of the previous sentence matters ("... Dr."): looking at all of it made
            # a run of merges quadratic
            prev = line[max(merged[-1][0], merged[-1][1] - 16) : merged[-1][1]]
            nxt = line[s:e].lstrip()
            if (
                _NO_SPLIT_AFTER.search(prev)
                and nxt[:1]
                and (nxt[:1].islower() or nxt[:1].isdigit() or prev.endswith(("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Sen.", "Gov.", "St.")))
            ):
                merged[-1][1] = e
                continue
        merged.append([s, e])
    return [(s, e) for s, e in merged]


def _pieces(s: int, e: int, body: str) -> Iterator[tuple[int, int]]:
    """(start, end) of `body[s:e]` cut into pieces of at most MAX_SENTENCE_CHARS, at spaces when it has any."""
    while e - s > MAX_SENTENCE_CHARS:
        cut = body.rfind(" ", s + MAX_SENTENCE_CHARS // 2, s + MAX_SENTENCE_CHARS)
        cut = cut if cut > s else s + MAX_SENTENCE_CHARS
        yield s, cut
        s = cut
        while s < e and body[s].isspace():
            s += 1
    if e > s:
        yield s, e


def _line_spans(body: str) -> Iterator[tuple[int, int]]:
    """Sentence spans of one line; a line longer than _WINDOW is split a window at a time (the
    window's last sentence, which may be cut, starts the next window)."""
    if len(body) <= _WINDOW:
        yield from _merge_abbreviations(body, _blingfire_spans(body))
        return
    pos = 0
    while pos < len(body):
        end = min(pos + _WINDOW, len(body))
        window = body[pos:end]
        spans = _merge_abbreviations(window, _blingfire_spans(window))
        if end < len(body):
            if len(spans) > 1:
                spans, nxt = spans[:-1], pos + spans[-1][0]
            else:  # no sentence end in a whole window: up to its last space, as one span (cut into pieces below)
                cut = body.rfind(" ", pos + _WINDOW // 2, end)
                nxt = cut + 1 if cut >= 0 else end
                spans = [(0, nxt - pos)]
        else:
            nxt = end
        for s, e in spans:
            yield pos + s, pos + e
        pos = nxt


def split_sentences(text: str, *, min_chars: int = 2, max_sentences: int | None = None) -> list[Span]:
    """Split ``text`` into sentences; ``text[span.start:span.end] == span.text`` always holds.
    Stops after ``max_sentences`` (without splitting the rest of the text)."""
    spans: list[Span] = []
    for m in _LINE.finditer(text):
        line, base = m.group(0), m.start()
        bullet = _BULLET.match(line)
        skip = bullet.end() if bullet and bullet.end() < len(line) else 0
        body = line[skip:]
        if not body.strip():
            continue
        for s0, e0 in _line_spans(body):
            for s, e in _pieces(s0, e0, body):
                # trim whitespace so the span is exactly the sentence
                while s < e and body[s].isspace():
                    s += 1
                while e > s and body[e - 1].isspace():
                    e -= 1
                if e - s >= min_chars:
                    spans.append(Span(body[s:e], base + skip + s, base + skip + e))
                    if max_sentences is not None and len(spans) >= max_sentences:
                        return spans
    return spans


def split_article(text: str) -> tuple[list[Span], str | None]:
    """The sentences of an article to score, at most MAX_SENTENCES, and a warning when there were more."""
    spans = split_sentences(text, max_sentences=MAX_SENTENCES + 1)
    if len(spans) <= MAX_SENTENCES:
        return spans, None
    cut = spans[MAX_SENTENCES].start
    return spans[:MAX_SENTENCES], (
        f"the text has more than {MAX_SENTENCES:,} sentences: only the first {MAX_SENTENCES:,} were scored "
        f"(the last {len(text) - cut:,} of {len(text):,} characters were not); split long documents into articles"
    )
