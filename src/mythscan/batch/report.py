"""Outputs of `mythscan batch`: merge the parts, compute the figures, write summary.json and report.html.

Everything streams part by part: the merged tables are written with Arrow writers, the figures are
running counts, and only the `top` most myth-dense articles are kept in memory.
"""

from __future__ import annotations

import base64
import heapq
import html
import io
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from ..sanitise import csv_arrow
from ..sanitise import link as safe_link
from .pipeline import (
    ARTICLE_FIELDS,
    ERROR_FIELDS,
    PARTS,
    PUBLICATION_DATE_SOURCES,
    SENTENCE_FIELDS,
    PartStore,
    _arrow_schema,
    _now,
    options_dict,
)


def output_names(fmt: str) -> list[str]:
    return [f"sentences.{fmt}", f"articles.{fmt}", "errors.jsonl", "summary.json", "report.html"]


def outputs_present(out: Path, fmt: str) -> bool:
    return all((Path(out) / n).exists() for n in output_names(fmt))


def _conform(table, schema):
    import pyarrow as pa

    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _fsync_replace(tmp: Path, dest: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)


def merge_table(paths: list[Path], dest: Path, fmt: str, fields) -> int:
    """Concatenate part tables (union of columns) into DEST, atomically; returns the row count."""
    import pyarrow.parquet as pq

    fixed = {n for n, _ in fields}
    extra = sorted({n for p in paths for n in pq.read_schema(p).names} - fixed)
    schema = _arrow_schema(fields, extra)
    tmp = dest.with_name(f".{dest.name}.tmp")
    rows = 0
    if fmt == "parquet":
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        writer = pacsv.CSVWriter(str(tmp), schema)
    else:
        writer = open(tmp, "w", encoding="utf-8")
    try:
        for p in paths:
            t = _conform(pq.read_table(p), schema)
            rows += t.num_rows
            if fmt == "jsonl":
                for batch in t.to_batches(max_chunksize=2000):
                    writer.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in batch.to_pylist()))
            elif t.num_rows:
                writer.write_table(csv_arrow(t) if fmt == "csv" else t)  # CSV is opened in spreadsheets: no formulas
    finally:
        writer.close()
    _fsync_replace(tmp, dest)
    return rows


def merge_outputs(out: Path, parts: list[dict], fmt: str) -> dict:
    store = PartStore(out)
    idx = [p["part"] for p in parts]
    n_art = merge_table([store.path(i, "articles.parquet") for i in idx], out / f"articles.{fmt}", fmt, ARTICLE_FIELDS)
    n_sent = merge_table([store.path(i, "sentences.parquet") for i in idx], out / f"sentences.{fmt}", fmt, SENTENCE_FIELDS)
    tmp = out / ".errors.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in idx:
            fh.write(store.path(i, "errors.jsonl").read_text(encoding="utf-8"))
    _fsync_replace(tmp, out / "errors.jsonl")
    return {"articles": n_art, "sentences": n_sent}


# --- figures -------------------------------------------------------------------------------------------


def _bucket() -> dict:
    return {
        "articles": 0,
        "topical": 0,
        "with_myths": 0,
        "topical_with_myths": 0,
        "repeating": 0,
        "topical_repeating": 0,
        "sentences": 0,
        "topical_sentences": 0,
        "myths": 0,
    }


def _finish_bucket(key, b: dict) -> dict:
    return {
        "key": key,
        **b,
        "share_articles_with_myths": round(b["with_myths"] / b["articles"], 4) if b["articles"] else 0.0,
        "share_topical_with_myths": round(b["topical_with_myths"] / b["topical"], 4) if b["topical"] else 0.0,
        "share_repeating": round(b["repeating"] / b["articles"], 4) if b["articles"] else 0.0,
        "share_topical_repeating": round(b["topical_repeating"] / b["topical"], 4) if b["topical"] else 0.0,
        "myth_share": round(b["myths"] / b["sentences"], 5) if b["sentences"] else 0.0,
        "topical_myth_share": round(b["myths"] / b["topical_sentences"], 4) if b["topical_sentences"] else 0.0,
    }


def build_summary(out: Path, manifest: dict, sources, opts, taxonomy=None) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    store, parts = PartStore(out), manifest["parts"]
    total, by_year, by_outlet = _bucket(), defaultdict(_bucket), defaultdict(_bucket)
    cats, cat_articles, accurate, top = Counter(), Counter(), 0, []
    cols = [
        "article_id",
        "outlet",
        "year",
        "date",
        "title",
        "url",
        "sentences",
        "myths",
        "accurate",
        "myth_share",
        "categories",
        "topical",
        "verdict",
    ]
    seq, date_sources = 0, Counter()
    for p in parts:
        path = store.path(p["part"], "articles.parquet")
        names = pq.read_schema(path).names
        has_source = "date_source" in names  # parts written before date_source: every date counts
        extra = [c for c in ("date_source", "assessment") if c in names]
        for r in pq.read_table(path, columns=cols + extra).to_pylist():
            # the article-level reading (scoring.assess); parts written before it: any flag
            repeating = (r.get("assessment") == "repeats-myths") if "assessment" in names else r["myths"] > 0
            seq += 1
            source = (r.get("date_source") or "none") if has_source else "unrecorded"
            date_sources[source] += 1
            # only publication dates go by year: a crawl's date (WARC-Date, HTTP headers) says when the page was fetched
            dated = source in PUBLICATION_DATE_SOURCES or source == "unrecorded"
            y = str(r["year"]) if r["year"] is not None and dated else "unknown"
            for b in (total, by_year[y], by_outlet[r["outlet"] or "unknown"]):
                b["articles"] += 1
                b["sentences"] += r["sentences"]
                b["myths"] += r["myths"]
                b["with_myths"] += r["myths"] > 0
                b["repeating"] += repeating
                if r["topical"]:
                    b["topical"] += 1
                    b["topical_sentences"] += r["sentences"]
                    b["topical_with_myths"] += r["myths"] > 0
                    b["topical_repeating"] += repeating
            accurate += r["accurate"]
            c = json.loads(r["categories"] or "{}")
            cats.update(c)
            cat_articles.update(c.keys())
            if r["myths"]:
                r["assessment"] = r.get("assessment") or ("repeats-myths" if r["myths"] else "no-myths")
                key = (repeating, r["myth_share"], r["myths"], -seq)
                if len(top) < opts.top:
                    heapq.heappush(top, (key, r))
                elif key > top[0][0]:
                    heapq.heapreplace(top, (key, r))
    top = [r for _, r in sorted(top, key=lambda x: x[0], reverse=True)]
    flagged: dict[str, list] = defaultdict(list)
    if top:
        ids = pa.array([r["article_id"] for r in top])
        for p in parts:
            t = pq.read_table(
                store.path(p["part"], "sentences.parquet"),
                columns=["article_id", "sentence", "text", "label", "myth_probability", "category"],
            )
            t = t.filter(pc.and_(pc.equal(t["label"], "myth"), pc.is_in(t["article_id"], value_set=ids)))
            for s in t.to_pylist():
                flagged[s["article_id"]].append(s)
    if taxonomy is None:
        from ..taxonomy import load_taxonomy

        taxonomy = load_taxonomy()

    def cname(c):
        entry = taxonomy.get(c)
        return entry.name if entry else c

    skipped = Counter()
    for p in parts:
        skipped.update(p.get("skipped", {}))
    seconds = manifest.get("seconds") or 0.0
    n = lambda k: sum(p.get(k, 0) for p in parts)  # noqa: E731
    run = {k: manifest["run"].get(k) for k in ("model", "threshold", "prefilter", "dedup", "all_sentences", "engine", "chunk_size")}
    run.update(
        inputs=manifest.get("inputs"),
        files=len(sources),
        workers=opts.workers,
        started=manifest.get("started"),
        finished=_now(),
        seconds=round(seconds, 2),
        parts=len(parts),
        articles_per_s=round(n("items") / seconds, 1) if seconds else None,
        sentences_per_s=round(total["sentences"] / seconds, 1) if seconds else None,
    )
    totals = {
        **_finish_bucket("all", total),
        "items": n("items"),
        "duplicates": n("duplicates"),
        "errors": n("errors"),
        "skipped": sum(skipped.values()),
        "candidates": n("candidates"),
        "accurate": accurate,
        "filtered": total["sentences"] - n("candidates"),
        "no_publication_date": sum(v for k, v in date_sources.items() if k not in (*PUBLICATION_DATE_SOURCES, "unrecorded")),
    }
    totals.pop("key")
    years = sorted((k for k in by_year if k != "unknown")) + (["unknown"] if "unknown" in by_year else [])
    return {
        "run": run,
        "totals": totals,
        "date_sources": dict(date_sources.most_common()),
        "skipped_by_reason": dict(skipped.most_common(20)),
        "by_year": [_finish_bucket(k, by_year[k]) for k in years],
        "by_outlet": [
            _finish_bucket(k, v) for k, v in sorted(by_outlet.items(), key=lambda kv: (-kv[1]["topical"], -kv[1]["articles"], kv[0]))
        ][:100],
        "categories": [{"category": c, "name": cname(c), "myths": k, "articles": cat_articles[c]} for c, k in cats.most_common()],
        "top_articles": [
            {
                **{
                    k: r[k]
                    for k in ("article_id", "title", "outlet", "date", "url", "sentences", "myths", "myth_share", "verdict", "assessment")
                },
                "categories": json.loads(r["categories"] or "{}"),
                "flagged": [
                    {
                        "sentence": s["sentence"],
                        "text": s["text"],
                        "myth_probability": s["myth_probability"],
                        "category": s["category"],
                        "category_name": cname(s["category"]) if s["category"] else None,
                    }
                    for s in sorted(flagged.get(r["article_id"], []), key=lambda s: s["sentence"])
                ],
            }
            for r in top
        ],
    }


# --- plots and HTML ------------------------------------------------------------------------------------


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def plots(summary: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    years = [y for y in summary["by_year"] if y["key"] != "unknown" and y["articles"]]
    if years:
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        xs = [y["key"] for y in years]
        ax.plot(xs, [100 * y["share_topical_repeating"] for y in years], marker="o", label="topical articles that repeat myths")
        ax.plot(xs, [100 * y["topical_myth_share"] for y in years], marker="s", label="myth sentences in topical articles")
        ax.set_ylabel("%")
        ax.set_title("Myth share over time")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if len(xs) > 8:
            ax.tick_params(axis="x", rotation=45)
        out["time"] = _png(fig)
    outlets = [o for o in summary["by_outlet"] if o["topical"]][:15]
    if outlets:
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(outlets) + 1.2))
        names = [o["key"][:40] for o in outlets][::-1]
        vals = [100 * o["share_topical_repeating"] for o in outlets][::-1]
        ax.barh(names, vals, color="#c0392b")
        for i, o in enumerate(outlets[::-1]):
            ax.text(vals[i], i, f" {o['topical_repeating']}/{o['topical']}", va="center", fontsize=7)
        ax.set_xlabel("% of topical articles that repeat myths (article-level reading)")
        ax.set_title("By outlet (most topical coverage first)")
        out["outlets"] = _png(fig)
    cats = summary["categories"][:15]
    if cats:
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(cats) + 1.2))
        ax.barh([c["name"][:50] for c in cats][::-1], [c["myths"] for c in cats][::-1], color="#8e44ad")
        ax.set_xlabel("myth sentences")
        ax.set_title("Myths found, by category")
        out["categories"] = _png(fig)
    return out


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.92em}td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}.myth{color:#a31515}.muted{color:#777;font-size:.9em}
.art{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:.8em 0}img{max-width:100%}"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{_e(label)}</th>" for _, label in cols)
    body = []
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            if isinstance(v, float):
                cells.append(f'<td class="n">{v:.1%}</td>' if "share" in key else f'<td class="n">{v:g}</td>')
            elif isinstance(v, int):
                cells.append(f'<td class="n">{v:,}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _dates_note(summary: dict) -> str:
    """Which dates the chart uses, and how many articles it leaves out for want of a publication date."""
    src, t = summary.get("date_sources") or {}, summary["totals"]
    missing = t.get("no_publication_date", 0)
    if not missing:
        return "<p class=muted>Every article has a publication date (from the input's date column or the page's metadata).</p>"
    crawl = src.get("warc", 0) + src.get("http", 0)
    return (
        f"<p>{missing:,} of {t['articles']:,} articles have no reliable publication date and are not in the chart "
        f"(year “unknown” below): {crawl:,} are dated only by when they were crawled (WARC-Date or HTTP headers, in "
        f"<code>articles.date</code> with <code>date_source</code> warc or http) and {src.get('none', 0):,} have no date at all. "
        "Dates come from the input's date column or the page's metadata; none is guessed from the text.</p>"
    )


def render_html(summary: dict, errors: list[dict]) -> str:
    t, run = summary["totals"], summary["run"]
    imgs = plots(summary)
    img = lambda k, alt: f'<p><img alt="{alt}" src="{imgs[k]}"></p>' if k in imgs else "<p class=muted>No data for this plot.</p>"  # noqa: E731
    totals = [
        ("Input files", run["files"]),
        ("Items read", t["items"]),
        ("Articles scored", t["articles"]),
        ("Duplicates skipped (syndicated copies)", t["duplicates"]),
        ("Inputs that could not be read (errors.jsonl)", t["errors"]),
        ("Records skipped (not articles)", t["skipped"]),
        ("Topical articles (China / social credit vocabulary)", t["topical"]),
        ("Articles that repeat myths (article-level reading)", t["repeating"]),
        ("Articles with ≥1 flagged sentence", t["with_myths"]),
        ("Sentences", t["sentences"]),
        ("Sentences classified by the model", t["candidates"]),
        ("Sentences filtered out as off topic", t["filtered"]),
        ("Myth sentences", t["myths"]),
        ("Sentences matching the research record", t["accurate"]),
    ]
    cols = [
        ("key", ""),
        ("articles", "articles"),
        ("topical", "topical"),
        ("topical_repeating", "topical repeating myths"),
        ("share_topical_repeating", "share of topical repeating myths"),
        ("topical_with_myths", "topical with ≥1 flag"),
        ("myths", "myth sentences"),
        ("topical_myth_share", "myth share (topical sentences)"),
    ]
    parts = [
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>mythscan batch report</title><style>{_CSS}</style></head><body>',
        "<h1>mythscan batch report</h1>",
        f"<p class=muted>Model {_e(Path(str(run['model'])).name)} · threshold {run['threshold']} · prefilter {'on' if run['prefilter'] else 'off'} · "
        f"deduplication {'on' if run['dedup'] else 'off'} · engine {_e(run['engine'])} · {run['seconds']} s"
        + (f" · {run['articles_per_s']} articles/s" if run.get("articles_per_s") else "")
        + f" · finished {_e(run['finished'])}</p>",
        "<p>Sentences are flagged by a classifier: a flag means the sentence likely asserts a misconception, "
        "not that the article endorses it (it may quote or rebut it). Check flagged sentences before citing the figures.</p>",
        "<h2>Totals</h2>",
        "<table>" + "".join(f"<tr><td>{_e(k)}</td><td class=n>{v:,}</td></tr>" for k, v in totals) + "</table>",
        "<h2>Over time</h2>",
        _dates_note(summary),
        img("time", "myth share by year"),
        _table(summary["by_year"], [("key", "year")] + cols[1:]),
        "<h2>By outlet</h2>",
        img("outlets", "myth share by outlet"),
        _table(summary["by_outlet"][:30], [("key", "outlet")] + cols[1:]),
        "<h2>Myths found</h2>",
        img("categories", "myths by category"),
        _table(summary["categories"], [("name", "category"), ("category", "id"), ("myths", "myth sentences"), ("articles", "articles")]),
        "<h2>Most myth-dense articles</h2>",
    ]
    for a in summary["top_articles"]:
        title = a["title"] or a["article_id"]
        link = safe_link(a.get("url"), str(title))  # http(s) only: the URL comes from the archive
        items = "".join(
            f'<li class="myth">“{_e(s["text"])}” <span class=muted>({s["myth_probability"]:.0%}, {_e(s["category_name"] or s["category"])})</span></li>'
            for s in a["flagged"]
        )
        facts = " · ".join(_e(x) for x in (a["outlet"], a["date"], a["article_id"]) if x)
        parts.append(
            f'<div class="art"><b>{link}</b><div class=muted>{facts} · '
            f"{a['myths']} of {a['sentences']} sentences ({a['myth_share']:.0%})</div><ul>{items}</ul></div>"
        )
    if not summary["top_articles"]:
        parts.append("<p>No myth sentences were found.</p>")
    if errors or summary["skipped_by_reason"]:
        parts.append("<h2>Inputs not scored</h2>")
        if errors:
            parts.append(
                f"<p>{t['errors']:,} input(s) could not be read; the first ones (all in errors.jsonl):</p>"
                + _table(errors[:20], [("input", "input"), ("id", "id"), ("reason", "reason")])
            )
        if summary["skipped_by_reason"]:
            parts.append(
                "<p>Records that are not articles:</p>"
                + _table([{"reason": k, "n": v} for k, v in summary["skipped_by_reason"].items()], [("reason", "reason"), ("n", "records")])
            )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def finalize(out: Path, manifest: dict, sources, opts) -> dict:
    from ..fileio import atomic_write_text

    out = Path(out)
    counts = merge_outputs(out, manifest["parts"], opts.format)
    summary = build_summary(out, manifest, sources, opts)
    summary["outputs"] = {
        "dir": str(out),
        "format": opts.format,
        "files": output_names(opts.format),
        **counts,
        "parts_dir": str(out / PARTS),
    }
    summary["options"] = {k: v for k, v in options_dict(opts).items() if k not in ("resume", "overwrite")}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n")
    errors = []
    with open(out / "errors.jsonl", encoding="utf-8") as fh:
        for line in fh:
            errors.append(json.loads(line))
            if len(errors) >= 20:
                break
    atomic_write_text(out / "report.html", render_html(summary, errors))
    return summary


__all__ = ["finalize", "build_summary", "merge_outputs", "render_html", "outputs_present", "ERROR_FIELDS"]
