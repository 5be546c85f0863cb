"""`mythscan batch`: score a whole archive, streaming, resumable, with a report.

Pipeline per article: read (batch_inputs) -> extract (reading.document_from_bytes; trafilatura for
HTML) -> split (splitting) -> prefilter (batch_filter) -> drop copies of earlier articles (text hash;
byte-identical ones before extraction) -> classify (Scorer) -> rows. The stream is
cut into parts of `chunk_size` items; each part is written atomically to DIR/_parts/ and then
recorded in DIR/manifest.json together with the stream position after it, the input fingerprint
and the options. A killed run continues after the last recorded part, so no row is lost or
duplicated. When every part is done they are merged into the outputs (batch_report).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import InputError
from ..fileio import atomic_write_bytes, atomic_write_text
from .inputs import RawItem, Source, fingerprint, outlet_of
from .prefilter import Prefilter

MANIFEST = "manifest.json"
PARTS = "_parts"
RAY_STAGE = "_ray_stage"
FORMATS = ("parquet", "csv", "jsonl")
MANIFEST_VERSION = 2  # 2: the manifest lists the output files the run wrote ("files")
TOOL = "mythscan batch"
CRASH_ENV = "MYTHSCAN_BATCH_CRASH_AFTER"  # tests only: SIGKILL this process after N parts

ARTICLE_FIELDS = [  # fixed columns of articles.*; every other metadata column follows as a string
    ("article_id", "string"),
    ("input", "string"),
    ("outlet", "string"),
    ("date", "string"),
    ("date_source", "string"),
    ("year", "int64"),
    ("title", "string"),
    ("url", "string"),
    ("sentences", "int64"),
    ("candidates", "int64"),
    ("myths", "int64"),
    ("accurate", "int64"),
    ("review", "int64"),
    ("myth_share", "float64"),
    ("categories", "string"),
    ("verdict", "string"),
    ("assessment", "string"),
    ("confident_myths", "int64"),
    ("stance", "string"),
    ("stance_probability", "float64"),
    ("topical", "bool"),
    ("chars", "int64"),
    ("text_hash", "string"),
    ("warnings", "string"),
    ("file_idx", "int64"),
    ("item_idx", "int64"),
]
SENTENCE_FIELDS = [
    ("article_id", "string"),
    ("sentence", "int64"),
    ("start", "int64"),
    ("end", "int64"),
    ("text", "string"),
    ("label", "string"),
    ("myth_probability", "float64"),
    ("category", "string"),
    ("review", "bool"),
    ("filtered", "bool"),
]
ERROR_FIELDS = ["input", "id", "position", "reason"]
_OUTLET_KEYS = ("outlet", "source", "publication", "publisher", "site", "sitename", "domain", "hostname")
_DATE_KEYS = ("date", "published", "published_at", "publication_date", "pubdate", "datetime", "timestamp", "warc_date")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
# Where an article's date comes from, best first: the archive's own column, the page's metadata
# (never a date guessed from the text), then the crawl: HTTP Last-Modified, WARC-Date, HTTP Date.
# Only the first two say when the article was published (batch_report plots only those).
PUBLICATION_DATE_SOURCES = ("table", "metadata")


@dataclass
class BatchOptions:
    inputs: list[str]
    out: Path
    text_column: str | None = None
    id_column: str | None = None
    model: str | None = None
    threshold: float | None = None
    precision: str = "balanced"  # or "high": the model's high-precision operating point (scoring.Scorer)
    all_sentences: bool = False
    prefilter: bool = True
    dedup: bool = True
    format: str = "parquet"
    chunk_size: int = 1000
    workers: int = 1
    resume: bool = False
    overwrite: bool = False
    engine: str = "local"
    address: str | None = None
    top: int = 20
    follow_symlinks: bool = False
    progress: Callable | None = field(default=None, repr=False)  # progress(items, articles, pos_bytes, total_bytes)
    log: Callable[[str], None] | None = field(default=None, repr=False)


# --- per-article processing: pure functions shared by the local workers and the Ray stages --------


def text_hash(text: str) -> str:
    """Hash of the normalised text (NFKC, case-folded, letters and digits only), for syndicated copies."""
    norm = " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).hexdigest()


def _first(meta: dict, keys: Iterable[str]) -> str | None:
    low = {k.lower(): v for k, v in meta.items()}
    return next((low[k] for k in keys if low.get(k)), None)


def article_date(extracted: str | None, archive: dict) -> tuple[str | None, str]:
    """(date, date_source) of an article: see PUBLICATION_DATE_SOURCES."""
    from ..reading import parse_date

    table = _first(archive, [k for k in _DATE_KEYS if k != "warc_date"])
    if table:
        return table, "table"
    if extracted:
        return extracted, "metadata"
    for key, source in (("http_last_modified", "http"), ("warc_date", "warc"), ("http_date", "http")):
        value = archive.get(key)
        if value:
            return (parse_date(value) or value if source == "http" else value), source
    return None, "none"


def analyse(item: RawItem, pf: Prefilter) -> dict:
    """Extract, split and prefilter one raw item; classification comes later (`classify_records`)."""
    from ..reading import document_from_bytes
    from ..splitting import split_article

    rec = {"file_idx": item.file_idx, "item_idx": item.item_idx, "article_id": item.article_id, "input": item.input}
    if item.error or item.skip:
        return {**rec, "status": "error" if item.error else "skip", "reason": item.error or item.skip}
    try:
        doc = document_from_bytes(item.data or b"", item.article_id, html=item.html, url=item.url, declared_charset=item.charset)
        spans, capped = split_article(doc.text)
        if capped:
            doc.warnings.append(capped)
        topical = pf.topical(doc.text)
        cand = pf.candidates([s.text for s in spans], doc.text)
    except InputError as exc:
        return {**rec, "status": "error", "reason": str(exc)}
    except Exception as exc:  # a parser failing on odd input must not stop the run
        return {**rec, "status": "error", "reason": f"could not extract the text ({type(exc).__name__}: {str(exc)[:200]})"}
    meta = {k: str(v) for k, v in doc.meta().items() if v and k not in ("source", "encoding", "date", "date_source")}
    meta.update(item.meta)  # what the archive says (table columns, WARC headers) wins over what was extracted
    date, meta["date_source"] = article_date(doc.date, item.meta)
    if date:
        meta["date"] = date
    return {
        **rec,
        "status": "article",
        "meta": meta,
        "warnings": list(doc.warnings),
        "hash": text_hash(doc.text),
        "chars": len(doc.text),
        "topical": topical,
        "spans": [(s.start, s.end, s.text) for s in spans],
        "cand": cand,
    }


def classify_records(records: list[dict], scorer, all_sentences: bool) -> list[dict]:
    """Classify the candidate sentences of analysed records and turn each article into rows."""
    from ..models import Sentences
    from ..scoring import SentenceResult, summarise

    # every article's candidate sentences, each with the sentence before it in the article (even a
    # filtered one) as context and the article as its page: what `score` gives the model
    texts, context, keys = [], [], []
    for r in records:
        if r["status"] != "article":
            continue
        key = f"{r['file_idx']}:{r['item_idx']}"
        for i, (sp, c) in enumerate(zip(r["spans"], r["cand"])):
            if c:
                texts.append(sp[2])
                context.append(r["spans"][i - 1][2] if i else "")
                keys.append(key)
    batch = Sentences(texts, context, keys)
    results = iter(scorer.classify(batch) if texts else [])
    stances = scorer.model.page_stance(batch) if texts and hasattr(scorer.model, "page_stance") else {}
    for r in records:
        if r["status"] != "article":
            continue
        sents, rows = [], []
        spans, cand = r.pop("spans"), r.pop("cand")
        for i, ((start, end, text), c) in enumerate(zip(spans, cand)):
            s = next(results) if c else SentenceResult(text=text, label="other", myth_probability=0.0, probabilities={})
            sents.append(s)
            if all_sentences or s.label != "other" or s.review:
                rows.append(
                    {
                        "article_id": r["article_id"],
                        "sentence": i,
                        "start": start,
                        "end": end,
                        "text": text,
                        "label": s.label,
                        "myth_probability": float(s.myth_probability),
                        "category": s.category,
                        "review": bool(s.review),
                        "filtered": not c,
                    }
                )
        sm = summarise(sents, scorer.taxonomy, confident=scorer.confident, page_stance=stances.get(f"{r['file_idx']}:{r['item_idx']}"))
        meta = r.pop("meta")
        url = meta.get("url")
        date = _first(meta, _DATE_KEYS)
        m = _YEAR.search(date or "")
        row = {
            "article_id": r["article_id"],
            "input": r["input"],
            "outlet": _first(meta, _OUTLET_KEYS) or outlet_of(url),
            "date": date,
            "date_source": meta.get("date_source") or "none",
            "year": int(m.group(1)) if m else None,
            "title": meta.get("title"),
            "url": url,
            "sentences": sm.sentences,
            "candidates": sum(cand),
            "myths": sm.myths,
            "accurate": sm.accurate,
            "review": sm.review,
            "myth_share": sm.myth_share,
            "categories": json.dumps(sm.categories, ensure_ascii=False),
            "verdict": sm.verdict,
            "assessment": sm.assessment,
            "confident_myths": sm.confident_myths,
            "stance": max(sm.page_stance, key=sm.page_stance.get) if sm.page_stance else None,
            "stance_probability": max(sm.page_stance.values()) if sm.page_stance else None,
            "topical": r["topical"],
            "chars": r["chars"],
            "text_hash": r["hash"],
            "warnings": "; ".join(r.pop("warnings")) or None,
            "file_idx": r["file_idx"],
            "item_idx": r["item_idx"],
        }
        fixed = {name for name, _ in ARTICLE_FIELDS}
        for k, v in meta.items():
            if k not in ("title", "url", "outlet", "date", "date_source"):
                row[f"meta_{k}" if k in fixed else k] = v
        r["article"], r["sentences"] = row, rows
    return records


def limit_threads(threads: int) -> None:
    """Keep N worker processes from each starting one math thread per core (oversubscription made
    --workers 2 slower than 1 with the MiniLM models). Call before the model is loaded."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    from ..models.encoder import set_threads

    set_threads(threads)


# --- deduplication ----------------------------------------------------------------------------------


class SeenHashes:
    """A set of 64-bit hashes in ~8 bytes each: a sorted numpy array plus a small recent set."""

    def __init__(self):
        import numpy as np

        self._np = np
        self._base = np.empty(0, dtype=np.uint64)
        self._recent: set[int] = set()

    def __contains__(self, h: str) -> bool:
        v = int(h[:16], 16)
        if v in self._recent:
            return True
        i = int(self._np.searchsorted(self._base, self._np.uint64(v)))
        return i < len(self._base) and int(self._base[i]) == v

    def add(self, h: str) -> bool:
        """True when the hash is new (and is now recorded)."""
        if h in self:
            return False
        self._recent.add(int(h[:16], 16))
        if len(self._recent) >= 100_000:
            self._base = self._np.union1d(self._base, self._np.fromiter(self._recent, dtype=self._np.uint64))
            self._recent.clear()
        return True


def raw_key(item: RawItem) -> str | None:
    """Hash of everything extraction reads (bytes, HTML flag, declared charset, and the URL for
    HTML): two items with one key give the same text, so a later one is a copy before extraction."""
    if item.error or item.skip or not item.data:
        return None
    h = hashlib.blake2b(item.data, digest_size=16)
    h.update(f"\0{item.html}\0{item.charset}\0{'' if item.html is False else item.url}".encode())
    return h.hexdigest()


def mark_duplicates(records: list[dict], seen: SeenHashes) -> None:
    """Articles whose text hash was seen earlier in the input become ``duplicate`` records, in input
    order, before classification: a syndicated copy costs its extraction only."""
    for r in records:
        if r["status"] == "article" and not seen.add(r["hash"]):
            for k in ("meta", "warnings", "spans", "cand"):
                r.pop(k, None)
            r["status"] = "duplicate"


# --- parts and manifest ------------------------------------------------------------------------------


def _arrow_schema(fields, extra: Iterable[str] = ()):
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    return pa.schema([pa.field(n, types[t]) for n, t in fields] + [pa.field(n, pa.string()) for n in extra])


PART_KINDS = ("articles.parquet", "sentences.parquet", "errors.jsonl")


def _unlink_with_temps(path: Path) -> None:
    """PATH and the temporary files mythscan writes beside it (`.NAME.tmp`, mkstemp's `.NAME.xxxxxxxx`)."""
    temp = re.compile(rf"\.{re.escape(path.name)}\.([a-z0-9_]{{8}}|tmp)")
    if path.parent.is_dir():
        for q in [path, *(q for q in path.parent.iterdir() if temp.fullmatch(q.name))]:
            if q.is_file() or q.is_symlink():
                q.unlink()


def _rmdir_if_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:  # missing, or not empty: someone else's files stay
        pass


class PartStore:
    """DIR/_parts/part-NNNNNN.{articles,sentences}.parquet and .errors.jsonl, each written atomically."""

    def __init__(self, out: Path):
        self.dir = Path(out) / PARTS

    def path(self, idx: int, kind: str) -> Path:
        return self.dir / f"part-{idx:06d}.{kind}"

    def write(self, idx: int, articles: list[dict], sentences: list[dict], errors: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        fixed = {n for n, _ in ARTICLE_FIELDS}
        extra = sorted({k for a in articles for k in a} - fixed)
        for kind, rows, schema in (
            ("articles.parquet", articles, _arrow_schema(ARTICLE_FIELDS, extra)),
            ("sentences.parquet", sentences, _arrow_schema(SENTENCE_FIELDS)),
        ):
            buf = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf, compression="zstd")
            atomic_write_bytes(self.path(idx, kind), buf.getvalue().to_pybytes())
        atomic_write_text(self.path(idx, "errors.jsonl"), "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))

    def remove(self, parts: list[dict]) -> None:
        """Delete these parts' files (and temporary files left by a kill while writing them); the
        directory goes too once empty. Nothing else in it is touched."""
        for p in parts:
            for kind in PART_KINDS:
                _unlink_with_temps(self.path(int(p["part"]), kind))
        _rmdir_if_empty(self.dir)

    def hashes(self, parts: list[dict]) -> Iterator[str]:
        import pyarrow.parquet as pq

        for p in parts:
            yield from pq.read_table(self.path(p["part"], "articles.parquet"), columns=["text_hash"]).column(0).to_pylist()


def part_rows(records: list[dict], seen: SeenHashes | None) -> tuple[list, list, list, dict]:
    """Articles, sentences and error rows of processed records in order; duplicates dropped and counted."""
    articles, sentences, errors = [], [], []
    stats = {"items": len(records), "articles": 0, "duplicates": 0, "errors": 0, "skipped": {}, "sentences": 0, "candidates": 0, "myths": 0}
    for r in records:
        if r["status"] == "error":
            errors.append(
                {"input": r["input"], "id": r["article_id"], "position": f"{r['file_idx']}:{r['item_idx']}", "reason": r["reason"]}
            )
        elif r["status"] == "skip":
            key = r["reason"]
            stats["skipped"][key] = stats["skipped"].get(key, 0) + 1
        elif r["status"] == "duplicate":
            stats["duplicates"] += 1
        elif seen is not None and not seen.add(r["article"]["text_hash"]):
            stats["duplicates"] += 1
        else:
            articles.append(r["article"])
            sentences += r["sentences"]
            for k in ("sentences", "candidates", "myths"):
                stats[k] += r["article"][k]
    stats["articles"], stats["errors"] = len(articles), len(errors)
    return articles, sentences, errors, stats


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_manifest(out: Path, manifest: dict) -> None:
    atomic_write_text(Path(out) / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def load_manifest(out: Path) -> dict | None:
    """DIR's mythscan manifest, None without one; a manifest.json that is not mythscan's is refused
    (it proves nothing about the files beside it, so mythscan neither continues nor deletes them)."""
    p = Path(out) / MANIFEST
    if not p.exists():
        return None
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        m, why = None, f"unreadable: {exc}"
    else:
        why = "no `tool` field"
    if not isinstance(m, dict) or m.get("tool") != TOOL or not isinstance(m.get("parts"), list):
        raise InputError(
            f"{p}: not a mythscan batch manifest ({why})",
            hint="choose another --out directory; mythscan neither continues nor deletes a run it cannot prove is its own",
        )
    return m


OUTPUT_NAMES = {"errors.jsonl", "summary.json", "report.html"} | {f"{t}.{f}" for t in ("sentences", "articles") for f in FORMATS}


def _foreign_entries(out: Path) -> list[Path]:
    """What is in DIR besides a stale lock file."""
    return [p for p in out.iterdir() if p.name != ".lock"]


def _clear(out: Path, manifest: dict) -> None:
    """Delete what the manifest proves is this run's: the output files it lists (only names mythscan
    writes), its parts, its Ray stage and the manifest; everything else in DIR stays."""
    files = manifest.get("files")
    if files is None:  # version 1 manifests did not list their files: the outputs of the last format written
        fmt = manifest.get("format")
        files = [f"{t}.{fmt}" for t in ("sentences", "articles")] + ["errors.jsonl", "summary.json", "report.html"] if fmt else []
    for name in files:
        if name in OUTPUT_NAMES:
            _unlink_with_temps(out / name)
    PartStore(out).remove(manifest["parts"])
    if (manifest.get("run") or {}).get("engine") == "ray":
        clear_stage(out / RAY_STAGE)
    _unlink_with_temps(out / MANIFEST)


def clear_stage(stage: Path) -> None:
    """Delete a Ray stage: the Parquet files Ray wrote and the stage marker, then empty directories."""
    if not stage.is_dir():
        return
    for q in sorted(stage.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if q.is_file() and (q.suffix == ".parquet" or q.name == "_DONE.json"):
            q.unlink()
        elif q.is_dir():
            _rmdir_if_empty(q)
    _rmdir_if_empty(stage)


def check_out(opts: "BatchOptions") -> None:
    """Refuse an --out that mythscan may not use before anything (directory, lock) is created there:
    a file, a path under a file, a non-empty directory without a mythscan manifest (even with
    --overwrite: only a manifest proves which files are mythscan's), nothing to --resume."""
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory", hint="give a directory for --out")
    blocker = next((q for q in out.parents if q.exists()), None) if not out.exists() else None
    if blocker is not None and not blocker.is_dir():
        raise InputError(f"{out}: cannot be created: {blocker} is not a directory", hint="give a directory for --out")
    if out.exists() and load_manifest(out) is not None:
        return
    if opts.resume:
        raise InputError(f"{out}: nothing to resume (no {MANIFEST})", hint="run without --resume")
    if out.exists() and _foreign_entries(out):
        raise InputError(
            f"{out}: is not empty and holds no mythscan batch run (no {MANIFEST})",
            hint="choose a new or empty directory; --overwrite replaces only a mythscan run's own files",
        )


def run_options(opts: BatchOptions, sources: list[Source]) -> dict:
    """Everything that decides the rows: a run continues only when all of it is unchanged."""
    from ..models import resolve_model_path

    mpath = resolve_model_path(opts.model)
    config = (mpath / "config.json").read_bytes()
    from ..models import Decision

    decision = Decision(**{k: v for k, v in json.loads(config).get("decision", {}).items() if k in Decision.__dataclass_fields__})
    if opts.precision not in ("balanced", "high"):
        raise InputError(f"unknown precision {opts.precision!r}", hint="choose balanced or high")
    threshold = opts.threshold if opts.threshold is not None else (decision.confident() if opts.precision == "high" else decision.threshold)
    return {
        "inputs": fingerprint(sources),
        "n_inputs": len(sources),
        "model": str(mpath.resolve()),
        "model_config": hashlib.sha256(config).hexdigest()[:16],
        "threshold": float(threshold),
        "prefilter": opts.prefilter,
        "dedup": opts.dedup,
        "all_sentences": opts.all_sentences,
        "text_column": opts.text_column,
        "id_column": opts.id_column,
        "chunk_size": opts.chunk_size,
        "engine": opts.engine,
    }


def prepare_output(opts: BatchOptions, run: dict) -> dict:
    """The manifest to continue (same run), or a fresh one; refuses other runs' results."""
    out = Path(opts.out)
    check_out(opts)  # again, under the lock
    old = load_manifest(out)
    if opts.overwrite and old is not None:
        _clear(out, old)
        old = None
    elif old is not None and old.get("run") != run:
        prev = old.get("run") or {}
        diff = [k for k in sorted(set(run) | set(prev)) if run.get(k) != prev.get(k)]
        raise InputError(
            f"{out}: holds results of a different run (differs in: {', '.join(diff)})",
            hint="use --overwrite to replace them, or choose another --out directory",
        )
    if old is not None:
        return old
    manifest = {
        "version": MANIFEST_VERSION,
        "tool": TOOL,
        "run": run,
        "inputs": list(opts.inputs),
        "started": _now(),
        "parts": [],
        "files": [],
        "seconds": 0.0,
        "complete": False,
    }
    write_manifest(out, manifest)
    return manifest


def _lock(out: Path):
    """DIR/.lock while a batch writes there (removed afterwards); a second batch on DIR stops at once."""
    from ..fileio import file_lock

    return file_lock(
        Path(out) / ".lock",
        timeout=0,
        busy=lambda: InputError(f"{out}: another mythscan batch is writing to this directory", hint="wait for it, or use another --out"),
    )


def commit_part(
    out: Path, manifest: dict, store: PartStore, articles, sentences, errors, stats: dict, *, start, end, elapsed: float
) -> dict:
    idx = len(manifest["parts"])
    store.write(idx, articles, sentences, errors)
    entry = {"part": idx, "start": list(start), "end": list(end), **stats, "seconds": round(elapsed, 3), "written": _now()}
    manifest["parts"].append(entry)
    manifest["seconds"] = round(manifest.get("seconds", 0.0) + elapsed, 3)
    write_manifest(out, manifest)
    return entry


def options_dict(opts: BatchOptions) -> dict:
    d = asdict(opts)
    d.pop("progress", None)
    d.pop("log", None)
    d["out"] = str(opts.out)
    return d
