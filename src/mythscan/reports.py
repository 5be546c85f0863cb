"""Rendering article results: terminal (rich), JSON, JSONL, CSV and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from typing import Iterable

from .sanitise import link
from .scoring import ArticleResult, SentenceResult
from .wording import plural

SENTENCE_FIELDS = ["text", "label", "myth_probability", "category", "probabilities", "review", "correction", "index", "start", "end"]


def article_json(results: list[ArticleResult]) -> str:
    payload = [r.as_dict() for r in results]
    return json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2)


def article_jsonl(results: list[ArticleResult], *, all_sentences: bool = True) -> Iterable[str]:
    for r in results:
        for s in r.sentences:
            if all_sentences or s.label == "myth":
                yield json.dumps({"source": r.source, **s.as_dict()}, ensure_ascii=False)


def sentence_record(s: SentenceResult) -> dict:
    """The stable `classify` contract: text, label, myth_probability, category, probabilities (+ review)."""
    return {
        "text": s.text,
        "label": s.label,
        "myth_probability": s.myth_probability,
        "category": s.category,
        "probabilities": s.probabilities,
        "review": s.review,
    }


def render_terminal(result: ArticleResult, console, *, show_all: bool = False) -> None:
    from rich.panel import Panel
    from rich.text import Text

    sm = result.summary
    title = result.metadata.get("title") or result.source
    style = {"repeats-myths": "bold red", "check": "bold yellow"}.get(sm.assessment, "bold green")
    console.print(
        Panel(
            Text(sm.verdict, style=style),
            title=f"[bold]{html.unescape(str(title))[:90]}[/]",
            subtitle=f"{result.source} · model {result.model}",
            expand=True,
        )
    )
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    for s in result.sentences:
        if s.label == "myth":
            head = Text(f"MYTH {s.myth_probability:.0%}", style="bold white on red")
            head.append(f"  {s.category_name or s.category or ''}" + ("  (review)" if s.review else ""), style="bold red")
            console.print(head)
            console.print(Text(f"  “{s.text}”", style="red"))
            if s.correction:
                console.print(Text(f"  The record: {s.correction}", style="green"))
            if s.sources:
                console.print(
                    Text(
                        "  Sources: "
                        + "; ".join(f"{x['author']} ({x['year']})" if x.get("year") else x["publication"] for x in s.sources[:3]),
                        style="dim",
                    )
                )
            console.print()
        elif show_all or s.review:
            tag = "ACCURATE" if s.label == "accurate" else "other"
            extra = "  (review: close to the threshold)" if s.review else ""
            console.print(Text(f"{tag:<8} {s.myth_probability:>4.0%}  {s.text}{extra}", style="green" if s.label == "accurate" else "dim"))
    cats = ", ".join(f"{k} ×{v}" for k, v in sm.categories.items()) or "none"
    console.print(
        f"[bold]{sm.sentences}[/] {plural(sm.sentences, 'sentence')} · [bold]{sm.myths}[/] {plural(sm.myths, 'myth')} "
        f"({sm.myth_share:.0%}, {sm.confident_myths} confident) · {sm.accurate} accurate · {sm.review} for review · categories: {cats}"
    )


_CSS = """
body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.55}
header{border-bottom:2px solid #ddd;margin-bottom:1em}.verdict{font-size:1.15em;padding:.6em .8em;border-radius:6px}
.bad{background:#fde8e8;border-left:6px solid #c62828}.good{background:#e8f5e9;border-left:6px solid #2e7d32}
.check{background:#fff8e1;border-left:6px solid #f9a825}
.grid{display:grid;grid-template-columns:2fr 1fr;gap:1.5em}.article p{margin:.3em 0}
mark.myth{background:#ffcdd2;padding:0 .1em;border-bottom:2px solid #c62828}mark.review{background:#fff3c4}
mark.accurate{background:#e3f2e5}aside .note{font-family:sans-serif;font-size:.85em;border:1px solid #eee;border-left:4px solid #c62828;padding:.5em;margin-bottom:.8em}
aside .note b{color:#c62828}.meta{color:#666;font-family:sans-serif;font-size:.85em}sup{font-family:sans-serif;color:#c62828}
table{border-collapse:collapse;font-family:sans-serif;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .5em}
"""


def _article_html(result: ArticleResult) -> str:
    text = result.text
    parts, pos, notes = [], 0, []
    for s in result.sentences:
        if s.start is None:
            continue
        parts.append(html.escape(text[pos : s.start]))
        frag = html.escape(text[s.start : s.end])
        if s.label == "myth":
            notes.append(s)
            parts.append(
                f'<mark class="myth" id="s{s.index}" title="{html.escape(s.category or "")} {s.myth_probability:.0%}">{frag}</mark><sup>{len(notes)}</sup>'
            )
        elif s.review:
            parts.append(f'<mark class="review" title="borderline: P(myth) {s.myth_probability:.0%}">{frag}</mark>')
        elif s.label == "accurate":
            parts.append(f'<mark class="accurate">{frag}</mark>')
        else:
            parts.append(frag)
        pos = s.end
    parts.append(html.escape(text[pos:]))
    body = "".join(parts)
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n") if p.strip())
    aside = "".join(
        f'<div class="note"><b>{i}. {html.escape(s.category_name or s.category or "myth")}</b> · {s.myth_probability:.0%}'
        f"{' · review' if s.review else ''}<br><i>“{html.escape(s.text)}”</i><br>{html.escape(s.correction or '')}"
        + (
            "<br><span class='meta'>Sources: " + "; ".join(link(x.get("url"), x["publication"]) for x in s.sources) + "</span>"
            if s.sources
            else ""
        )
        + "</div>"
        for i, s in enumerate(notes, start=1)
    )
    sm = result.summary
    cls = {"repeats-myths": "bad", "check": "check"}.get(sm.assessment, "good")
    meta = " · ".join(html.escape(str(result.metadata[k])) for k in ("author", "date", "site", "url") if result.metadata.get(k))
    return (
        f'<section class="result"><header><h1>{html.escape(str(result.metadata.get("title") or result.source))}</h1>'
        f'<p class="meta">{meta} · scored by mythscan model {html.escape(str(result.model))}, threshold {result.threshold:.2f}</p>'
        f'<p class="verdict {cls}">{html.escape(sm.verdict)}</p></header>'
        f'<div class="grid"><div class="article">{paras}</div><aside>{aside or "<p class=meta>No myths flagged.</p>"}</aside></div></section>'
    )


def render_html(results: list[ArticleResult]) -> str:
    body = "".join(_article_html(r) for r in results)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mythscan report</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )
